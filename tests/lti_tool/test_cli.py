from sqlalchemy import func, select

from lti_tool.db import db
from lti_tool.models import LaunchLog, Platform

ADD = [
    "platform", "add",
    "--issuer", "https://moodle.example.edu",
    "--client-id", "abc",
    "--auth-url", "https://moodle.example.edu/mod/lti/auth.php",
    "--token-url", "https://moodle.example.edu/mod/lti/token.php",
    "--jwks-url", "https://moodle.example.edu/mod/lti/certs.php",
    "--deployment-id", "1",
    "--deployment-id", "2",
]


def platforms(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Platform))


def test_add_list_show_remove(app, runner):
    result = runner.invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert "client id  abc  deployments: 1, 2" in result.output

    listing = runner.invoke(args=["platform", "list"])
    assert "https://moodle.example.edu" in listing.output and "client ids: abc" in listing.output

    shown = runner.invoke(args=["platform", "show", "https://moodle.example.edu"])
    assert shown.exit_code == 0 and "token URL  https://moodle.example.edu/mod/lti/token.php" in shown.output

    added = runner.invoke(args=["platform", "deployment-add", "https://moodle.example.edu", "--deployment-id", "3"])
    assert added.exit_code == 0, added.output
    assert "deployments: 1, 2, 3" in runner.invoke(args=["platform", "show", "https://moodle.example.edu"]).output

    client = runner.invoke(args=["platform", "client-add", "https://moodle.example.edu", "--client-id", "xyz", "--deployment-id", "9"])
    assert client.exit_code == 0, client.output
    assert "client id  xyz  deployments: 9" in runner.invoke(args=["platform", "show", "https://moodle.example.edu"]).output

    removed = runner.invoke(args=["platform", "remove", "https://moodle.example.edu", "--yes"])
    assert removed.exit_code == 0 and "Removed platform" in removed.output
    assert platforms(app) == 0


def test_add_refuses_bad_urls_and_says_which(app, runner):
    args = list(ADD)
    args[args.index("--token-url") + 1] = "http://moodle.example.edu/token.php"
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert "token URL 'http://moodle.example.edu/token.php' must use https://" in result.output
    assert platforms(app) == 0


def test_add_needs_a_deployment(runner):
    args = ADD[: ADD.index("--deployment-id")]
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and "--deployment-id" in result.output


def test_show_unknown_platform(runner):
    result = runner.invoke(args=["platform", "show", "https://nowhere.example.edu"])
    assert result.exit_code != 0 and "no platform with issuer" in result.output


def test_deployment_add_duplicate(runner):
    runner.invoke(args=ADD)
    result = runner.invoke(args=["platform", "deployment-add", "https://moodle.example.edu", "--deployment-id", "1"])
    assert result.exit_code != 0 and "already registered" in result.output


def test_remove_asks_first(app, runner):
    runner.invoke(args=ADD)
    result = runner.invoke(args=["platform", "remove", "https://moodle.example.edu"], input="n\n")
    assert result.exit_code != 0
    assert platforms(app) == 1


def test_launches_recent(app, runner):
    assert "No launches recorded yet" in runner.invoke(args=["launches", "recent"]).output
    with app.app_context():
        db.session.add(LaunchLog(stage="launch", outcome="rejected", reason="expired", issuer="https://x.example.edu", detail="The id_token has expired"))
        db.session.add(LaunchLog(stage="launch", outcome="accepted", issuer="https://x.example.edu", user_sub="u1"))
        db.session.commit()
    output = runner.invoke(args=["launches", "recent"]).output
    assert "rejected (expired)" in output and "The id_token has expired" in output and "user=u1" in output
    only_rejected = runner.invoke(args=["launches", "recent", "--rejected"]).output
    assert "user=u1" not in only_rejected
