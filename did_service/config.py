"""Settings: one frozen object, read once from DID_SERVICE_* environment variables.

The server, the CLI and the tests all build their Settings here, so a command sees exactly what the server
sees. Paths to the top-level ``schemas/`` and ``templates/`` folders are resolved here too, for a source
checkout and for an installed wheel alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from did_service.errors import ConfigurationError

DEV_SECRET_KEY = "dev-insecure-secret-key"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
ENVIRONMENTS = ("development", "production")

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    # An installed wheel carries the folder inside the package; a source checkout has it beside the package.
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"the {name}/ folder was not found next to the did_service package")


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    instance_dir: Path = Path("instance")
    store_url: str = ""
    public_url: str = DEFAULT_PUBLIC_URL
    secret_key: str = DEV_SECRET_KEY
    # The key-encryption key: DID_SERVICE_KEK (base64url, 32 bytes) wins over the file.
    kek_b64: str | None = field(default=None, repr=False)
    kek_file: Path = Path("instance/kek.key")
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    default_alg: str = "EdDSA"
    status_list_size: int = 131072
    status_max_age: int = 300
    # Verifier (OpenID4VP): how long a wallet has to answer, how long the bank may fetch the claims it was shown,
    # how long decision records are kept, each key's requests per minute, and the account-opening adult age.
    verifier_request_ttl: int = 300
    verifier_claims_ttl: int = 600
    verifier_retention_days: int = 30
    verifier_rate_limit: int = 600
    adult_age: int = 19
    # The verification methods that count towards account opening's two; empty: the policy's own list.
    account_opening_methods: tuple[str, ...] = ()
    # Resident portal sessions: ended after this many seconds without use, and this many after login whatever.
    session_idle: int = 1800
    session_max: int = 43200
    schemas_dir: Path = field(default_factory=lambda: _resource_dir("schemas"))
    templates_dir: Path = field(default_factory=lambda: _resource_dir("templates"))

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env_vars = os.environ if environ is None else environ
        get = env_vars.get
        instance_dir = Path(get("DID_SERVICE_INSTANCE_DIR", "instance")).expanduser().absolute()
        values: dict[str, object] = {
            "env": get("DID_SERVICE_ENV", "development"),
            "instance_dir": instance_dir,
            "store_url": get("DID_SERVICE_STORE_URL") or f"sqlite:///{instance_dir / 'did_service.db'}",
            "public_url": get("DID_SERVICE_PUBLIC_URL", DEFAULT_PUBLIC_URL).rstrip("/"),
            "secret_key": get("DID_SERVICE_SECRET_KEY", DEV_SECRET_KEY),
            "kek_b64": get("DID_SERVICE_KEK") or None,
            "kek_file": Path(get("DID_SERVICE_KEK_FILE") or instance_dir / "kek.key").expanduser().absolute(),
            "max_body_bytes": _int(get("DID_SERVICE_MAX_BODY_BYTES"), DEFAULT_MAX_BODY_BYTES, "DID_SERVICE_MAX_BODY_BYTES"),
            "default_alg": get("DID_SERVICE_DEFAULT_ALG", "EdDSA"),
            "status_list_size": _int(get("DID_SERVICE_STATUS_LIST_SIZE"), 131072, "DID_SERVICE_STATUS_LIST_SIZE"),
            "status_max_age": _int(get("DID_SERVICE_STATUS_MAX_AGE"), 300, "DID_SERVICE_STATUS_MAX_AGE"),
            "verifier_request_ttl": _int(get("DID_SERVICE_VERIFIER_REQUEST_TTL"), 300, "DID_SERVICE_VERIFIER_REQUEST_TTL"),
            "verifier_claims_ttl": _int(get("DID_SERVICE_VERIFIER_CLAIMS_TTL"), 600, "DID_SERVICE_VERIFIER_CLAIMS_TTL"),
            "verifier_retention_days": _int(get("DID_SERVICE_VERIFIER_RETENTION_DAYS"), 30,
                                            "DID_SERVICE_VERIFIER_RETENTION_DAYS"),
            "verifier_rate_limit": _int(get("DID_SERVICE_VERIFIER_RATE_LIMIT"), 600, "DID_SERVICE_VERIFIER_RATE_LIMIT"),
            "adult_age": _int(get("DID_SERVICE_ADULT_AGE"), 19, "DID_SERVICE_ADULT_AGE"),
            "session_idle": _int(get("DID_SERVICE_SESSION_IDLE"), 1800, "DID_SERVICE_SESSION_IDLE"),
            "session_max": _int(get("DID_SERVICE_SESSION_MAX"), 43200, "DID_SERVICE_SESSION_MAX"),
            "account_opening_methods": tuple(
                m.strip() for m in get("DID_SERVICE_ACCOUNT_OPENING_METHODS", "").split(",") if m.strip()),
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigurationError(f"DID_SERVICE_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.default_alg not in ("EdDSA", "ES256"):
            raise ConfigurationError("DID_SERVICE_DEFAULT_ALG must be EdDSA or ES256")
        if self.status_list_size < 131072 or self.status_list_size % 8:
            raise ConfigurationError("DID_SERVICE_STATUS_LIST_SIZE must be a multiple of 8 and at least 131072 (the spec minimum)")
        if not 0 <= self.status_max_age <= 86400:
            raise ConfigurationError("DID_SERVICE_STATUS_MAX_AGE must be between 0 and 86400 seconds")
        if not 30 <= self.verifier_request_ttl <= 3600:
            raise ConfigurationError("DID_SERVICE_VERIFIER_REQUEST_TTL must be between 30 and 3600 seconds")
        if not 0 <= self.verifier_claims_ttl <= 86400:
            raise ConfigurationError("DID_SERVICE_VERIFIER_CLAIMS_TTL must be between 0 and 86400 seconds")
        if not 1 <= self.verifier_retention_days <= 3650:
            raise ConfigurationError("DID_SERVICE_VERIFIER_RETENTION_DAYS must be between 1 and 3650")
        if not 1 <= self.verifier_rate_limit <= 1_000_000:
            raise ConfigurationError("DID_SERVICE_VERIFIER_RATE_LIMIT must be between 1 and 1000000 per minute")
        if not 1 <= self.adult_age <= 149:
            raise ConfigurationError("DID_SERVICE_ADULT_AGE must be between 1 and 149")
        if not 60 <= self.session_idle <= 86400:
            raise ConfigurationError("DID_SERVICE_SESSION_IDLE must be between 60 and 86400 seconds")
        if not self.session_idle <= self.session_max <= 30 * 86400:
            raise ConfigurationError(
                "DID_SERVICE_SESSION_MAX must be at least DID_SERVICE_SESSION_IDLE and at most 2592000 seconds (30 days)")
        if self.max_body_bytes < 1024:
            raise ConfigurationError("DID_SERVICE_MAX_BODY_BYTES must be at least 1024")
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("DID_SERVICE_PUBLIC_URL must be an http(s) URL with a host")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            # The DID document is served at /.well-known/did.json, which a path-prefixed did:web would not find.
            raise ConfigurationError("DID_SERVICE_PUBLIC_URL must be an origin only (no path, query or user)")

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve in production; empty when it may."""
        problems = []
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("DID_SERVICE_SECRET_KEY is missing, the development default, or shorter than 32 characters")
        if self.kek_b64 is None and not self.kek_file.exists():
            problems.append("no key-encryption key: set DID_SERVICE_KEK or create DID_SERVICE_KEK_FILE with `did-service init`")
        if urlsplit(self.public_url).scheme != "https":
            problems.append("DID_SERVICE_PUBLIC_URL must be https in production (did:web resolves over HTTPS only)")
        return problems


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer") from exc
