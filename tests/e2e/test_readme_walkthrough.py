"""The README's walkthrough, run as written against a real `did-service serve` (gunicorn, SQLite)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from tests.support import TESTS_DIR, free_port
from tests.e2e.conftest import DID_SERVICE

README = TESTS_DIR.parent / "README.md"


def walkthrough_script(port: int, heading: str = "## A 5-minute walkthrough", min_blocks: int = 5) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= min_blocks, "the walkthrough lost its shell blocks"
    script = "\n".join(re.sub(r"^   ", "", block, flags=re.M) for block in blocks)
    return (
        script.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        .replace(".venv/bin/did-service", DID_SERVICE)
        .replace("tests/fixtures/", f"{TESTS_DIR}/fixtures/")
    )


@pytest.mark.skipif(shutil.which("curl") is None and os.environ.get("CI") != "true", reason="curl is not installed")
def test_walkthrough_runs_as_written(served):
    port, env, workdir = served
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough_script(port)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    verified = re.findall(r'"verified":\s*(true|false)', out)
    # curl verify (true), curl verify of the tampered copy (false), CLI verify (true), CLI verify tampered (false),
    # curl verify after revocation (false), then the log receipt of the issued credential (true)
    assert verified == ["true", "false", "true", "false", "false", "true"], out + result.stderr
    assert '"code":"revoked"' in out.replace(" ", "")
    assert '"ok": true' in out  # the log audit
    assert '"invalid_signature"' in out
    assert "VERIFIED" in out and "NOT VERIFIED (exit 1)" in out
    assert '"id":"did:web:127.0.0.1%3A' in out.replace(" ", "")
    token_file_leak = list(workdir.rglob("*.key"))
    assert all(p.stat().st_mode & 0o077 == 0 for p in token_file_leak)


@pytest.mark.skipif(shutil.which("curl") is None and os.environ.get("CI") != "true", reason="curl is not installed")
def test_selective_disclosure_walkthrough_runs_as_written(served):
    port, env, workdir = served
    script = walkthrough_script(port, "## Showing only what a bank may see", min_blocks=4)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = re.sub(r"\s", "", result.stdout)
    # the bank's presentation (true), its replay with another nonce (false), the diploma from the CLI and over HTTP
    assert re.findall(r'^\{"verified":(true|false),"checks"', result.stdout, flags=re.M) == ["true", "false", "true"]
    assert '"code":"kb_nonce_mismatch"' in out
    assert "VERIFIED" in out and '{"id":"anchored","status":"passed"}' in out
    disclosed = re.search(r'"credentialSubject":(\{[^}]*\})', out).group(1)
    presentation_result = result.stdout.splitlines()[0]
    assert '"birthDate":"1990-01-01"' in disclosed and "residentRegistrationNumber" not in presentation_result
    assert '"sd":"always"' in out
    assert (workdir / "holder.jwk").stat().st_mode & 0o077 == 0


@pytest.mark.skipif(shutil.which("curl") is None and os.environ.get("CI") != "true", reason="curl is not installed")
def test_bank_walkthrough_runs_as_written(served):
    port, env, workdir = served
    # The bank section continues from the selective-disclosure one (its credential and holder key).
    script = (walkthrough_script(port, "## Showing only what a bank may see", min_blocks=4) + "\n"
              + walkthrough_script(port, "## Opening a bank account remotely", min_blocks=4))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Jeju Bank asks for: familyName, givenName, birthDate, residentRegistrationNumber" in result.stderr
    assert (workdir / "qr.png").read_bytes().startswith(b"\x89PNG")
    decided = json.loads(result.stdout.strip().splitlines()[-1])
    assert decided["status"] == "decided" and decided["decision"]["approved"] is True, decided
    assert decided["decision"]["methods"] == ["did_presentation", "video_call"]
    assert decided["decision"]["returnedClaims"]["residentRegistrationNumber"] == "900101-1234567"


def test_production_refuses_default_secrets(tmp_path):
    env = {**os.environ, "DID_SERVICE_ENV": "production", "DID_SERVICE_INSTANCE_DIR": str(tmp_path / "i")}
    for name in ("DID_SERVICE_SECRET_KEY", "DID_SERVICE_KEK", "DID_SERVICE_PUBLIC_URL"):
        env.pop(name, None)
    result = subprocess.run([DID_SERVICE, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "DID_SERVICE_SECRET_KEY" in result.stderr
    assert "key-encryption key" in result.stderr
    assert not (tmp_path / "i" / "kek.key").exists()
