"""Helpers shared by tests: settings in a temporary instance, sample subjects, request bodies."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from did_service.config import Settings

TESTS_DIR = Path(__file__).resolve().parent
SUBJECTS_DIR = TESTS_DIR / "fixtures" / "subjects"
VECTORS_DIR = TESTS_DIR / "vectors"
CREDENTIAL_TYPES = sorted(p.stem for p in SUBJECTS_DIR.glob("*.json"))


def make_settings(instance: Path, **overrides: Any) -> Settings:
    environ = {"DID_SERVICE_INSTANCE_DIR": str(instance)}
    return Settings.from_env(environ, **overrides)


def load_subject(credential_type: str = "ResidentIdentityCredential") -> dict[str, Any]:
    return json.loads((SUBJECTS_DIR / f"{credential_type}.json").read_text(encoding="utf-8"))


def issue_body(credential_type: str = "ResidentIdentityCredential", subject: dict | None = None, **options: Any) -> dict:
    return {
        "credential": {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", credential_type],
            "credentialSubject": subject if subject is not None else load_subject(credential_type),
        },
        "options": options,
    }


def jwt_of(enveloped: dict) -> str:
    prefix = "data:application/vc+jwt,"
    assert enveloped["id"].startswith(prefix)
    return enveloped["id"][len(prefix):]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
