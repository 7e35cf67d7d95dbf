"""Issue 6, end to end: a bank opens an account over HTTP against a real `did-service serve`, and the resident
answers with a wallet written in the test from the OpenID4VP 1.0 and SD-JWT VC specifications
(tests/e2e/oid4vp_wallet.py), not with the project's own presenter.

Approved with two evidence methods, rejected with one, rejected when revoked, rejected on replay; a general
tenant never receives the resident registration number; the decision receipt verifies with joserfc.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from tests.e2e.conftest import DID_SERVICE
from tests.e2e.oid4vp_wallet import Wallet, WalletRefused, b64url_decode, compact_parts, http

SUBJECTS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "subjects"

RRN = "900101-1234567"
APPLICATION = {"familyName": "김", "givenName": "민준", "birthDate": "1990-01-01"}
IDENTITY_CLAIMS = ["familyName", "givenName", "birthDate"]


@dataclass
class Tenant:
    tenant_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}


@dataclass
class Journey:
    base: str
    host: str
    env: dict
    workdir: object
    issuer_token: str = ""

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([DID_SERVICE, *args], env=self.env, cwd=self.workdir, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr + result.stdout
        return result

    def tenant(self, name: str, role: str) -> Tenant:
        lines = self.cli("verifier", "create", "--name", name, "--role", role).stdout.strip().splitlines()
        return Tenant(lines[0].strip(), lines[-1].strip())

    def api(self, method: str, path: str, tenant: Tenant | None, body: dict | None = None):
        headers = tenant.headers if tenant else {"Content-Type": "application/json"}
        return http(method, self.base + path, body=json.dumps(body).encode() if body is not None else None,
                    headers=headers)

    def issue_identity(self, wallet: Wallet) -> dict:
        """A ResidentIdentityCredential (dc+sd-jwt) bound to the wallet's did:jwk; returns the issue response."""
        if not self.issuer_token:
            self.issuer_token = self.cli("token", "create", "--role", "issuer").stdout.strip()
        subject = json.loads((SUBJECTS_DIR / "ResidentIdentityCredential.json").read_text(encoding="utf-8"))
        subject.update(APPLICATION, residentRegistrationNumber=RRN, id=wallet.did)
        body = {"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"],
                               "type": ["VerifiableCredential", "ResidentIdentityCredential"],
                               "credentialSubject": subject},
                "options": {"format": "dc+sd-jwt"}}
        answer = http("POST", f"{self.base}/credentials/issue", body=json.dumps(body).encode(),
                      headers={"Authorization": f"Bearer {self.issuer_token}", "Content-Type": "application/json"})
        assert answer.status == 201, answer.body
        issued = answer.json()
        wallet.hold(issued["verifiableCredential"])
        return issued

    def create_request(self, tenant: Tenant, application: dict | None = APPLICATION) -> dict:
        body = {"policy": "account_opening", **({"application": application} if application is not None else {})}
        answer = self.api("POST", "/verifier/v1/requests", tenant, body)
        assert answer.status == 201, answer.body
        created = answer.json()
        assert set(created) >= {"id", "request_uri", "qr_png_url", "deep_link", "expires_at", "client_id"}
        png = http("GET", created["qr_png_url"])
        assert png.status == 200 and png.body.startswith(b"\x89PNG")
        return created

    def evidence(self, tenant: Tenant, request_id: str, method: str):
        return self.api("POST", f"/verifier/v1/requests/{request_id}/evidence", tenant, {
            "method": method, "performedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": "bank-ekyc", "succeeded": True})

    def result(self, tenant: Tenant, request_id: str) -> dict:
        answer = self.api("GET", f"/verifier/v1/requests/{request_id}", tenant)
        assert answer.status == 200, answer.body
        return answer.json()

    def verify_receipt(self, receipt: str) -> dict:
        """With joserfc only: the verifier's JWKS, the key the header's kid names, ES256."""
        header, _ = compact_parts(receipt)
        assert header["typ"] == "decision-receipt+jwt" and header["alg"] == "ES256"
        keys = http("GET", f"{self.base}/verifier/v1/keys").json()["keys"]
        jwk = next(k for k in keys if k["kid"] == header["kid"])
        verified = jws.deserialize_compact(receipt, ECKey.import_key(jwk), algorithms=["ES256"])
        return json.loads(verified.payload)


