"""Issue -> verify -> revoke -> verify fails -> the audit covers the status entry; suspend and unsuspend likewise.
Against a real `did-service serve` over HTTP."""

from __future__ import annotations

import base64
import json
import subprocess

from tests.e2e.conftest import DID_SERVICE
from tests.e2e.test_log_audit import http
from tests.support import SUBJECTS_DIR


def test_revocation_and_suspension_over_http(served):
    port, env, workdir = served
    base = f"http://127.0.0.1:{port}"

    def cli(*args):
        return subprocess.run([DID_SERVICE, *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=120)

    token = cli("token", "create", "--role", "issuer").stdout.strip()
    body = {"credential": {"type": ["VerifiableCredential", "ResidenceCertificateCredential"],
                           "credentialSubject": json.loads((SUBJECTS_DIR / "ResidenceCertificateCredential.json").read_text())}}
    first = http("POST", f"{base}/credentials/issue", body, token)[1]
    second = http("POST", f"{base}/credentials/issue", body, token)[1]
    jwt = first["verifiableCredential"]["id"].split(",", 1)[1]
    credential_id = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))["id"]

    assert http("POST", f"{base}/credentials/verify", first)[1]["verified"] is True
    change = {"credentialId": credential_id, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}
    status, answer = http("POST", f"{base}/credentials/status", change, token)
    assert status == 200 and answer["results"][0]["changed"]
    report = http("POST", f"{base}/credentials/verify", first)[1]
    assert report["verified"] is False and report["errors"][0]["code"] == "revoked"
    assert http("POST", f"{base}/credentials/verify", second)[1]["verified"] is True  # its neighbour is untouched

    second_jwt = second["verifiableCredential"]["id"].split(",", 1)[1]
    second_id = json.loads(base64.urlsafe_b64decode(second_jwt.split(".")[1] + "=="))["id"]
    for status_value, verified in (("suspended", False), ("active", True)):
        change = {"credentialId": second_id, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status_value}]}
        assert http("POST", f"{base}/credentials/status", change, token)[0] == 200
        assert http("POST", f"{base}/credentials/verify", second)[1]["verified"] is verified

    vkey = cli("log", "key").stdout.strip()
    audit = cli("log", "audit", "--url", base, "--vkey", vkey)
    assert audit.returncode == 0, audit.stdout
    size = json.loads(audit.stdout)["entries"]
    entries = http("GET", f"{base}/log/v1/get-entries?start=0&end={size - 1}")[1]["entries"]
    kinds = [json.loads(base64.b64decode(e["leaf_input"]))["kind"] for e in entries]
    assert kinds.count("status") == 3 and kinds.count("issued") == 2
