from lti_tool.app import create_app

app = create_app()
