"""The certificate policy through POST /credentials/verify: a verdict for employers, universities, embassies."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.support import issue_body, load_subject
from tests.web.test_formats import FORMATS

DOCUMENT = "위임장 원본 PDF의 바이트".encode()


def issue(client, auth, credential_type, subject=None, **options):
    response = client.post("/credentials/issue", json=issue_body(credential_type, subject, **options), headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["verifiableCredential"]


def decide(client, vc, **options) -> dict:
    response = client.post("/credentials/verify", json={"verifiableCredential": vc,
                                                        "options": {"policy": "certificate", **options}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def notarized_subject() -> dict:
    subject = load_subject("NotarizedDocumentCredential")
    subject["document"] = {**subject["document"], "digestSha256": hashlib.sha256(DOCUMENT).hexdigest()}
    return subject


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_uploaded_document_must_be_the_notarized_one(client, auth, fmt):
    vc = issue(client, auth, "NotarizedDocumentCredential", notarized_subject(), format=fmt)
    result = decide(client, vc, document=base64.b64encode(DOCUMENT).decode())
    assert result["verified"] is True and result["decision"]["approved"] is True, result
    result = decide(client, vc, document=base64.b64encode(DOCUMENT + b"x").decode())
    assert result["decision"]["approved"] is False
    assert result["decision"]["reasons"] == ["document_digest_mismatch"]
    assert decide(client, vc)["decision"]["approved"] is True  # no document given: nothing to compare


def test_certificates_are_decided_and_identity_is_not_a_certificate(client, auth, services):
    for credential_type in ("ResidenceCertificateCredential", "DiplomaCredential"):
        assert decide(client, issue(client, auth, credential_type))["decision"]["approved"] is True
    result = decide(client, issue(client, auth, "ResidentIdentityCredential"))
    assert result["verified"] is True and result["decision"]["reasons"] == ["unsupported_credential_type"]


def test_a_revoked_certificate_is_rejected(client, auth):
    vc = issue(client, auth, "DiplomaCredential", format="eddsa-rdfc-2022")
    client.post("/credentials/status", headers=auth, json={
        "credentialId": vc["id"], "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]})
    result = decide(client, vc)
    assert result["verified"] is False and result["decision"]["approved"] is False
    assert "presentation_not_verified" in result["decision"]["reasons"]


@pytest.mark.parametrize("options,code", [
    ({"policy": "account_opening"}, "unsupported_policy"),
    ({"policy": "certificate", "document": "not base64!"}, "invalid_document"),
    ({"policy": "certificate", "document": 5}, "invalid_document"),
    ({"document": "AAAA"}, "invalid_options"),
    ({"policy": "certificate", "other": 1}, "invalid_options"),
])
def test_bad_policy_options_are_problems(client, auth, options, code):
    vc = issue(client, auth, "DiplomaCredential")
    response = client.post("/credentials/verify", json={"verifiableCredential": vc, "options": options})
    assert response.status_code == 422 and response.get_json()["code"] == code
