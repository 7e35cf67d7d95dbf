"""The non-face-to-face account-opening policy (Korean remote real-name verification).

A bank may open an account remotely when at least two *distinct* verification methods succeeded; a verified
DID presentation of a resident identity credential is one method, and the bank reports the others it performed
as evidence items. The applicant must be an adult at the request's date, and the credential must match the
application the bank holds. The resident registration number (RRN) may be processed only by institutions with
a statutory basis, so only financial-institution tenants ask for it or receive it.

Every rule is configurable on ``AccountOpeningPolicy`` and named by what it does: the legal article numbers
behind them were not checked against the statutes (see the domain notes).

Pure: the verifier's outcome, the disclosed claims, the evidence and the request date are passed in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Collection, Mapping, Sequence

from did_service.core.policy.decision import (
    Check,
    CheckStatus,
    Decision,
    EvidenceItem,
    InvalidPolicyInput,
    could_not_run,
    failed,
    passed,
)
from did_service.errors import ConfigurationError

POLICY_NAME = "account_opening"
CREDENTIAL_TYPE = "ResidentIdentityCredential"

FINANCIAL_INSTITUTION = "financial-institution"
GENERAL = "general"
TENANT_ROLES = (FINANCIAL_INSTITUTION, GENERAL)

RRN_CLAIM = "residentRegistrationNumber"
NAME_AND_BIRTH_DATE = ("familyName", "givenName", "birthDate")

# The method this service itself verifies. Only the presentation verified in this request counts as it: a bank
# reporting "did_presentation" as evidence must not stand in for a presentation that failed here.
DID_PRESENTATION = "did_presentation"

DEFAULT_COUNTED_METHODS = frozenset({
    DID_PRESENTATION,
    "id_copy_authenticity",  # ID copy checked against the issuing agency
    "video_call",  # face compared with the ID photo
    "access_medium_delivery",  # identity checked when a card, OTP or passbook is delivered
    "existing_account_transfer",  # small transfer from an account held elsewhere
    "biometric_equivalent",  # another method of equivalent strength, e.g. registered biometrics
})

# YYYY-MM-DD only: date.fromisoformat also takes 20040229 and week dates since Python 3.11.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class AccountOpeningPolicy:
    adult_age: int = 19
    required_methods: int = 2
    counted_methods: frozenset[str] = field(default=DEFAULT_COUNTED_METHODS)
    required_claims: tuple[str, ...] = NAME_AND_BIRTH_DATE

    def __post_init__(self) -> None:
        if isinstance(self.adult_age, bool) or not isinstance(self.adult_age, int) or not 0 < self.adult_age < 150:
            raise ConfigurationError("adult_age must be a whole number of years between 1 and 149")
        # The rule is "at least two methods": a lower setting would weaken it, so it is refused, not configurable.
        if isinstance(self.required_methods, bool) or not isinstance(self.required_methods, int) \
                or self.required_methods < 2:
            raise ConfigurationError("required_methods must be at least 2")
        methods = frozenset(self.counted_methods)
        if not all(isinstance(m, str) and m for m in methods):
            raise ConfigurationError("counted_methods must be method names")
        if len(methods) < self.required_methods:
            raise ConfigurationError("fewer counted methods than required_methods: nothing could be approved")
        object.__setattr__(self, "counted_methods", methods)
        claims = tuple(self.required_claims)
        # Without these the adult and application checks would have nothing to run on.
        if not set(NAME_AND_BIRTH_DATE) <= set(claims):
            raise ConfigurationError("required_claims must include familyName, givenName and birthDate")
        if RRN_CLAIM in claims:
            raise ConfigurationError("the RRN is requested by tenant role, never required for every tenant")
        object.__setattr__(self, "required_claims", claims)

    def claims_for_request(self, tenant_role: str) -> list[str]:
        """The claims a request under this policy asks the holder for; the RRN only for financial institutions."""
        _check_role(tenant_role)
        claims = list(self.required_claims)
        if tenant_role == FINANCIAL_INSTITUTION:
            claims.append(RRN_CLAIM)
        return claims


def evaluate(
    policy: AccountOpeningPolicy,
    *,
    presentation_verified: bool,
    credential_type: str | None,
    disclosed: Mapping[str, Any] | None,
    application: Mapping[str, Any] | None,
    evidence: Sequence[EvidenceItem],
    request_date: date,
    tenant_role: str,
    requested_claims: Collection[str] | None = None,
) -> Decision:
    """Decide an account-opening request.

    ``presentation_verified`` is the verifier's own report (``PresentationResult.verified``) and
    ``credential_type``/``disclosed`` come from the verified credential's opened view. ``requested_claims`` is
    what the request asked the holder for (default: ``policy.claims_for_request(tenant_role)``).
    """
    _check_role(tenant_role)
    if not isinstance(request_date, date):
        raise InvalidPolicyInput("the request date must be a date")
    if not all(isinstance(item, EvidenceItem) for item in evidence):
        raise InvalidPolicyInput("evidence must be EvidenceItem values", code="invalid_evidence")
    if application is not None:
        check_application(application)
    subject = _claims_of(disclosed)
    requested = list(policy.claims_for_request(tenant_role) if requested_claims is None else requested_claims)

    checks: list[Check] = []
    credential = _credential_check(presentation_verified, credential_type)
    checks.append(credential)
    credential_ok = credential.status is CheckStatus.PASSED
    checks.append(_required_claims_check(policy, subject, credential_ok))
    checks.append(_adult_check(policy, subject, request_date, credential_ok))
    if application is not None:
        checks.append(_application_check(application, subject, credential_ok))
    counted = _counted_methods(policy, credential_ok, evidence)
    checks.append(_methods_check(policy, counted))
    checks.append(_rrn_check(tenant_role, requested))

    allowed = set(policy.claims_for_request(tenant_role))
    names = sorted(subject)
    return Decision(
        policy=POLICY_NAME,
        checks=tuple(checks),
        disclosed_claims=tuple(names),
        # Values from a presentation that did not verify are not the holder's proven claims: none are returned.
        returned_claims={k: subject[k] for k in names if k in allowed} if credential_ok else {},
        dropped_claims=tuple(k for k in names if k not in allowed),
        methods=tuple(sorted(counted)),
    )


def age_on(birth_date: date, on: date) -> int:
    """Completed years from ``birth_date`` to ``on``.

    A Feb 29 birthday is reached on Mar 1 in common years: the year of age is not complete until Feb 28 has
    ended, which is how the Korean Civil Act ends a period whose final month lacks the corresponding day.
    """
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (1 if before_birthday else 0)


def parse_birth_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _check_role(tenant_role: str) -> None:
    # Fail closed: an unknown role must not fall through to either branch of the RRN rule.
    if tenant_role not in TENANT_ROLES:
        raise InvalidPolicyInput("unknown tenant role", code="invalid_tenant_role")


def check_application(application: Mapping[str, Any]) -> None:
    if not isinstance(application, Mapping):
        raise InvalidPolicyInput("the application must be an object", code="invalid_application")
    if set(application) != set(NAME_AND_BIRTH_DATE):
        raise InvalidPolicyInput("the application must hold exactly familyName, givenName and birthDate",
                                 code="invalid_application")
    for name in NAME_AND_BIRTH_DATE:
        value = application[name]
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise InvalidPolicyInput(f"application {name} must be a non-empty string", code="invalid_application")


def _claims_of(disclosed: Mapping[str, Any] | None) -> dict[str, Any]:
    if disclosed is None:
        return {}
    if not isinstance(disclosed, Mapping):
        raise InvalidPolicyInput("the disclosed claims must be an object")
    # The subject id is the holder's DID, already bound by the presentation checks; it is not a claim the
    # policy asks for, so it is neither returned nor counted as over-disclosure.
    return {k: v for k, v in disclosed.items() if k != "id"}


def _credential_check(presentation_verified: bool, credential_type: str | None) -> Check:
    if presentation_verified is not True:
        return failed("credential", "presentation_not_verified", "the presentation did not verify")
    if credential_type != CREDENTIAL_TYPE:
        return failed("credential", "wrong_credential_type", f"a {CREDENTIAL_TYPE} is required")
    return passed("credential")


def _required_claims_check(policy: AccountOpeningPolicy, subject: Mapping[str, Any], credential_ok: bool) -> Check:
    if not credential_ok:
        return could_not_run("required_claims", "credential_not_verified", "no verified credential to read")
    missing = [name for name in policy.required_claims if name not in subject]
    if missing:
        return failed("required_claims", "missing_claims", "not disclosed: " + ", ".join(missing))
    return passed("required_claims")


def _adult_check(policy: AccountOpeningPolicy, subject: Mapping[str, Any], request_date: date,
                 credential_ok: bool) -> Check:
    if not credential_ok:
        return could_not_run("adult", "credential_not_verified", "no verified credential to read")
    if "birthDate" not in subject:
        return could_not_run("adult", "missing_claims", "birthDate was not disclosed")
    birth = parse_birth_date(subject["birthDate"])
    if birth is None:
        return failed("adult", "invalid_birth_date", "birthDate is not a calendar date YYYY-MM-DD")
    if age_on(birth, request_date) < policy.adult_age:
        return failed("adult", "not_adult", f"younger than {policy.adult_age} on the request date")
    return passed("adult")


def _normalized(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFC", value).strip()


def _application_check(application: Mapping[str, Any], subject: Mapping[str, Any], credential_ok: bool) -> Check:
    if not credential_ok:
        return could_not_run("application_match", "credential_not_verified", "no verified credential to read")
    absent = [name for name in NAME_AND_BIRTH_DATE if name not in subject]
    if absent:
        return could_not_run("application_match", "missing_claims", "not disclosed: " + ", ".join(absent))
    # Names only in the message: the values are personal data and the decision is kept for inspection.
    mismatched = [name for name in NAME_AND_BIRTH_DATE
                  if _normalized(subject[name]) is None or _normalized(subject[name]) != _normalized(application[name])]
    if mismatched:
        return failed("application_match", "application_mismatch",
                      "does not match the application: " + ", ".join(mismatched))
    return passed("application_match")


def _counted_methods(policy: AccountOpeningPolicy, credential_ok: bool, evidence: Sequence[EvidenceItem]) -> set[str]:
    counted = set()
    if credential_ok and DID_PRESENTATION in policy.counted_methods:
        counted.add(DID_PRESENTATION)
    for item in evidence:
        # A set: the same method reported twice is still one method, and a failed attempt never counts.
        if item.succeeded and item.method != DID_PRESENTATION and item.method in policy.counted_methods:
            counted.add(item.method)
    return counted


def _methods_check(policy: AccountOpeningPolicy, counted: set[str]) -> Check:
    if len(counted) < policy.required_methods:
        return failed("verification_methods", "insufficient_methods",
                      f"{len(counted)} distinct verification methods succeeded; {policy.required_methods} required")
    return passed("verification_methods")


def _rrn_check(tenant_role: str, requested: Collection[str]) -> Check:
    if tenant_role != FINANCIAL_INSTITUTION and RRN_CLAIM in requested:
        return failed("rrn_access", "rrn_not_permitted",
                      "only financial institutions may request the resident registration number")
    return passed("rrn_access")


def with_evidence(policy: AccountOpeningPolicy, decision: Decision, evidence: Sequence[EvidenceItem]) -> Decision:
    """``decision`` again with its verification-methods check recomputed from ``evidence``.

    Evidence a bank reports after the presentation changes only which methods counted; every other check was
    made from claim values the verifier no longer holds, so it is kept exactly as it was. The presentation
    counts as a method only if the ``credential`` check passed then.
    """
    if decision.policy != POLICY_NAME or decision.check("verification_methods") is None:
        raise InvalidPolicyInput("not an account-opening decision")
    if not all(isinstance(item, EvidenceItem) for item in evidence):
        raise InvalidPolicyInput("evidence must be EvidenceItem values", code="invalid_evidence")
    credential = decision.check("credential")
    counted = _counted_methods(policy, credential is not None and credential.status is CheckStatus.PASSED, evidence)
    methods = _methods_check(policy, counted)
    return Decision(
        policy=decision.policy,
        checks=tuple(methods if c.id == methods.id else c for c in decision.checks),
        disclosed_claims=decision.disclosed_claims,
        returned_claims=decision.returned_claims,
        dropped_claims=decision.dropped_claims,
        methods=tuple(sorted(counted)),
    )
