"""The account-opening policy: distinct methods, adult check, application match, RRN access, no over-disclosure."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did_service.core.policy.account_opening import (
    DEFAULT_COUNTED_METHODS,
    AccountOpeningPolicy,
    age_on,
    evaluate,
)
from did_service.core.policy.decision import CheckStatus, EvidenceItem, InvalidPolicyInput
from did_service.errors import ConfigurationError

RIC = "ResidentIdentityCredential"
RRN = "900101-1234567"
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
TODAY = date(2026, 11, 25)
POLICY = AccountOpeningPolicy()


def subject(**overrides: Any) -> dict[str, Any]:
    claims = {"familyName": "홍", "givenName": "길동", "birthDate": "1990-01-01"}
    claims.update(overrides)
    return claims


def item(method: str, succeeded: bool = True) -> EvidenceItem:
    return EvidenceItem(method=method, performed_at=WHEN, source="bank-back-office", succeeded=succeeded)


def decide(**kwargs: Any):
    args: dict[str, Any] = dict(
        presentation_verified=True, credential_type=RIC, disclosed=subject(), application=None,
        evidence=[item("video_call")], request_date=TODAY, tenant_role="financial-institution",
    )
    args.update(kwargs)
    policy = args.pop("policy", POLICY)
    return evaluate(policy, **args)


def status(decision, check_id: str) -> tuple[CheckStatus, str | None]:
    check = decision.check(check_id)
    assert check is not None, check_id
    return check.status, check.code


# --- verification methods --------------------------------------------------------------------------------


def test_approved_with_presentation_and_one_other_method() -> None:
    decision = decide()
    assert decision.approved, decision.to_dict()
    assert decision.methods == ("did_presentation", "video_call")
    assert [c.id for c in decision.checks] == [
        "credential", "required_claims", "adult", "verification_methods", "rrn_access"]
    assert decision.reasons == ()


def test_rejected_with_only_the_presentation() -> None:
    decision = decide(evidence=[])
    assert not decision.approved
    assert status(decision, "verification_methods") == (CheckStatus.FAILED, "insufficient_methods")
    assert decision.reasons == ("insufficient_methods",)


def test_the_same_method_reported_twice_counts_once() -> None:
    decision = decide(evidence=[item("video_call"), item("video_call")])
    assert decision.approved  # presentation + video call
    decision = decide(presentation_verified=False, evidence=[item("video_call"), item("video_call")])
    assert status(decision, "verification_methods") == (CheckStatus.FAILED, "insufficient_methods")
    policy = AccountOpeningPolicy(required_methods=3)
    decision = decide(policy=policy, evidence=[item("video_call"), item("video_call")])
    assert status(decision, "verification_methods") == (CheckStatus.FAILED, "insufficient_methods")


def test_a_failed_evidence_item_does_not_count() -> None:
    decision = decide(evidence=[item("video_call", succeeded=False)])
    assert not decision.approved
    assert status(decision, "verification_methods") == (CheckStatus.FAILED, "insufficient_methods")
    assert decision.methods == ("did_presentation",)
    # A failed attempt beside a successful one of the same method does not cancel it either.
    assert decide(evidence=[item("video_call", succeeded=False), item("video_call")]).approved


def test_methods_outside_the_configured_mapping_do_not_count() -> None:
    assert not decide(evidence=[item("phone_call")]).approved
    policy = AccountOpeningPolicy(counted_methods=frozenset({"did_presentation", "video_call", "phone_call"}))
    assert decide(policy=policy, evidence=[item("phone_call")]).approved
    assert not decide(policy=policy, evidence=[item("existing_account_transfer")]).approved


def test_two_bank_methods_approve_but_a_reported_did_presentation_never_counts() -> None:
    # The DID presentation counted is the one verified here; a bank cannot report it for a failed one.
    decision = decide(presentation_verified=False, evidence=[item("did_presentation"), item("video_call")])
    assert status(decision, "verification_methods") == (CheckStatus.FAILED, "insufficient_methods")
    decision = decide(evidence=[item("video_call"), item("existing_account_transfer")],
                      policy=AccountOpeningPolicy(required_methods=3))
    assert decision.approved
    assert decision.methods == ("did_presentation", "existing_account_transfer", "video_call")


# --- credential -------------------------------------------------------------------------------------------


def test_unverified_presentation_is_rejected_and_nothing_is_returned() -> None:
    decision = decide(presentation_verified=False, evidence=[item("video_call"), item("id_copy_authenticity")])
    assert not decision.approved
    assert status(decision, "credential") == (CheckStatus.FAILED, "presentation_not_verified")
    # Claims that were not proven are not judged and not handed over.
    for check_id in ("required_claims", "adult"):
        assert status(decision, check_id) == (CheckStatus.COULD_NOT_RUN, "credential_not_verified")
    assert dict(decision.returned_claims) == {}
    assert decision.check("verification_methods").status is CheckStatus.PASSED  # the two bank methods


def test_truthy_non_bool_verified_flag_is_not_a_pass() -> None:
    decision = decide(presentation_verified="yes")  # type: ignore[arg-type]
    assert status(decision, "credential") == (CheckStatus.FAILED, "presentation_not_verified")


@pytest.mark.parametrize("credential_type", ["DiplomaCredential", None, ""])
def test_another_credential_type_is_rejected(credential_type: str | None) -> None:
    decision = decide(credential_type=credential_type)
    assert not decision.approved
    assert status(decision, "credential") == (CheckStatus.FAILED, "wrong_credential_type")
    assert "did_presentation" not in decision.methods


@pytest.mark.parametrize("missing", ["familyName", "givenName", "birthDate"])
def test_required_claims_must_be_disclosed(missing: str) -> None:
    claims = subject()
    del claims[missing]
    decision = decide(disclosed=claims)
    assert not decision.approved
    check = decision.check("required_claims")
    assert (check.status, check.code) == (CheckStatus.FAILED, "missing_claims")
    assert missing in check.message


# --- adult ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "adult"),
    [
        ("2007-11-26", date(2026, 11, 25), False),  # the day before the 19th birthday
        ("2007-11-25", date(2026, 11, 25), True),  # the 19th birthday
        ("2007-11-24", date(2026, 11, 25), True),
        ("2007-02-28", date(2026, 2, 27), False),
        ("2008-02-29", date(2027, 2, 28), False),  # Feb 29 birthday, common year: not yet on Feb 28
        ("2008-02-29", date(2027, 3, 1), True),  # ... reached on Mar 1
        ("2004-02-29", date(2023, 2, 28), False),
        ("2004-02-29", date(2023, 3, 1), True),
        ("2005-02-28", date(2024, 2, 28), True),  # leap request year, Feb 28 birthday
        ("2005-03-01", date(2024, 2, 29), False),
        ("2030-01-01", date(2026, 11, 25), False),  # born after the request date
    ],
)
def test_adult_boundaries(birth: str, on: date, adult: bool) -> None:
    decision = decide(disclosed=subject(birthDate=birth), request_date=on)
    expected = (CheckStatus.PASSED, None) if adult else (CheckStatus.FAILED, "not_adult")
    assert status(decision, "adult") == expected
    assert decision.approved is adult


def test_feb_29_birthday_age_in_leap_and_common_years() -> None:
    born = date(2000, 2, 29)
    assert age_on(born, date(2019, 2, 28)) == 18
    assert age_on(born, date(2019, 3, 1)) == 19
    assert age_on(born, date(2020, 2, 28)) == 19
    assert age_on(born, date(2020, 2, 29)) == 20


def test_adult_age_is_configurable() -> None:
    policy = AccountOpeningPolicy(adult_age=20)
    assert status(decide(policy=policy, disclosed=subject(birthDate="2007-11-25")), "adult") == (
        CheckStatus.FAILED, "not_adult")
    assert decide(policy=policy, disclosed=subject(birthDate="2006-11-25")).approved


@pytest.mark.parametrize("birth", ["2007-02-30", "20070101", "2007-1-01", "2007-W01-1", "", 20070101, None,
                                   "2007-01-01T00:00:00"])
def test_unparseable_birth_date_fails(birth: Any) -> None:
    decision = decide(disclosed=subject(birthDate=birth))
    assert status(decision, "adult") == (CheckStatus.FAILED, "invalid_birth_date")
    assert not decision.approved


def test_missing_birth_date_means_adult_could_not_run() -> None:
    claims = subject()
    del claims["birthDate"]
    assert status(decide(disclosed=claims), "adult") == (CheckStatus.COULD_NOT_RUN, "missing_claims")


# --- application match ------------------------------------------------------------------------------------


def test_application_match_passes_after_nfc_and_trimming() -> None:
    decomposed = unicodedata.normalize("NFD", "길동")
    assert decomposed != "길동"
    application = {"familyName": " 홍 ", "givenName": decomposed, "birthDate": "1990-01-01\n"}
    decision = decide(application=application)
    assert status(decision, "application_match") == (CheckStatus.PASSED, None)
    assert decision.approved


@pytest.mark.parametrize(
    ("claim", "bank_value"),
    [("familyName", "김"), ("givenName", "철수"), ("birthDate", "1991-02-03")],
)
def test_application_mismatch_names_the_claim_never_the_value(claim: str, bank_value: str) -> None:
    application = {"familyName": "홍", "givenName": "길동", "birthDate": "1990-01-01", claim: bank_value}
    decision = decide(application=application)
    assert not decision.approved
    check = decision.check("application_match")
    assert (check.status, check.code) == (CheckStatus.FAILED, "application_mismatch")
    assert claim in check.message
    record = decision.to_dict()
    record.pop("returnedClaims")  # the tenant's view holds the credential's values by design
    text = json.dumps(record, ensure_ascii=False)
    assert bank_value not in text
    assert subject()[claim] not in text
    assert claim in text


def test_application_check_only_when_an_application_is_given() -> None:
    assert decide().check("application_match") is None


@pytest.mark.parametrize(
    "application",
    [{}, {"familyName": "홍", "givenName": "길동"}, {"familyName": "홍", "givenName": "길동", "birthDate": 19900101},
     {"familyName": "홍", "givenName": "길동", "birthDate": "1990-01-01", "extra": "x"},
     {"familyName": " ", "givenName": "길동", "birthDate": "1990-01-01"}],
)
def test_malformed_application_is_refused(application: dict[str, Any]) -> None:
    with pytest.raises(InvalidPolicyInput) as info:
        decide(application=application)
    assert info.value.code == "invalid_application"


# --- RRN and over-disclosure ------------------------------------------------------------------------------


def test_claims_for_request_asks_rrn_only_for_financial_institutions() -> None:
    assert POLICY.claims_for_request("financial-institution") == [
        "familyName", "givenName", "birthDate", "residentRegistrationNumber"]
    assert "residentRegistrationNumber" not in POLICY.claims_for_request("general")
    with pytest.raises(InvalidPolicyInput) as info:
        POLICY.claims_for_request("bank")
    assert info.value.code == "invalid_tenant_role"


def test_financial_institution_receives_the_rrn() -> None:
    decision = decide(disclosed=subject(residentRegistrationNumber=RRN))
    assert decision.approved
    assert decision.returned_claims["residentRegistrationNumber"] == RRN
    assert decision.dropped_claims == ()


def test_general_tenant_never_receives_the_rrn() -> None:
    decision = decide(tenant_role="general", disclosed=subject(residentRegistrationNumber=RRN))
    assert decision.approved  # the wallet over-disclosed; the tenant did not ask
    assert "residentRegistrationNumber" not in decision.returned_claims
    assert decision.dropped_claims == ("residentRegistrationNumber",)
    record = decision.to_dict()
    assert RRN not in json.dumps(record)
    assert set(decision.returned_claims) == {"familyName", "givenName", "birthDate"}


def test_general_tenant_asking_for_the_rrn_fails() -> None:
    asked = ["familyName", "givenName", "birthDate", "residentRegistrationNumber"]
    decision = decide(tenant_role="general", requested_claims=asked,
                      disclosed=subject(residentRegistrationNumber=RRN))
    assert not decision.approved
    assert status(decision, "rrn_access") == (CheckStatus.FAILED, "rrn_not_permitted")
    assert "residentRegistrationNumber" not in decision.returned_claims
    assert RRN not in json.dumps(decision.to_dict())
    assert decide(requested_claims=asked).approved  # a financial institution may ask


def test_unknown_tenant_role_is_refused() -> None:
    with pytest.raises(InvalidPolicyInput):
        decide(tenant_role="Financial-Institution")


def test_over_disclosed_claims_are_dropped_and_named() -> None:
    address = {"streetAddress": "문연로 6", "locality": "제주시", "region": "제주특별자치도", "postalCode": "63122"}
    disclosed = subject(address=address, sex=1, id="did:key:z6Mkholder")
    decision = decide(disclosed=disclosed)
    assert decision.approved
    assert dict(decision.returned_claims) == subject()
    assert decision.dropped_claims == ("address", "sex")
    assert decision.disclosed_claims == ("address", "birthDate", "familyName", "givenName", "sex")
    assert "문연로" not in json.dumps(decision.to_dict(), ensure_ascii=False)


def test_decision_is_read_only() -> None:
    decision = decide()
    with pytest.raises(TypeError):
        decision.returned_claims["familyName"] = "김"  # type: ignore[index]


# --- configuration and inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"required_methods": 1}, {"required_methods": 0}, {"required_methods": True}, {"adult_age": 0},
     {"adult_age": "19"}, {"counted_methods": frozenset({"video_call"})},
     {"required_claims": ("familyName", "givenName")},
     {"required_claims": ("familyName", "givenName", "birthDate", "residentRegistrationNumber")}],
)
def test_weakening_or_unusable_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        AccountOpeningPolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"method": ""}, {"succeeded": "false"}, {"succeeded": 1}, {"performed_at": datetime(2026, 11, 25)},
     {"performed_at": "2026-11-25T09:30:00Z"}, {"source": ""}],
)
def test_malformed_evidence_is_refused(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = dict(method="video_call", performed_at=WHEN, source="bank", succeeded=True)
    args.update(kwargs)
    with pytest.raises(InvalidPolicyInput) as info:
        EvidenceItem(**args)
    assert info.value.code == "invalid_evidence"


# --- properties -------------------------------------------------------------------------------------------

METHODS = sorted(DEFAULT_COUNTED_METHODS | {"phone_call", "selfie"})
evidence_items = st.builds(
    EvidenceItem, method=st.sampled_from(METHODS), performed_at=st.just(WHEN),
    source=st.sampled_from(["bank", "vendor"]), succeeded=st.booleans(),
)
birth_dates = st.one_of(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat),
    st.sampled_from(["2007-02-30", "not a date", ""]),
)


@settings(max_examples=300, deadline=None)
@given(
    verified=st.booleans(),
    credential_type=st.sampled_from([RIC, "DiplomaCredential", None]),
    birth=birth_dates,
    drop=st.sets(st.sampled_from(["familyName", "givenName", "birthDate"])),
    extra_rrn=st.booleans(),
    evidence=st.lists(evidence_items, max_size=6),
    request_date=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    role=st.sampled_from(["financial-institution", "general"]),
    ask_rrn=st.booleans(),
    application=st.one_of(st.none(), st.fixed_dictionaries(
        {"familyName": st.sampled_from(["홍", "김"]), "givenName": st.just("길동"), "birthDate": birth_dates})),
    required=st.integers(min_value=2, max_value=4),
)
def test_approved_iff_every_check_passed_and_the_rules_hold(
    verified: bool, credential_type: str | None, birth: str, drop: set[str], extra_rrn: bool,
    evidence: list[EvidenceItem], request_date: date, role: str, ask_rrn: bool,
    application: dict[str, str] | None, required: int,
) -> None:
    disclosed = subject(birthDate=birth)
    for name in drop:
        del disclosed[name]
    if extra_rrn:
        disclosed["residentRegistrationNumber"] = RRN
    if application is not None and not application["birthDate"].strip():
        application = None  # refused as input; covered by test_malformed_application_is_refused
    asked = ["familyName", "givenName", "birthDate"] + (["residentRegistrationNumber"] if ask_rrn else [])
    policy = AccountOpeningPolicy(required_methods=required)
    decision = evaluate(
        policy, presentation_verified=verified, credential_type=credential_type, disclosed=disclosed,
        application=application, evidence=evidence, request_date=request_date, tenant_role=role,
        requested_claims=asked,
    )
    assert decision.approved == all(c.status is CheckStatus.PASSED for c in decision.checks)
    assert decision.checks

    # An independent statement of the rules the decision must agree with.
    credential_ok = verified and credential_type == RIC
    methods = {e.method for e in evidence if e.succeeded and e.method in DEFAULT_COUNTED_METHODS} - {
        "did_presentation"}
    distinct = len(methods) + (1 if credential_ok else 0)
    try:
        born = date.fromisoformat(birth) if len(birth) == 10 else None
    except ValueError:
        born = None
    adult = born is not None and age_on(born, request_date) >= 19
    matches = application is None or (
        application["familyName"] == "홍" and application["birthDate"] == birth)
    expected = (credential_ok and not drop and adult and matches and distinct >= required
                and not (role == "general" and ask_rrn))
    assert decision.approved == expected
    if role == "general":
        assert "residentRegistrationNumber" not in decision.returned_claims
    assert set(decision.returned_claims) <= set(policy.claims_for_request(role))
    assert set(decision.returned_claims) | set(decision.dropped_claims) <= set(disclosed)