def journey_of(served) -> Journey:
    port, env, workdir = served
    return Journey(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", env, workdir)


def assert_problem(answer, status: int, code: str | None = None) -> dict:
    assert answer.status == status, (answer.status, answer.body)
    assert answer.content_type.startswith("application/problem+json"), answer.content_type
    document = answer.json()
    assert "code" in document, document
    if code is not None:
        assert document["code"] == code, document
    return document


def test_approved_with_two_methods_and_the_receipt_verifies_with_joserfc(served):
    j = journey_of(served)
    bank = j.tenant("Jeju Bank", "financial-institution")
    wallet = Wallet(expected_host=j.host)
    j.issue_identity(wallet)

    created = j.create_request(bank)
    did = f"did:web:{j.host.replace(':', '%3A')}:verifiers:{bank.tenant_id}"
    assert created["client_id"] == "decentralized_identifier:" + did
    request = wallet.open_link(created["deep_link"])  # the wallet sees only the link
    assert request.requested_claim_names == IDENTITY_CLAIMS + ["residentRegistrationNumber"]
    answer, vp_token = wallet.answer(request)
    assert answer.status == 200, answer.body
    presented = json.loads(vp_token)[request.credential_query["id"]][0].split("~")
    assert sorted(json.loads(b64url_decode(d))[1] for d in presented[1:-1]) == sorted(request.requested_claim_names)

    pending = j.result(bank, created["id"])
    assert pending["status"] == "decided" and pending["decision"]["approved"] is False
    assert pending["decision"]["reasons"] == ["insufficient_methods"]

    assert j.evidence(bank, created["id"], "video_call").status == 200
    decided = j.result(bank, created["id"])
    decision = decided["decision"]
    assert decision["approved"] is True, decision
    assert decision["methods"] == ["did_presentation", "video_call"]
    assert decision["returnedClaims"] == {**APPLICATION, "residentRegistrationNumber": RRN}

    receipt = j.verify_receipt(decided["receipt"])
    assert receipt["jti"] == created["id"] and receipt["sub"] == bank.tenant_id
    assert receipt["decision"] == "approved"
    assert receipt["checks"] and all(c["status"] == "passed" for c in receipt["checks"])
    assert {c["id"] for c in receipt["checks"]} == {c["id"] for c in decision["checks"]}
    assert RRN not in json.dumps(receipt, ensure_ascii=False)


def test_rejected_with_only_the_presentation(served):
    j = journey_of(served)
    bank = j.tenant("Jeju Bank", "financial-institution")
    wallet = Wallet(expected_host=j.host)
    j.issue_identity(wallet)
    created = j.create_request(bank)
    answer, _ = wallet.answer(wallet.open_link(created["deep_link"]))
    assert answer.status == 200, answer.body

    decided = j.result(bank, created["id"])
    assert decided["status"] == "decided"
    assert decided["decision"]["approved"] is False
    assert "insufficient_methods" in decided["decision"]["reasons"]
    assert decided["decision"]["methods"] == ["did_presentation"]
    receipt = j.verify_receipt(decided["receipt"])
    assert receipt["decision"] == "rejected" and receipt["jti"] == created["id"]


def test_rejected_when_the_credential_is_revoked(served):
    j = journey_of(served)
    bank = j.tenant("Jeju Bank", "financial-institution")
    wallet = Wallet(expected_host=j.host)
    j.issue_identity(wallet)
    created = j.create_request(bank)
    request = wallet.open_link(created["deep_link"])

    # The issuer revokes before the wallet answers (an SD-JWT VC's credential id is its issuer JWT's jti).
    _, issuer_claims = compact_parts(wallet.credentials[0].split("~", 1)[0])
    assert issuer_claims["jti"].startswith("urn:uuid:"), issuer_claims
    change = {"credentialId": issuer_claims["jti"],
              "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}
    revoked = http("POST", f"{j.base}/credentials/status", body=json.dumps(change).encode(),
                   headers={"Authorization": f"Bearer {j.issuer_token}", "Content-Type": "application/json"})
    assert revoked.status == 200 and revoked.json()["results"][0]["changed"], revoked.body

    answer, _ = wallet.answer(request)
    assert_problem(answer, 422, "revoked")
    assert j.evidence(bank, created["id"], "video_call").status == 200  # even with a second method
    decided = j.result(bank, created["id"])
    assert decided["decision"]["approved"] is False
    assert "revoked" in decided["decision"]["reasons"]
    assert decided["decision"]["methods"] == ["video_call"]  # the revoked presentation does not count
    assert decided["decision"]["returnedClaims"] == {}
    assert RRN not in json.dumps(decided, ensure_ascii=False)
    assert j.verify_receipt(decided["receipt"])["decision"] == "rejected"


def test_rejected_on_replay(served):
    j = journey_of(served)
    bank = j.tenant("Jeju Bank", "financial-institution")
    wallet = Wallet(expected_host=j.host)
    j.issue_identity(wallet)
    first = wallet.open_link(j.create_request(bank)["deep_link"])
    answer, vp_token = wallet.answer(first)
    assert answer.status == 200, answer.body

    # The same answer again, to the same request.
    again = wallet.post_response(first.response_uri, vp_token=vp_token, state=first.state)
    assert_problem(again, 409, "transaction_already_used")

    # The same presentation (bound to the first request's nonce) sent to a new request, with its state.
    created = j.create_request(bank)
    second = wallet.open_link(created["deep_link"])
    assert second.nonce != first.nonce
    token = json.dumps({second.credential_query["id"]: json.loads(vp_token)[first.credential_query["id"]]})
    replayed = wallet.post_response(second.response_uri, vp_token=token, state=second.state)
    assert_problem(replayed, 422, "kb_nonce_mismatch")
    assert j.evidence(bank, created["id"], "video_call").status == 200
    decided = j.result(bank, created["id"])
    assert decided["decision"]["approved"] is False and decided["decision"]["returnedClaims"] == {}


def test_a_general_tenant_never_receives_the_rrn(served):
    j = journey_of(served)
    shop = j.tenant("Hallasan Mobile", "general")
    wallet = Wallet(expected_host=j.host)
    j.issue_identity(wallet)
    created = j.create_request(shop)
    request = wallet.open_link(created["deep_link"])
    assert "residentRegistrationNumber" not in request.requested_claim_names
    assert RRN not in request.raw and "residentRegistrationNumber" not in json.dumps(request.claims)
    answer, vp_token = wallet.answer(request)
    assert answer.status == 200, answer.body
    assert RRN not in vp_token  # the wallet was not asked, so it did not disclose it

    assert j.evidence(shop, created["id"], "video_call").status == 200
    decided = j.result(shop, created["id"])
    assert decided["decision"]["approved"] is True, decided["decision"]
    returned = decided["decision"]["returnedClaims"]
    assert returned == APPLICATION
    assert "residentRegistrationNumber" not in decided["decision"]["disclosedClaims"]
    receipt = j.verify_receipt(decided["receipt"])
    assert RRN not in json.dumps(decided, ensure_ascii=False) and RRN not in decided["receipt"]
    assert RRN not in json.dumps(receipt, ensure_ascii=False)
    assert "residentRegistrationNumber" not in receipt["disclosed_claims"]


def test_another_tenant_or_no_key_cannot_read_the_banks_request(served):
    j = journey_of(served)
    bank = j.tenant("Jeju Bank", "financial-institution")
    shop = j.tenant("Hallasan Mobile", "general")
    created = j.create_request(bank)
    path = f"/verifier/v1/requests/{created['id']}"
    assert_problem(j.api("GET", path, shop), 403, "request_of_another_tenant")
    assert_problem(j.api("GET", path, None), 401)
    assert_problem(j.api("POST", path + "/evidence", shop, {
        "method": "video_call", "performedAt": datetime.now(timezone.utc).isoformat(), "source": "x",
        "succeeded": True}), 403, "request_of_another_tenant")
    assert j.result(bank, created["id"])["status"] == "pending"

    # The wallet itself refuses a link whose client_id is not the one the signed request names (a phishing
    # link pointing at the bank's request under the shop's name, or the reverse).
    wallet = Wallet(expected_host=j.host)
    shop_request = j.create_request(shop, application=None)
    forged = "openid4vp://?" + urlencode({"client_id": shop_request["client_id"],
                                          "request_uri": created["request_uri"]})
    with pytest.raises(WalletRefused, match="client_id"):
        wallet.open_link(forged)
    assert wallet.open_link(created["deep_link"]).client_id == created["client_id"]
