import dataclasses

from cryptography.fernet import Fernet

from keys import service
from keys.models import ACTIVE, NEXT


def keys_by_state(app):
    with app.app_context():
        return {key.state: key.kid for key in service.list_keys() if key.state in (ACTIVE, NEXT)}


def test_ensure_creates_the_keys_once(app, runner):
    result = runner.invoke(args=["keys", "ensure"])

    assert result.exit_code == 0, result.output
    current = keys_by_state(app)
    assert f"Created active key {current[ACTIVE]}" in result.output
    assert f"Created next key {current[NEXT]}" in result.output

    again = runner.invoke(args=["keys", "ensure"])
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output
    assert keys_by_state(app) == current


def test_ensure_refuses_a_wrong_encryption_key(app, runner, monkeypatch):
    runner.invoke(args=["keys", "ensure"])
    wrong = dataclasses.replace(app.config["SETTINGS"], KEY_ENCRYPTION_KEY=Fernet.generate_key().decode())
    monkeypatch.setitem(app.config, "SETTINGS", wrong)

    result = runner.invoke(args=["keys", "ensure"])

    assert result.exit_code == 1
    assert "KEY_ENCRYPTION_KEY" in result.output
    assert "Traceback" not in result.output


def test_list_shows_each_key_with_its_state_and_dates(app, runner):
    assert "No keys yet" in runner.invoke(args=["keys", "list"]).output
    runner.invoke(args=["keys", "ensure"])
    runner.invoke(args=["keys", "rotate"])

    result = runner.invoke(args=["keys", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["KID", "STATE", "CREATED", "ACTIVATED", "RETIRED"]
    with app.app_context():
        stored = service.list_keys()
    assert [line.split()[:2] for line in lines[1:]] == [[key.kid, key.state] for key in stored]
    assert [key.state for key in stored] == ["active", "next", "retired"]
    assert "UTC" in lines[1]


def test_rotate_prints_the_new_active_and_next_kids(app, runner):
    runner.invoke(args=["keys", "ensure"])
    before = keys_by_state(app)

    result = runner.invoke(args=["keys", "rotate"])

    assert result.exit_code == 0, result.output
    after = keys_by_state(app)
    assert after[ACTIVE] == before[NEXT]
    assert f"New active key: {after[ACTIVE]}" in result.output
    assert f"New next key:   {after[NEXT]}" in result.output
    assert before[ACTIVE] in result.output
