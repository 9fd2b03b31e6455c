import json

import pytest
from cryptography.fernet import Fernet

from config import SettingsError, load_settings


def test_embedded_defaults_need_no_setup(tmp_path):
    settings = load_settings({}, {"INSTANCE_PATH": str(tmp_path)})
    assert settings.TOOL_ENV == "development"
    assert settings.DATABASE_URL == f"sqlite:///{tmp_path / 'tool.sqlite3'}"
    assert settings.MEDIA_DIR == str(tmp_path / "media")
    assert settings.embedded_queue and settings.DEV_PLATFORM
    # Development secrets are generated once and kept.
    stored = json.loads((tmp_path / "dev-secrets.json").read_text())
    assert stored["SECRET_KEY"] == settings.SECRET_KEY
    assert load_settings({}, {"INSTANCE_PATH": str(tmp_path)}).KEY_ENCRYPTION_KEY == settings.KEY_ENCRYPTION_KEY


def test_environment_values_are_typed(tmp_path):
    settings = load_settings(
        {"LAUNCH_LEEWAY_SECONDS": "15", "DEV_PLATFORM": "off", "HTTP_TIMEOUT_SECONDS": "2.5", "INSTANCE_PATH": str(tmp_path)}
    )
    assert settings.LAUNCH_LEEWAY_SECONDS == 15 and settings.DEV_PLATFORM is False
    assert settings.HTTP_TIMEOUT_SECONDS == 2.5


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LAUNCH_LEEWAY_SECONDS": "soon"}, "LAUNCH_LEEWAY_SECONDS='soon' is not a valid int"),
        ({"DEV_PLATFORM": "maybe"}, "DEV_PLATFORM='maybe' is not a valid bool"),
        ({"TOOL_ENV": "staging"}, "TOOL_ENV must be one of"),
        ({"KEY_ENCRYPTION_KEY": "short"}, "KEY_ENCRYPTION_KEY must be a Fernet key"),
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be"),
        ({"LAUNCH_LEEWAY_SECONDS": "-1"}, "between 0 and 600"),
    ],
)
def test_bad_values_are_refused_with_the_reason(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings({**env, "INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_to_start_without_secrets_and_says_which(tmp_path):
    with pytest.raises(SettingsError) as error:
        load_settings({"TOOL_ENV": "production", "SECRET_KEY": "x" * 40, "INSTANCE_PATH": str(tmp_path)})
    assert "KEY_ENCRYPTION_KEY, DATABASE_URL" in str(error.value)
    assert "SECRET_KEY" not in str(error.value).split("without")[1].split(":")[0]
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_with_everything_set_disables_the_dev_platform(tmp_path):
    settings = load_settings(
        {
            "TOOL_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": "postgresql://tool@db/tool",
            "DEV_PLATFORM": "1",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    assert settings.is_production and settings.DEV_PLATFORM is False
