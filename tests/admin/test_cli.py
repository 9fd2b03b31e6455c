"""`flask admin ...` and `flask platform add --preset ...`."""

from __future__ import annotations

from sqlalchemy import select

from lti_tool import registry
from lti_tool.admin import service
from lti_tool.admin.models import AdminAuditLog, AdminUser
from lti_tool.db import db
from lti_tool.models import Platform


def test_create_an_admin_with_the_password_asked_twice(app, runner):
    result = runner.invoke(args=["admin", "create", "--email", "Ops@Example.edu"],
                           input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    assert "Created admin ops@example.edu" in result.output
    with app.app_context():
        admin = db.session.scalar(select(AdminUser))
        assert admin.email == "ops@example.edu" and admin.password_hash.startswith("$argon2id$")
        assert service.authenticate("ops@example.edu", "a long enough password") is not None
        assert db.session.scalar(select(AdminAuditLog)).action == "admin.created"


def test_mismatched_passwords_are_asked_again(app, runner):
    result = runner.invoke(
        args=["admin", "create", "--email", "ops@example.edu"],
        input="a long enough password\nsomething else entirely\na long enough password\na long enough password\n",
    )
    assert result.exit_code == 0
    assert "do not match" in result.output.lower() or "match" in result.output.lower()


def test_create_an_admin_from_stdin(app, runner):
    result = runner.invoke(args=["admin", "create", "--email", "ops@example.edu", "--password-stdin"],
                           input="from a script, long\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert service.authenticate("ops@example.edu", "from a script, long") is not None


def test_bad_admin_input_is_refused(app, runner):
    short = runner.invoke(args=["admin", "create", "--email", "ops@example.edu", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    bad_email = runner.invoke(args=["admin", "create", "--email", "nope", "--password-stdin"], input="long enough password\n")
    assert bad_email.exit_code != 0 and "not an email address" in bad_email.output
    runner.invoke(args=["admin", "create", "--email", "ops@example.edu", "--password-stdin"], input="long enough password\n")
    twice = runner.invoke(args=["admin", "create", "--email", "OPS@example.edu", "--password-stdin"], input="long enough password\n")
    assert twice.exit_code != 0 and "already exists" in twice.output
    with app.app_context():
        assert len(service.list_admins()) == 1


def test_set_password_and_list(app, runner):
    runner.invoke(args=["admin", "create", "--email", "ops@example.edu", "--password-stdin"], input="first password ok\n")
    changed = runner.invoke(args=["admin", "set-password", "--email", "ops@example.edu", "--password-stdin"],
                            input="second password ok\n")
    assert changed.exit_code == 0, changed.output
    missing = runner.invoke(args=["admin", "set-password", "--email", "who@example.edu", "--password-stdin"],
                            input="second password ok\n")
    assert missing.exit_code != 0 and "no admin account" in missing.output
    listing = runner.invoke(args=["admin", "list"])
    assert "ops@example.edu\tactive\tlast sign-in: never" in listing.output
    with app.app_context():
        assert service.authenticate("ops@example.edu", "first password ok") is None
        assert service.authenticate("ops@example.edu", "second password ok") is not None


def test_platform_add_with_a_preset(app, runner):
    result = runner.invoke(args=["platform", "add", "--preset", "moodle", "--site-url", "https://moodle.example.edu/",
                                 "--client-id", "abc", "--deployment-id", "1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert platform.issuer == "https://moodle.example.edu"
        assert platform.token_url == "https://moodle.example.edu/mod/lti/token.php"
        assert platform.product_family_code == "moodle"


def test_platform_add_with_a_canvas_preset_and_an_explicit_override(app, runner):
    result = runner.invoke(args=["platform", "add", "--preset", "canvas", "--site-url", "https://school.instructure.com",
                                 "--client-id", "10000000000001", "--deployment-id", "42:abc",
                                 "--jwks-url", "https://canvas.instructure.com/api/lti/security/jwks"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        platform = registry.find_client("https://canvas.instructure.com", "10000000000001").platform
        assert platform.token_url == "https://school.instructure.com/login/oauth2/token"
        assert platform.jwks_url == "https://canvas.instructure.com/api/lti/security/jwks"


def test_platform_add_still_takes_every_url(app, runner):
    result = runner.invoke(args=["platform", "add", "--issuer", "https://lms.example.edu", "--client-id", "c",
                                 "--auth-url", "https://lms.example.edu/a", "--token-url", "https://lms.example.edu/t",
                                 "--jwks-url", "https://lms.example.edu/j", "--deployment-id", "d"])
    assert result.exit_code == 0, result.output


def test_platform_add_says_what_is_missing(app, runner):
    no_urls = runner.invoke(args=["platform", "add", "--issuer", "https://lms.example.edu", "--client-id", "c",
                                  "--deployment-id", "d"])
    assert no_urls.exit_code != 0 and "--auth-url, --token-url" in no_urls.output
    no_site = runner.invoke(args=["platform", "add", "--preset", "moodle", "--client-id", "c", "--deployment-id", "d"])
    assert no_site.exit_code != 0 and "--preset needs --site-url" in no_site.output
    bad_site = runner.invoke(args=["platform", "add", "--preset", "moodle", "--site-url", "http://moodle.example.edu",
                                   "--client-id", "c", "--deployment-id", "d"])
    assert bad_site.exit_code != 0 and "must use https://" in bad_site.output
    with app.app_context():
        assert db.session.scalar(select(Platform)) is None
