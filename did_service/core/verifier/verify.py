"""Verify a JWT-secured credential (VC 2.0 `vc+jwt`, or a VC 1.1 JWT) into a report of checks.

Order (design.md section 4): parse -> issuer key from the issuer's DID document (never from the token) ->
algorithm pinned to that key -> signature -> data model -> validity window -> schema -> status.
Every check ends passed, failed or could_not_run; nothing here turns an unexpected error into a verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Collection, Mapping

from jwcrypto.jwk import JWK

from did_service.core import did as dids
from did_service.core import status_list
from did_service.core.credential import (
    ENVELOPED_TYPE,
    VC_JWT_MEDIA_TYPE,
    VC_V1_CONTEXT,
    VC_V2_CONTEXT,
    parse_datetime,
)
from did_service.core.keys import PublicKey, alg_for_public_key
from did_service.core.proofs.jose import JoseError, ParsedJws, parse_compact, public_jwk_object, verify_signature
from did_service.core.schema import CredentialType, SchemaRegistry
from did_service.core.verifier.report import Report
from did_service.core.tlog.entries import credential_digest
from did_service.core.tlog.receipt import Receipt, verify_receipt
from did_service.errors import DidServiceError, NotFound, ResolutionError, SchemaViolation, Unprocessable

LEEWAY = timedelta(seconds=60)
Resolve = Callable[[str], dict]


# Fetches the signed status list credential at a URL (raises StatusListError code status_retrieval_error).
StatusFetch = Callable[[str], str]


@dataclass(frozen=True)
class AnchorEvidence:
    """What a log says about one credential: its receipt, and when its signing key entered and left service."""

    receipt: Receipt
    key_added_index: int | None
    key_retired_index: int | None


@dataclass(frozen=True)
class IssuerLog:
    """An issuer's transparency log: its checkpoint verifier key and origin, and how to fetch evidence by digest.

    ``lookup`` raises NotFound when the digest is not in the log and any other DidServiceError when the log could
    not be asked (then the check could not run)."""

    vkey: str
    origin: str
    lookup: Callable[[str], AnchorEvidence]


@dataclass(frozen=True)
class JwtCredential:
    """A parsed token and the credential it carries, normalised to VC 2.0 member names."""

    parsed: ParsedJws
    version: str  # "2.0" | "1.1"
    credential: dict[str, Any]
    issuer: Any


def extract_jwt(value: Any) -> str:
    """The compact JWT inside a verify request's `verifiableCredential` (enveloped form or a bare string)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        types = value.get("type")
        types = [types] if isinstance(types, str) else types
        if isinstance(types, list) and ENVELOPED_TYPE in types:
            ident = value.get("id")
            prefix = f"data:{VC_JWT_MEDIA_TYPE},"
            if isinstance(ident, str) and ident.startswith(prefix):
                return ident[len(prefix):]
            raise JoseError("the enveloped credential is not a data: URL of application/vc+jwt", code="unsupported_format")
        if "proof" in value:
            raise JoseError("Data Integrity secured credentials are not supported yet", code="unsupported_format")
    raise JoseError("expected a compact vc+jwt or an EnvelopedVerifiableCredential", code="malformed_credential")


def _classify(parsed: ParsedJws) -> JwtCredential:
    typ = parsed.header.get("typ")
    payload = parsed.payload
    if typ == "vc+jwt":
        if "vc" in payload:
            raise JoseError("a vc+jwt payload is the credential itself, not a `vc` claim", code="invalid_typ")
        return JwtCredential(parsed, "2.0", payload, payload.get("issuer"))
    if typ in (None, "JWT") and isinstance(payload.get("vc"), dict):
        # VC 1.1 JWT encoding (VCDM 1.1 section 6.3.1): registered claims stand in for credential members.
        credential = dict(payload["vc"])
        if "jti" in payload:
            credential.setdefault("id", payload["jti"])
        subject = credential.get("credentialSubject")
        if isinstance(subject, dict) and isinstance(payload.get("sub"), str):
            credential["credentialSubject"] = {**subject, "id": subject.get("id", payload["sub"])}
        return JwtCredential(parsed, "1.1", credential, payload.get("iss"))
    raise JoseError("the token type is neither vc+jwt nor a VC 1.1 JWT", code="invalid_typ")


