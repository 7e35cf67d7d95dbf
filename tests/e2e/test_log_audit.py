"""An auditor's journey against a real server: audit over HTTP, a receipt from the CLI, then an insider edits one
stored entry: the audit names it, the server refuses to sign the next checkpoint and stops issuing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import urllib.error
import urllib.request

from did_service.core import tlog
from tests.e2e.conftest import DID_SERVICE
from tests.support import SUBJECTS_DIR


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict | str]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def test_audit_receipt_and_tamper(served):
    port, env, workdir = served
    base = f"http://127.0.0.1:{port}"
    cli = lambda *args, stdin=None: subprocess.run([DID_SERVICE, *args], env=env, cwd=workdir, input=stdin,  # noqa: E731
                                                   capture_output=True, text=True, timeout=120)
    token = cli("token", "create", "--role", "issuer").stdout.strip()
    subject = json.loads((SUBJECTS_DIR / "ResidentIdentityCredential.json").read_text())
    body = {"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"],
                           "type": ["VerifiableCredential", "ResidentIdentityCredential"], "credentialSubject": subject}}
    issued = [http("POST", f"{base}/credentials/issue", body, token)[1] for _ in range(5)]
    assert [i["leafIndex"] for i in issued] == [4, 5, 6, 7, 8]  # after the four key entries

    vkey = cli("log", "key").stdout.strip()  # the operator hands this to auditors once
    state = workdir / "audit-state.txt"
    result = cli("log", "audit", "--url", base, "--vkey", vkey, "--state", str(state))
    assert result.returncode == 0, result.stdout + result.stderr
    assert state.read_text().split("\n")[1] == "9"
    report = json.loads(result.stdout)
    assert report["ok"] and report["entries"] == 9

    receipt = cli("log", "receipt", "-", stdin=json.dumps(issued[1]))
    assert receipt.returncode == 0, receipt.stderr
    assert json.loads(receipt.stdout)["leaf_index"] == 5
    # A third party with only the URL and the pinned key:
    remote = cli("log", "receipt", "-", "--url", base, "--vkey", vkey, stdin=json.dumps(issued[2]))
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["leaf_index"] == 6
    wrong_key = "issuer.example/log+00000000+AQ" + "A" * 42 + "="
    assert cli("log", "receipt", "-", "--url", base, "--vkey", wrong_key, stdin=json.dumps(issued[2])).returncode == 2

    # An insider rewrites the entry of leaf 5 in the database.
    db = workdir / "instance" / "did_service.db"
    with sqlite3.connect(db) as conn:
        (raw,) = conn.execute("SELECT entry FROM log_leaves WHERE idx = 5").fetchone()
        entry = json.loads(raw)
        entry["credential_type"] = "DiplomaCredential"
        forged = tlog.encode_entry(tlog.decode_entry(json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()))
        conn.execute("UPDATE log_leaves SET entry = ? WHERE idx = 5", (forged,))

    result = cli("log", "audit", "--url", base, "--vkey", vkey, "--state", str(state))
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_bad_index"] == 5
    result = cli("log", "audit", "--store", f"sqlite:///{db}", "--vkey", vkey)
    assert result.returncode == 1 and json.loads(result.stdout)["first_bad_index"] == 5

    assert http("POST", f"{base}/credentials/issue", body, token)[0] == 201  # appended, not yet published
    status, problem = http("GET", f"{base}/log/v1/get-sth")
    assert status == 200 and problem["tree_size"] == 9  # the last good checkpoint stays, nothing new is signed
    status, problem = http("GET", f"{base}/readyz")
    assert status == 503 and problem["code"] == "log_halted"
    status, problem = http("POST", f"{base}/credentials/issue", body, token)
    assert status == 503 and problem["code"] == "log_halted"
