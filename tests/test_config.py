from __future__ import annotations


import pytest

from did_service.config import DEV_SECRET_KEY, Settings
from did_service.errors import ConfigurationError


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.instance_dir == tmp_path / "instance"
    assert settings.store_url == f"sqlite:///{tmp_path / 'instance' / 'did_service.db'}"
    assert settings.public_url == "http://127.0.0.1:5000"
    assert settings.kek_file == tmp_path / "instance" / "kek.key"
    assert settings.max_body_bytes == 1024 * 1024
    assert (settings.schemas_dir / "credentials").is_dir()
    assert settings.templates_dir.is_dir()
    with pytest.raises(AttributeError):
        settings.env = "production"  # type: ignore[misc]


def test_environment_overrides(tmp_path):
    settings = Settings.from_env(
        {
            "DID_SERVICE_INSTANCE_DIR": str(tmp_path),
            "DID_SERVICE_STORE_URL": "redis://127.0.0.1:6379/3",
            "DID_SERVICE_PUBLIC_URL": "https://id.jeju.example/",
            "DID_SERVICE_MAX_BODY_BYTES": "4096",
            "DID_SERVICE_DEFAULT_ALG": "ES256",
        }
    )
    assert settings.store_url == "redis://127.0.0.1:6379/3"
    assert settings.public_url == "https://id.jeju.example"
    assert settings.max_body_bytes == 4096 and settings.default_alg == "ES256"


@pytest.mark.parametrize(
    "environ",
    [
        {"DID_SERVICE_ENV": "staging"},
        {"DID_SERVICE_PUBLIC_URL": "ftp://x"},
        {"DID_SERVICE_PUBLIC_URL": "https://example.com/issuer"},
        {"DID_SERVICE_MAX_BODY_BYTES": "lots"},
        {"DID_SERVICE_MAX_BODY_BYTES": "10"},
        {"DID_SERVICE_DEFAULT_ALG": "none"},
    ],
)
def test_invalid_settings_are_refused(environ):
    with pytest.raises(ConfigurationError):
        Settings.from_env(environ)


def test_production_problems(tmp_path):
    base = {"DID_SERVICE_ENV": "production", "DID_SERVICE_INSTANCE_DIR": str(tmp_path)}
    problems = Settings.from_env(base).production_problems()
    assert len(problems) == 3
    good = Settings.from_env(
        base | {"DID_SERVICE_SECRET_KEY": "s" * 40, "DID_SERVICE_KEK": "A" * 43, "DID_SERVICE_PUBLIC_URL": "https://id.example"}
    )
    assert good.production_problems() == []
    assert Settings.from_env(base | {"DID_SERVICE_SECRET_KEY": DEV_SECRET_KEY}).production_problems()[0].startswith("DID_SERVICE_SECRET_KEY")


def test_kek_value_is_not_in_repr():
    settings = Settings.from_env({"DID_SERVICE_KEK": "secret-kek-value"})
    assert "secret-kek-value" not in repr(settings)