def _issuer_id(issuer: Any) -> str | None:
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def verify_credential(
    value: Any,
    *,
    resolve: Resolve,
    registry: SchemaRegistry,
    trusted_issuers: Collection[str],
    now: datetime,
    issuer_logs: Mapping[str, IssuerLog] | None = None,
    status_lists: StatusFetch | None = None,
) -> Report:
    """``trusted_issuers``: the DIDs allowed to issue the registered credential types (identity, residence...).

    Anyone can sign a well-formed ResidentIdentityCredential with a did:key; only the trust decision makes it
    worth anything, so a registered type from any other issuer fails ``trusted_issuer``.
    """
    report = Report()
    try:
        jwt_vc = _classify(parse_compact(extract_jwt(value)))
    except JoseError as exc:
        report.failed("format", exc.code, exc.detail)
        return report
    report.passed("format")

    key = _check_issuer_key(report, jwt_vc, resolve)
    _check_signature(report, jwt_vc, key)
    _check_data_model(report, jwt_vc)
    _check_validity_period(report, jwt_vc, now)
    credential_type = _check_schema(report, jwt_vc, registry)
    if credential_type is not None:
        _check_trusted_issuer(report, jwt_vc, trusted_issuers)
    _check_status(report, jwt_vc, status_lists, resolve, registry, now)
    issuer_log = (issuer_logs or {}).get(_issuer_id(jwt_vc.issuer) or "")
    if issuer_log is not None:
        _check_anchored(report, jwt_vc, issuer_log)
    return report


KeyMaterial = tuple[PublicKey, JWK]


def _key_material(method: dict) -> KeyMaterial:
    return _key_material_cached(json.dumps(method, sort_keys=True))


@lru_cache(maxsize=1024)
def _key_material_cached(method_json: str) -> KeyMaterial:
    # Keyed by the whole verification method, so a changed document never reuses an old key.
    public_key = dids.public_key_from_verification_method(json.loads(method_json))
    return public_key, public_jwk_object(public_key)


def _check_issuer_key(report: Report, jwt_vc: JwtCredential, resolve: Resolve) -> KeyMaterial | None:
    check = "issuer_key"
    issuer = _issuer_id(jwt_vc.issuer)
    if issuer is None or not issuer.startswith("did:"):
        report.failed(check, "unsupported_issuer", "the issuer is not a DID")
        return None
    kid = jwt_vc.parsed.header.get("kid")
    if not kid:
        report.failed(check, "missing_kid", "the token header has no kid")
        return None
    if kid.startswith("#"):
        kid = issuer + kid
    try:
        kid_did, fragment = dids.split_did_url(kid)
    except ResolutionError as exc:
        report.failed(check, "kid_mismatch", f"the kid is not a DID URL ({exc.code})")
        return None
    if kid_did != issuer or not fragment:
        report.failed(check, "kid_mismatch", "the kid does not name a key of the issuer")
        return None
    try:
        document = resolve(issuer)
        method = dids.find_verification_method(document, kid, "assertionMethod")
        public_key, key_jwk = _key_material(method)
    except ResolutionError as exc:
        if exc.transient:
            report.could_not_run(check, exc.code, exc.detail)
        else:
            report.failed(check, exc.code, exc.detail)
        return None
    try:
        expected_alg = alg_for_public_key(public_key)
    except ValueError:
        report.failed(check, "unsupported_key", "the issuer key type is not supported")
        return None
    if jwt_vc.parsed.alg != expected_alg:
        report.failed(check, "alg_key_mismatch", "the token's algorithm does not match the issuer key type")
        return None
    report.passed(check)
    return public_key, key_jwk


def _check_signature(report: Report, jwt_vc: JwtCredential, key: KeyMaterial | None) -> None:
    if key is None:
        report.could_not_run("signature", "issuer_key_unavailable", "no trusted issuer key to check the signature with")
        return
    try:
        verify_signature(jwt_vc.parsed, *key)
    except JoseError as exc:
        report.failed("signature", exc.code, exc.detail)
        return
    report.passed("signature")


def _check_data_model(report: Report, jwt_vc: JwtCredential) -> None:
    problem = _data_model_problem(jwt_vc)
    if problem:
        report.failed("data_model", problem[0], problem[1])
    else:
        report.passed("data_model")


