"""The baseline every figure is a ratio to: a bare Flask app returning a constant, served by the
same gunicorn configuration and driven by the same load generator as the tool."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"
