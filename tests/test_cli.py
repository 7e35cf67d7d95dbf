"""The did-service command, run as a user would (a subprocess with DID_SERVICE_* settings)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import SUBJECTS_DIR

DID_SERVICE = str(Path(sys.executable).with_name("did-service"))


@pytest.fixture
def run(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_SERVICE_")}
    env["DID_SERVICE_INSTANCE_DIR"] = str(tmp_path / "instance")

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([DID_SERVICE, *args], env=env, input=stdin, capture_output=True, text=True, cwd=tmp_path, timeout=60)

    return _run


@pytest.fixture
def initialized(run):
    assert run("init").returncode == 0
    return run


def test_commands_other_than_init_do_not_create_an_instance(run, tmp_path):
    for args in (["verify", "-"], ["did", "show"], ["token", "list"]):
        result = run(*args, stdin="x")
        assert result.returncode == 2
        assert "did-service init" in result.stderr
    assert not (tmp_path / "instance").exists()


def test_production_init_creates_the_kek(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_SERVICE_")}
    env |= {"DID_SERVICE_ENV": "production", "DID_SERVICE_INSTANCE_DIR": str(tmp_path / "prod")}
    result = subprocess.run([DID_SERVICE, "init"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "prod" / "kek.key").stat().st_mode & 0o777 == 0o600


def test_help_lists_every_command(run):
    out = run("--help").stdout
    for command in ("init", "serve", "issue", "verify", "token", "did"):
        assert command in out


def test_init_issue_verify(run, tmp_path):
    init = run("init")
    assert init.returncode == 0, init.stderr
    assert "issuer DID: did:web:127.0.0.1%3A5000" in init.stdout
    assert (tmp_path / "instance" / "kek.key").stat().st_mode & 0o777 == 0o600

    issued = run("issue", "--type", "ResidentIdentityCredential", "--subject", str(SUBJECTS_DIR / "ResidentIdentityCredential.json"))
    assert issued.returncode == 0, issued.stderr
    jwt = issued.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", jwt)
    (tmp_path / "vc.jwt").write_text(jwt + "\n")

    verified = run("verify", "vc.jwt")
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["verified"] is True
    assert run("verify", "-", stdin=jwt).returncode == 0
    enveloped = {"verifiableCredential": {"type": "EnvelopedVerifiableCredential", "id": f"data:application/vc+jwt,{jwt}"}}
    assert run("verify", "-", stdin=json.dumps(enveloped)).returncode == 0

    header, payload, signature = jwt.split(".")
    tampered = run("verify", "-", stdin=f"{header}.{payload}.{signature[:-4]}AAAA")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout)["verified"] is False


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_issue_every_type_with_each_alg(initialized, alg):
    run = initialized
    for subject in sorted(SUBJECTS_DIR.glob("*.json")):
        result = run("issue", "--type", subject.stem, "--subject", str(subject), "--alg", alg)
        assert result.returncode == 0, result.stderr
        assert run("verify", "-", stdin=result.stdout).returncode == 0


def test_issue_errors_exit_2_without_echoing_personal_data(initialized, tmp_path):
    run = initialized
    subject = json.loads((SUBJECTS_DIR / "ResidentIdentityCredential.json").read_text())
    subject["residentRegistrationNumber"] = "900101-9999999"
    (tmp_path / "bad.json").write_text(json.dumps(subject, ensure_ascii=False))
    result = run("issue", "--type", "ResidentIdentityCredential", "--subject", "bad.json")
    assert result.returncode == 2
    assert "schema_violation" in result.stderr
    assert "900101-9999999" not in result.stderr + result.stdout
    assert run("issue", "--type", "NoSuchCredential", "--subject", "bad.json").returncode == 2
    (tmp_path / "broken.json").write_text('{"a": 1, "a": 2}')
    assert "invalid_json" in run("issue", "--type", "ResidentIdentityCredential", "--subject", "broken.json").stderr
    assert run("issue", "--type", "ResidentIdentityCredential", "--subject", "missing.json").returncode == 2


def test_verify_garbage_is_not_verified(initialized):
    run = initialized
    result = run("verify", "-", stdin="garbage")
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"][0]["code"] == "malformed_credential"


def test_tokens(initialized):
    run = initialized
    created = run("token", "create", "--role", "issuer")
    assert created.returncode == 0
    lines = created.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsv1.")
    token_id = lines[0].split(".")[1]
    listed = run("token", "list").stdout
    assert token_id in listed and "issuer" in listed and "active" in listed
    assert lines[0].split(".")[2] not in listed
    assert run("token", "revoke", token_id).returncode == 0
    assert "revoked" in run("token", "list").stdout
    assert run("token", "revoke", "unknown").returncode == 2
    assert run("token", "create", "--role", "root").returncode == 2


def test_did_show(initialized):
    run = initialized
    document = json.loads(run("did", "show").stdout)
    assert document["id"] == "did:web:127.0.0.1%3A5000"
    assert len(document["assertionMethod"]) == 4


def test_batch_issue_is_all_or_nothing(initialized, tmp_path):
    run = initialized
    import sqlite3

    good = json.loads((SUBJECTS_DIR / "DiplomaCredential.json").read_text())
    (tmp_path / "batch.json").write_text(json.dumps([good, good, good], ensure_ascii=False))
    result = run("issue", "--type", "DiplomaCredential", "--subject", "batch.json")
    assert result.returncode == 0, result.stderr
    tokens = result.stdout.split()
    assert len(tokens) == 3 and len(set(tokens)) == 3
    for token in tokens:
        assert run("verify", "-", stdin=token).returncode == 0

    bad = dict(good, degree=123)
    (tmp_path / "mixed.json").write_text(json.dumps([good, bad], ensure_ascii=False))
    result = run("issue", "--type", "DiplomaCredential", "--subject", "mixed.json")
    assert result.returncode == 2 and result.stdout == ""
    with sqlite3.connect(tmp_path / "instance" / "did_service.db") as conn:
        assert conn.execute("SELECT count(*) FROM credentials").fetchone()[0] == 3
    (tmp_path / "empty.json").write_text("[]")
    assert run("issue", "--type", "DiplomaCredential", "--subject", "empty.json").returncode == 2


def test_key_rotation_and_log_commands(initialized, tmp_path):
    run = initialized
    before = run("key", "list").stdout.splitlines()
    assert len(before) == 4 and all("active" in line for line in before)
    issued = run("issue", "--type", "DiplomaCredential", "--subject", str(SUBJECTS_DIR / "DiplomaCredential.json"))
    rotated = run("key", "rotate", "--alg", "EdDSA")
    assert rotated.returncode == 0 and rotated.stdout.startswith("did:web:")
    after = run("key", "list").stdout.splitlines()
    assert len(after) == 5 and sum("retired@" in line for line in after) == 1
    # The old credential still verifies (its key stays published) and a new one is signed by the new key.
    assert run("verify", "-", stdin=issued.stdout).returncode == 0
    fresh = run("issue", "--type", "DiplomaCredential", "--subject", str(SUBJECTS_DIR / "DiplomaCredential.json"))
    header = json.loads(base64.urlsafe_b64decode(fresh.stdout.split(".")[0] + "=="))
    assert header["kid"] == rotated.stdout.strip()
    assert run("verify", "-", stdin=fresh.stdout).returncode == 0
    note = run("log", "checkpoint").stdout.split("\n")
    assert note[1] == "8"  # four keys (issuer x2, log, verifier), one issuance, the rotation (added + rotated), one issuance
    vkey = run("log", "key").stdout.strip()
    audit = run("log", "audit", "--store", f"sqlite:///{tmp_path / 'instance' / 'did_service.db'}", "--vkey", vkey)
    assert audit.returncode == 0 and json.loads(audit.stdout)["entries"] == 8
    receipt = run("log", "receipt", "-", stdin=fresh.stdout)
    assert receipt.returncode == 0 and json.loads(receipt.stdout)["leaf_index"] == 7


def test_revoke_suspend_unsuspend(initialized):
    run = initialized
    jwt = run("issue", "--type", "DiplomaCredential", "--subject", str(SUBJECTS_DIR / "DiplomaCredential.json")).stdout.strip()
    credential_id = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))["id"]
    assert run("suspend", credential_id).returncode == 0
    report = json.loads(run("verify", "-", stdin=jwt).stdout)
    assert not report["verified"] and report["errors"][0]["code"] == "suspended"
    assert run("unsuspend", credential_id).returncode == 0
    assert run("verify", "-", stdin=jwt).returncode == 0
    assert json.loads(run("revoke", credential_id).stdout)["results"][0]["changed"] is True
    assert run("verify", "-", stdin=jwt).returncode == 1
    refused = run("unsuspend", credential_id)
    assert refused.returncode == 2 and "revocation_permanent" in refused.stderr
    assert run("revoke", "urn:uuid:nope").returncode == 2


def test_residents_import_writes_the_letters_file_once_and_refuses_a_second_import(initialized, tmp_path):
    run = initialized
    registry = tmp_path / "registry.csv"
    registry.write_text(
        "family_name,given_name,family_name_romanized,given_name_romanized,birth_date,sex,street_address,locality,"
        "region,postal_code,rrn\n홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567\n",
        encoding="utf-8")
    result = run("residents", "import", str(registry), "--codes", "letters.csv")
    assert result.returncode == 0, result.stderr
    letters = (tmp_path / "letters.csv").read_text(encoding="utf-8").splitlines()
    assert letters[0] == "login_id,masked_rrn,enrollment_code,expires_at"
    login_id, masked, code, _ = letters[1].split(",")
    assert masked == "900101-1******" and len(code) == 14 and len(login_id) == 12
    assert (tmp_path / "letters.csv").stat().st_mode & 0o077 == 0
    assert "900101-1234567" not in result.stdout + result.stderr
    again = run("residents", "import", str(registry), "--codes", "again.csv")
    assert again.returncode == 2 and "resident_exists" in again.stderr and not (tmp_path / "again.csv").exists()


def test_residents_code_and_disable(initialized, tmp_path):
    run = initialized
    registry = tmp_path / "registry.csv"
    registry.write_text(
        "family_name,given_name,family_name_romanized,given_name_romanized,birth_date,sex,street_address,locality,"
        "region,postal_code,rrn\n김,영희,Kim,Younghee,2001-03-15,2,중앙로 1,서귀포시,제주특별자치도,63561,010315-4123456\n",
        encoding="utf-8")
    assert run("residents", "import", str(registry), "--codes", "letters.csv").returncode == 0
    login_id = (tmp_path / "letters.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[0]
    fresh = run("residents", "code", login_id)
    assert fresh.returncode == 0 and len(fresh.stdout.split("\t")[0]) == 14
    assert run("residents", "disable", login_id).returncode == 0
    unknown = run("residents", "disable", "NOSUCHRESIDENT")
    assert unknown.returncode == 2 and "resident_not_found" in unknown.stderr