def _data_model_problem(jwt_vc: JwtCredential) -> tuple[str, str] | None:
    credential, payload = jwt_vc.credential, jwt_vc.parsed.payload
    expected_context = VC_V2_CONTEXT if jwt_vc.version == "2.0" else VC_V1_CONTEXT
    contexts = credential.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != expected_context:
        return "invalid_context", f"the first @context must be {expected_context}"
    types = credential.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        return "invalid_type", "type must be a list holding VerifiableCredential"
    subjects = credential.get("credentialSubject")
    subject_list = subjects if isinstance(subjects, list) else [subjects]
    if not subject_list or not all(isinstance(s, dict) and s for s in subject_list):
        return "invalid_subject", "credentialSubject must be a non-empty object"
    issuer = _issuer_id(jwt_vc.issuer)
    if issuer is None:
        return "invalid_issuer", "issuer must be a URL or an object with an id"
    if jwt_vc.version == "2.0":
        if "iss" in payload and payload["iss"] != issuer:
            return "issuer_mismatch", "the iss claim and the credential issuer differ"
        if "jti" in payload and payload["jti"] != credential.get("id"):
            return "id_mismatch", "the jti claim and the credential id differ"
        for member in ("validFrom", "validUntil"):
            if member in credential and parse_datetime(credential[member]) is None:
                return "invalid_datetime", f"{member} is not a dateTimeStamp"
    else:
        inner = _issuer_id(credential.get("issuer"))
        if inner is not None and inner != issuer:
            return "issuer_mismatch", "the iss claim and vc.issuer differ"
        for member in ("issuanceDate", "expirationDate"):
            if member in credential and parse_datetime(credential[member]) is None:
                return "invalid_datetime", f"{member} is not a dateTimeStamp"
    for claim in ("nbf", "exp", "iat"):
        if claim in payload and (isinstance(payload[claim], bool) or not isinstance(payload[claim], (int, float))):
            return "invalid_claim", f"the {claim} claim is not a number"
    return None


def _validity_bounds(jwt_vc: JwtCredential) -> tuple[list[datetime], list[datetime]]:
    credential, payload = jwt_vc.credential, jwt_vc.parsed.payload
    start_member, end_member = ("validFrom", "validUntil") if jwt_vc.version == "2.0" else ("issuanceDate", "expirationDate")
    starts = [d for d in (parse_datetime(credential.get(start_member)),) if d]
    ends = [d for d in (parse_datetime(credential.get(end_member)),) if d]
    for claim, bucket in (("nbf", starts), ("exp", ends)):
        value = payload.get(claim)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                bucket.append(datetime.fromtimestamp(value, tz=timezone.utc))
            except (OverflowError, OSError, ValueError):
                bucket.append(datetime.max.replace(tzinfo=timezone.utc) if claim == "nbf" else datetime.min.replace(tzinfo=timezone.utc))
    return starts, ends


def _check_validity_period(report: Report, jwt_vc: JwtCredential, now: datetime) -> None:
    starts, ends = _validity_bounds(jwt_vc)
    if any(now + LEEWAY < start for start in starts):
        report.failed("validity_period", "not_yet_valid", "the credential is not valid yet")
    elif any(now - LEEWAY > end for end in ends):
        report.failed("validity_period", "expired", "the credential has expired")
    else:
        report.passed("validity_period")


def _check_schema(report: Report, jwt_vc: JwtCredential, registry: SchemaRegistry) -> CredentialType | None:
    """The registered type the credential claims (None if none), after checking its subject against the schema."""
    types = jwt_vc.credential.get("type")
    try:
        credential_type = registry.find_type(types if isinstance(types, list) else [])
    except Unprocessable as exc:  # e.g. two registered types: which schema applies is unknown
        report.failed("schema", exc.code, exc.detail)
        report.failed("trusted_issuer", "untrusted_issuer", "the credential type is ambiguous")
        return None
    if credential_type is None:
        report.warn("unknown_credential_type", "no schema is registered for this credential type; claims not checked")
        return None
    subjects = jwt_vc.credential.get("credentialSubject")
    try:
        for subject in subjects if isinstance(subjects, list) else [subjects]:
            if not isinstance(subject, dict):
                raise SchemaViolation("credentialSubject must be an object")
            registry.validate_subject(credential_type.name, subject)
    except SchemaViolation as exc:
        report.failed("schema", exc.code, exc.detail)
        return credential_type
    report.passed("schema")
    return credential_type


def _check_trusted_issuer(report: Report, jwt_vc: JwtCredential, trusted_issuers: Collection[str]) -> None:
    if _issuer_id(jwt_vc.issuer) in trusted_issuers:
        report.passed("trusted_issuer")
    else:
        report.failed("trusted_issuer", "untrusted_issuer", "the issuer is not trusted for this credential type")


