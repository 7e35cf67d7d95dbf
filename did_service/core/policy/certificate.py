"""The certificate policy: residence certificate, diploma, notarized document.

Trust, validity, status, anchoring and schema are the verifier's checks (``presentation_verified``); this policy
adds that the type is one it decides on and, for a notarized document, that a document the verifier was given
is the one notarized (its SHA-256 equals the credential's ``document.digestSha256``).

Pure: the verifier's outcome, the disclosed claims and the document's bytes are passed in.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping

from did_service.core.policy.decision import Check, CheckStatus, Decision, InvalidPolicyInput, could_not_run, \
    failed, passed

POLICY_NAME = "certificate"
NOTARIZED_DOCUMENT = "NotarizedDocumentCredential"

# The claims this policy asks for, per type: every top-level property of the type's credentialSubject schema
# (schemas/credentials/<type>.schema.json) except the subject id. Written out because core reads no files;
# tests check them against the schemas so the two cannot drift apart.
CLAIMS_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "ResidenceCertificateCredential": ("address", "movedInDate", "household", "purpose"),
    "DiplomaCredential": ("graduate", "institution", "degree", "fieldOfStudy", "dateAwarded"),
    NOTARIZED_DOCUMENT: ("document", "notary", "jurisdiction", "notarizationNumber", "apostilleNumber",
                         "notarizedDate"),
}

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def evaluate_certificate(
    *,
    credential_type: str | None,
    presentation_verified: bool,
    disclosed: Mapping[str, Any] | None,
    document_bytes: bytes | None,
) -> Decision:
    if disclosed is not None and not isinstance(disclosed, Mapping):
        raise InvalidPolicyInput("the disclosed claims must be an object")
    if document_bytes is not None and not isinstance(document_bytes, (bytes, bytearray, memoryview)):
        raise InvalidPolicyInput("the document must be bytes")
    # The subject id is the holder's DID, bound by the verifier; not a claim the policy asks for.
    subject = {k: v for k, v in (disclosed or {}).items() if k != "id"}

    checks: list[Check] = []
    if presentation_verified is True:
        checks.append(passed("credential"))
    else:
        checks.append(failed("credential", "presentation_not_verified", "the credential did not verify"))
    supported = credential_type in CLAIMS_BY_TYPE
    if supported:
        checks.append(passed("credential_type"))
    else:
        checks.append(failed("credential_type", "unsupported_credential_type",
                             "not a residence certificate, diploma or notarized document"))
    if document_bytes is not None:
        checks.append(_document_check(credential_type, checks[0].status is CheckStatus.PASSED, subject,
                                      bytes(document_bytes)))

    allowed = set(CLAIMS_BY_TYPE.get(credential_type or "", ()))
    names = sorted(subject)
    credential_ok = presentation_verified is True and supported
    return Decision(
        policy=POLICY_NAME,
        checks=tuple(checks),
        disclosed_claims=tuple(names),
        returned_claims={k: subject[k] for k in names if k in allowed} if credential_ok else {},
        dropped_claims=tuple(k for k in names if k not in allowed),
    )


def _document_check(credential_type: str | None, credential_ok: bool, subject: Mapping[str, Any],
                    document: bytes) -> Check:
    check = "document_digest"
    # A document sent with any other type would otherwise be silently ignored, and the caller would believe it
    # had been checked.
    if credential_type != NOTARIZED_DOCUMENT:
        return failed(check, "document_not_applicable", "only a notarized document credential has a document digest")
    if not credential_ok:
        return could_not_run(check, "credential_not_verified", "no verified credential to compare with")
    claim = subject.get("document")
    expected = claim.get("digestSha256") if isinstance(claim, Mapping) else None
    if not isinstance(expected, str) or not _SHA256_HEX.fullmatch(expected):
        return could_not_run(check, "document_digest_not_disclosed",
                             "the credential's document.digestSha256 was not disclosed")
    if hashlib.sha256(document).hexdigest() != expected:
        return failed(check, "document_digest_mismatch", "the document is not the one notarized")
    return passed(check)
