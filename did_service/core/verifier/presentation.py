"""Verify a presentation: the holder proves, for this verifier and this nonce, that they hold the credentials.

Two forms are accepted:

* an SD-JWT VC with a Key Binding JWT (compact, or enveloped as ``data:application/dc+sd-jwt,...``): the KB-JWT
  is the presentation; its ``nonce`` must be the challenge and its ``aud`` the domain;
* a VC Data Model 2.0 ``VerifiablePresentation`` secured with a Data Integrity proof (eddsa-rdfc-2022 or
  ecdsa-rdfc-2019) for ``authentication`` with the challenge and domain, signed by a key of ``holder``; each
  credential inside (Data Integrity or an enveloped vc+jwt) must name the holder as its subject.

An unsigned presentation proves nothing about who presents it and fails. The challenge and domain are the
verifier's own values, never read from the presentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Collection, Mapping

from did_service.core.credential import CRYPTOSUITE_ALGS, ENVELOPED_TYPE, SD_JWT_MEDIA_TYPE, VC_V2_CONTEXT
from did_service.core.proofs import data_integrity
from did_service.core.schema import SchemaRegistry
from did_service.core.trust import TrustRegistry
from did_service.core.verifier.report import Report
from did_service.core.verifier.secured import Binding, Opened, issuer_id
from did_service.core.verifier.verify import IssuerLog, Resolve, StatusFetch, controlled_key, verify_secured
from did_service.errors import DidServiceError

MAX_CREDENTIALS = 16


@dataclass
class PresentedCredential:
    report: Report
    opened: Opened | None
    format: str | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format, **self.report.to_dict()}
        if self.opened is not None:
            # Exactly what the holder disclosed, for the relying party to read; nothing else is kept here.
            credential = self.opened.credential
            types = credential.get("type")
            out["issuer"] = issuer_id(credential.get("issuer"))
            out["type"] = types if isinstance(types, list) else [types]
            out["credentialSubject"] = credential.get("credentialSubject")
        return out


@dataclass
class PresentationResult:
    report: Report  # the presentation's own checks
    credentials: list[PresentedCredential] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return (
            self.report.verified and bool(self.credentials) and all(c.report.verified for c in self.credentials)
        )

    def to_dict(self) -> dict[str, Any]:
        own = self.report.to_dict()
        errors = list(own["errors"])
        for position, item in enumerate(self.credentials):
            errors.extend({**error, "credential": position} for error in item.report.errors)
        return {
            "verified": self.verified,
            "checks": own["checks"],
            "warnings": own["warnings"],
            "errors": errors,
            "credentials": [item.to_dict() for item in self.credentials],
        }


def verify_presentation(
    value: Any,
    *,
    challenge: str,
    domain: str,
    resolve: Resolve,
    registry: SchemaRegistry,
    trusted_issuers: TrustRegistry | Collection[str],
    now: datetime,
    issuer_logs: Mapping[str, IssuerLog] | None = None,
    status_lists: StatusFetch | None = None,
) -> PresentationResult:
    common = dict(resolve=resolve, registry=registry, trusted_issuers=trusted_issuers, now=now,
                  issuer_logs=issuer_logs, status_lists=status_lists)
    if _is_sd_jwt(value):
        report, opened = verify_secured(value, binding=Binding(nonce=challenge, audience=domain), **common)
        result = PresentationResult(Report())
        result.report.passed("format")
        result.credentials.append(PresentedCredential(report, opened, "dc+sd-jwt"))
        return result
    return _verify_data_integrity_presentation(value, challenge, domain, common)


def _is_sd_jwt(value: Any) -> bool:
    """The same test read_secured applies, so no SD-JWT can reach the verifier without being seen as one here."""
    if isinstance(value, str):
        return "~" in value
    if isinstance(value, dict):
        types = value.get("type")
        types = [types] if isinstance(types, str) else types
        ident = value.get("id")
        return (isinstance(types, list) and ENVELOPED_TYPE in types and isinstance(ident, str)
                and ident.startswith(f"data:{SD_JWT_MEDIA_TYPE},"))
    return False


def _verify_data_integrity_presentation(
    value: Any, challenge: str, domain: str, common: dict[str, Any]
) -> PresentationResult:
    result = PresentationResult(Report())
    report = result.report
    problem = _presentation_shape_problem(value)
    if problem:
        report.failed("format", *problem)
        return result
    try:
        _, proof = data_integrity.read_proof(value)
    except DidServiceError as exc:
        report.failed("format", exc.code, exc.detail)
        return result
    report.passed("format")

    holder = value["holder"]
    material = controlled_key(report, "holder_key", holder, proof.verification_method, "authentication",
                              CRYPTOSUITE_ALGS.get(proof.cryptosuite), "key_suite_mismatch", common["resolve"])
    key = material[0] if material else None
    if key is None:
        report.could_not_run("signature", "holder_key_unavailable", "no holder key to check the proof with")
    else:
        try:
            data_integrity.verify_proof(
                value, proof, key, expected_purpose="authentication", challenge=challenge, domain=domain,
                now=common["now"],
            )
            report.passed("signature")
        except DidServiceError as exc:
            report.failed("signature", exc.code, exc.detail)

    credentials = value.get("verifiableCredential")
    for credential in credentials if isinstance(credentials, list) else [credentials]:
        if _is_sd_jwt(credential):
            item_report = Report()
            item_report.failed("format", "unsupported_format",
                               "an SD-JWT is presented on its own with a Key Binding JWT, not inside a presentation")
            result.credentials.append(PresentedCredential(item_report, None, "dc+sd-jwt"))
            continue
        item_report, opened = verify_secured(credential, **common)
        _check_subject_is_holder(item_report, opened, holder)
        result.credentials.append(PresentedCredential(item_report, opened, _format_of(credential)))
    return result


def _presentation_shape_problem(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return "malformed_presentation", "expected an SD-JWT with key binding or a VerifiablePresentation object"
    contexts = value.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != VC_V2_CONTEXT:
        return "invalid_context", f"the first @context must be {VC_V2_CONTEXT}"
    types = value.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "VerifiablePresentation" not in types:
        return "invalid_type", "type must hold VerifiablePresentation"
    holder = value.get("holder")
    if not isinstance(holder, str) or not holder.startswith("did:"):
        return "invalid_holder", "holder must be the presenting DID"
    credentials = value.get("verifiableCredential")
    count = len(credentials) if isinstance(credentials, list) else (1 if credentials else 0)
    if not 1 <= count <= MAX_CREDENTIALS:
        return "invalid_presentation", f"a presentation holds 1 to {MAX_CREDENTIALS} credentials"
    if "proof" not in value:
        return "proof_missing", "an unsigned presentation does not show who presents it"
    return None


def _check_subject_is_holder(report: Report, opened: Opened | None, holder: str) -> None:
    if opened is None:
        report.could_not_run("holder_binding", "unverified", "the credential did not verify")
        return
    subjects = opened.credential.get("credentialSubject")
    subjects = subjects if isinstance(subjects, list) else [subjects]
    ids = {s.get("id") for s in subjects if isinstance(s, dict)}
    if ids == {holder}:
        report.passed("holder_binding")
    elif ids == {None}:
        report.failed("holder_binding", "unbound_credential", "the credential names no subject to bind to the holder")
    else:
        report.failed("holder_binding", "holder_mismatch", "the credential's subject is not the presenting holder")


def _format_of(credential: Any) -> str | None:
    if isinstance(credential, dict) and isinstance(credential.get("proof"), dict):
        suite = credential["proof"].get("cryptosuite")
        return suite if isinstance(suite, str) else None
    return "vc+jwt"