def _check_status(
    report: Report, jwt_vc: JwtCredential, fetch: StatusFetch | None, resolve: Resolve, registry: SchemaRegistry,
    now: datetime,
) -> None:
    """Every credentialStatus entry, fail closed: a list that cannot be fetched or verified is never a pass.

    The list credential is itself verified like any credential (its key from the issuer's DID document), must be
    issued by the credential's own issuer, and must be for the entry's purpose.
    """
    if "credentialStatus" not in jwt_vc.credential:
        return
    entries = jwt_vc.credential["credentialStatus"]
    entries = entries if isinstance(entries, list) else [entries]  # null or garbage fails as a malformed entry
    if fetch is None:
        report.could_not_run("status", "status_retrieval_error", "no way to fetch status lists here")
        return
    issuer = _issuer_id(jwt_vc.issuer)
    outcome: tuple[str, str, str] | None = None  # (kind, code, message) of the first entry that is not a pass
    for entry in entries or [None]:
        try:
            list_url, purpose, index = status_list.parse_status_entry(entry)
            bits = _verified_list_bits(fetch(list_url), issuer, purpose, list_url, resolve, registry, now)
            if status_list.get_bit(bits, index):
                code = _STATUS_CODES[purpose]
                outcome = outcome or ("failed", code, f"the credential is {code}")
        except status_list.StatusListError as exc:
            kind = "could_not_run" if exc.code == "status_retrieval_error" else "failed"
            outcome = outcome or (kind, exc.code, exc.detail)
        except JoseError as exc:
            outcome = outcome or ("failed", "status_verification_error", exc.detail)
    if outcome is None:
        report.passed("status")
    elif outcome[0] == "failed":
        report.failed("status", outcome[1], outcome[2])
    else:
        report.could_not_run("status", outcome[1], outcome[2])


_STATUS_CODES = {"revocation": "revoked", "suspension": "suspended"}
# Lists verified recently, by (token, issuer, purpose, url): a verifier checks many credentials against the same few
# lists, and a list token that verified stays valid until its validUntil; a new token (a change) is a new key.
_VERIFIED_LISTS: dict[tuple[str, str | None, str, str], tuple[bytes, datetime | None]] = {}
_VERIFIED_LISTS_MAX = 256


def _verified_list_bits(
    token: str, issuer: str | None, purpose: str, list_url: str, resolve: Resolve, registry: SchemaRegistry, now: datetime
) -> bytes:
    key = (token, issuer, purpose, list_url)
    cached = _VERIFIED_LISTS.get(key)
    if cached is not None and (cached[1] is None or now - LEEWAY <= cached[1]):
        return cached[0]
    list_report = verify_credential(token, resolve=resolve, registry=registry, trusted_issuers=(), now=now)
    if not list_report.verified:
        raise status_list.StatusListError("the status list credential does not verify", code="status_verification_error")
    list_credential = parse_compact(extract_jwt(token)).payload
    bits = status_list.check_list_credential(list_credential, expected_issuer=issuer, purpose=purpose, list_url=list_url)
    if len(_VERIFIED_LISTS) >= _VERIFIED_LISTS_MAX:
        _VERIFIED_LISTS.clear()
    _VERIFIED_LISTS[key] = (bits, parse_datetime(list_credential.get("validUntil")))
    return bits


def _check_anchored(report: Report, jwt_vc: JwtCredential, issuer_log: IssuerLog) -> None:
    """The exact token is in the issuer's log under a signed checkpoint, and its key was in service at that point."""
    digest = credential_digest(jwt_vc.parsed.token)
    try:
        evidence = issuer_log.lookup(digest)
    except NotFound:
        report.failed("anchored", "not_anchored", "the credential is not in the issuer's transparency log")
        report.could_not_run("key_history", "not_anchored", "no log position to compare the key's history with")
        return
    except DidServiceError as exc:
        report.could_not_run("anchored", exc.code, exc.detail)
        report.could_not_run("key_history", exc.code, "the log could not be read")
        return
    try:
        entry, _ = verify_receipt(evidence.receipt, issuer_log.vkey, origin=issuer_log.origin)
    except DidServiceError as exc:
        report.failed("anchored", exc.code, f"the log receipt does not verify: {exc.detail}")
        report.could_not_run("key_history", "not_anchored", "no verified log position")
        return
    kid = jwt_vc.parsed.header.get("kid", "")
    kid = _issuer_id(jwt_vc.issuer) + kid if kid.startswith("#") else kid
    if entry.credential_digest != digest or entry.credential_id != jwt_vc.credential.get("id") or entry.issuer_kid != kid:
        report.failed("anchored", "anchor_mismatch", "the log entry is for another credential or key")
        report.could_not_run("key_history", "not_anchored", "no matching log entry")
        return
    report.passed("anchored")
    index = evidence.receipt.leaf_index
    added, retired = evidence.key_added_index, evidence.key_retired_index
    if added is None or added >= index or (retired is not None and retired <= index):
        report.failed("key_history", "key_not_active", "the signing key was not in service when the credential was logged")
    else:
        report.passed("key_history")

