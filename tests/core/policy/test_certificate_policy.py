"""The certificate policy: supported types, the notarized document's digest, only the asked claims returned."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did_service.core.policy.certificate import CLAIMS_BY_TYPE, evaluate_certificate
from did_service.core.policy.decision import CheckStatus, Decision

REPO = Path(__file__).resolve().parents[3]
SUBJECTS = REPO / "tests" / "fixtures" / "subjects"
NDC = "NotarizedDocumentCredential"
DOCUMENT = b"%PDF-1.7 notarized contract of sale\n"


def notarized(digest: str | None = None) -> dict[str, Any]:
    claims = json.loads((SUBJECTS / f"{NDC}.json").read_text(encoding="utf-8"))
    claims["document"]["digestSha256"] = digest or hashlib.sha256(DOCUMENT).hexdigest()
    return claims


def status(decision: Decision, check_id: str) -> tuple[CheckStatus, str | None]:
    check = decision.check(check_id)
    assert check is not None, check_id
    return check.status, check.code


def test_claims_by_type_follow_the_schemas() -> None:
    for type_name, claims in CLAIMS_BY_TYPE.items():
        schema = json.loads((REPO / "schemas" / "credentials" / f"{type_name}.schema.json").read_text("utf-8"))
        assert set(claims) == set(schema["properties"]) - {"id"}, type_name


@pytest.mark.parametrize("type_name", sorted(CLAIMS_BY_TYPE))
def test_each_supported_type_is_approved_when_verified(type_name: str) -> None:
    disclosed = json.loads((SUBJECTS / f"{type_name}.json").read_text(encoding="utf-8"))
    decision = evaluate_certificate(credential_type=type_name, presentation_verified=True, disclosed=disclosed,
                                    document_bytes=None)
    assert decision.approved, decision.to_dict()
    assert decision.policy == "certificate"
    assert [c.id for c in decision.checks] == ["credential", "credential_type"]
    assert dict(decision.returned_claims) == {k: v for k, v in disclosed.items() if k != "id"}


def test_unverified_credential_is_rejected_and_nothing_returned() -> None:
    decision = evaluate_certificate(credential_type=NDC, presentation_verified=False, disclosed=notarized(),
                                    document_bytes=DOCUMENT)
    assert not decision.approved
    assert status(decision, "credential") == (CheckStatus.FAILED, "presentation_not_verified")
    assert status(decision, "document_digest") == (CheckStatus.COULD_NOT_RUN, "credential_not_verified")
    assert dict(decision.returned_claims) == {}


@pytest.mark.parametrize("type_name", ["ResidentIdentityCredential", "PassportCredential", None])
def test_unknown_type_fails(type_name: str | None) -> None:
    decision = evaluate_certificate(credential_type=type_name, presentation_verified=True,
                                    disclosed={"familyName": "홍"}, document_bytes=None)
    assert not decision.approved
    assert status(decision, "credential_type") == (CheckStatus.FAILED, "unsupported_credential_type")
    assert dict(decision.returned_claims) == {}
    assert decision.dropped_claims == ("familyName",)


def test_document_digest_match() -> None:
    decision = evaluate_certificate(credential_type=NDC, presentation_verified=True, disclosed=notarized(),
                                    document_bytes=DOCUMENT)
    assert decision.approved
    assert status(decision, "document_digest") == (CheckStatus.PASSED, None)


def test_document_digest_mismatch() -> None:
    decision = evaluate_certificate(credential_type=NDC, presentation_verified=True, disclosed=notarized(),
                                    document_bytes=DOCUMENT + b" ")
    assert not decision.approved
    assert status(decision, "document_digest") == (CheckStatus.FAILED, "document_digest_mismatch")


def test_uppercase_digest_is_not_the_schema_form() -> None:
    disclosed = notarized(hashlib.sha256(DOCUMENT).hexdigest().upper())
    decision = evaluate_certificate(credential_type=NDC, presentation_verified=True, disclosed=disclosed,
                                    document_bytes=DOCUMENT)
    assert status(decision, "document_digest") == (CheckStatus.COULD_NOT_RUN, "document_digest_not_disclosed")


def test_document_without_disclosed_digest_could_not_run() -> None:
    disclosed = notarized()
    del disclosed["document"]
    decision = evaluate_certificate(credential_type=NDC, presentation_verified=True, disclosed=disclosed,
                                    document_bytes=DOCUMENT)
    assert not decision.approved
    assert status(decision, "document_digest") == (CheckStatus.COULD_NOT_RUN, "document_digest_not_disclosed")


def test_document_for_another_type_is_not_silently_ignored() -> None:
    disclosed = json.loads((SUBJECTS / "DiplomaCredential.json").read_text(encoding="utf-8"))
    decision = evaluate_certificate(credential_type="DiplomaCredential", presentation_verified=True,
                                    disclosed=disclosed, document_bytes=DOCUMENT)
    assert not decision.approved
    assert status(decision, "document_digest") == (CheckStatus.FAILED, "document_not_applicable")


def test_over_disclosed_claims_are_dropped() -> None:
    disclosed = {**notarized(), "residentRegistrationNumber": "900101-1234567", "id": "did:key:z6Mkholder"}
    decision = evaluate_certificate(credential_type=NDC, presentation_verified=True, disclosed=disclosed,
                                    document_bytes=None)
    assert decision.approved
    assert decision.dropped_claims == ("residentRegistrationNumber",)
    assert "residentRegistrationNumber" not in decision.returned_claims
    assert "900101-1234567" not in json.dumps(decision.to_dict())


@settings(max_examples=200, deadline=None)
@given(
    type_name=st.sampled_from(sorted(CLAIMS_BY_TYPE) + ["ResidentIdentityCredential"]),
    verified=st.booleans(),
    document=st.one_of(st.none(), st.just(DOCUMENT), st.binary(max_size=64)),
    disclose_document=st.booleans(),
)
def test_certificate_approved_iff_every_check_passed(type_name: str, verified: bool, document: bytes | None,
                                                    disclose_document: bool) -> None:
    disclosed = notarized()
    if not disclose_document:
        del disclosed["document"]
    decision = evaluate_certificate(credential_type=type_name, presentation_verified=verified,
                                    disclosed=disclosed, document_bytes=document)
    assert decision.approved == all(c.status is CheckStatus.PASSED for c in decision.checks)
    digest_ok = document is None or (
        type_name == NDC and disclose_document and hashlib.sha256(document).digest() == hashlib.sha256(
            DOCUMENT).digest())
    assert decision.approved == (verified and type_name in CLAIMS_BY_TYPE and digest_ok)
