"""Verify a secured credential (vc+jwt, VC 1.1 JWT, SD-JWT VC, Data Integrity) into a report of checks.

Order (design.md section 4): parse -> issuer key from the issuer's DID document (never from the credential) ->
key type pinned to that key -> proof (signature; SD-JWT disclosures and holder binding) -> data model ->
validity window -> schema -> trusted issuer -> status -> anchored in the issuer's log.
Every check ends passed, failed or could_not_run; nothing here turns an unexpected error into a verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Collection, Mapping

from did_service.core import did as dids
from did_service.core import status_list
from did_service.core.credential import VC_V1_CONTEXT, VC_V2_CONTEXT, parse_datetime
from did_service.core.keys import alg_for_public_key
from did_service.core.proofs.jose import JoseError, public_jwk_object
from did_service.core.schema import CredentialType, SchemaRegistry
from did_service.core.trust import TrustRegistry
from did_service.core.verifier.report import Report
from did_service.core.verifier.secured import (
    Binding,
    KeyMaterial,
    Opened,
    ProofFailure,
    Secured,
    issuer_id,
    read_secured,
)
from did_service.core.tlog.receipt import Receipt, verify_receipt
from did_service.errors import DidServiceError, NotFound, ResolutionError, SchemaViolation, Unprocessable

LEEWAY = timedelta(seconds=60)
#: A credential has a revocation and a suspension entry; a few more are allowed, hundreds are an attack.
MAX_STATUS_ENTRIES = 4
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


def verify_credential(
    value: Any,
    *,
    resolve: Resolve,
    registry: SchemaRegistry,
    trusted_issuers: TrustRegistry | Collection[str],
    now: datetime,
    issuer_logs: Mapping[str, IssuerLog] | None = None,
    status_lists: StatusFetch | None = None,
    binding: Binding | None = None,
) -> Report:
    """Verify a credential of any accepted format (``secured.read_secured``) into a report of checks.

    ``trusted_issuers``: the trust registry (which DIDs may issue which registered credential type), or a set of
    DIDs trusted for all of them. Anyone can sign a well-formed ResidentIdentityCredential with a did:key; only
    the trust decision makes it worth anything, so a registered type from any other issuer fails
    ``trusted_issuer``.
    ``binding``: when given, the credential must be bound to the holder for this verifier and nonce (an SD-JWT
    with a Key Binding JWT); ``holder_binding`` is then a required check.
    """
    report, _ = verify_secured(
        value, resolve=resolve, registry=registry, trusted_issuers=trusted_issuers, now=now,
        issuer_logs=issuer_logs, status_lists=status_lists, binding=binding,
    )
    return report


def verify_secured(
    value: Any,
    *,
    resolve: Resolve,
    registry: SchemaRegistry,
    trusted_issuers: TrustRegistry | Collection[str],
    now: datetime,
    issuer_logs: Mapping[str, IssuerLog] | None = None,
    status_lists: StatusFetch | None = None,
    binding: Binding | None = None,
) -> tuple[Report, Opened | None]:
    """The report, and the credential as its proof verified it (None unless the proof verified)."""
    report = Report()
    try:
        secured = read_secured(value)
    except DidServiceError as exc:
        report.failed("format", exc.code, exc.detail)
        return report, None
    report.passed("format")

    key = _check_issuer_key(report, secured, resolve)
    opened = _check_proof(report, secured, key, now, binding)
    view = opened or secured.unverified
    if view is None:
        report.could_not_run("data_model", "unverified", "the credential cannot be read before its proof verifies")
        return report, None
    _check_data_model(report, secured, view)
    _check_validity_period(report, view, now)
    credential_type = _check_schema(report, view, registry)
    if credential_type is not None:
        _check_trusted_issuer(report, secured, trusted_issuers, credential_type.name)
    _check_status(report, secured, view, status_lists, resolve, registry, now, proof_verified=opened is not None)
    issuer_log = (issuer_logs or {}).get(secured.issuer or "")
    if issuer_log is not None:
        _check_anchored(report, secured, view, issuer_log)
    return report, opened


def _key_material(method: dict) -> KeyMaterial:
    return _key_material_cached(json.dumps(method, sort_keys=True))


@lru_cache(maxsize=1024)
def _key_material_cached(method_json: str) -> KeyMaterial:
    # Keyed by the whole verification method, so a changed document never reuses an old key.
    public_key = dids.public_key_from_verification_method(json.loads(method_json))
    return public_key, public_jwk_object(public_key)


def _absolute_kid(secured: Secured) -> str | None:
    kid = secured.verification_method
    if isinstance(kid, str) and kid.startswith("#") and secured.issuer:
        return secured.issuer + kid
    return kid


def _check_issuer_key(report: Report, secured: Secured, resolve: Resolve) -> KeyMaterial | None:
    check = "issuer_key"
    issuer = secured.issuer
    if issuer is None or not issuer.startswith("did:"):
        report.failed(check, "unsupported_issuer", "the issuer is not a DID")
        return None
    kid = _absolute_kid(secured)
    if not kid:
        report.failed(check, "missing_kid", "the proof names no verification method")
        return None
    return controlled_key(report, check, issuer, kid, "assertionMethod", secured.key_alg, "alg_key_mismatch", resolve)


def controlled_key(
    report: Report, check: str, controller: str, method_id: str, relationship: str, expected_alg: str | None,
    mismatch_code: str, resolve: Resolve,
) -> KeyMaterial | None:
    """The key ``method_id`` names, if it belongs to ``controller`` under ``relationship`` in the controller's own
    DID document and is of the type the proof needs; the outcome is recorded as ``check``.
    """
    try:
        method_did, fragment = dids.split_did_url(method_id)
    except ResolutionError as exc:
        report.failed(check, "kid_mismatch", f"the verification method is not a DID URL ({exc.code})")
        return None
    if method_did != controller or not fragment:
        report.failed(check, "kid_mismatch", "the verification method is not a key of the expected DID")
        return None
    try:
        method = dids.find_verification_method(resolve(controller), method_id, relationship)
        public_key, key_jwk = _key_material(method)
    except ResolutionError as exc:
        (report.could_not_run if exc.transient else report.failed)(check, exc.code, exc.detail)
        return None
    try:
        key_alg = alg_for_public_key(public_key)
    except ValueError:
        report.failed(check, "unsupported_key", "the key type is not supported")
        return None
    if expected_alg != key_alg:
        report.failed(check, mismatch_code, "the proof's algorithm does not match the key type")
        return None
    report.passed(check)
    return public_key, key_jwk


def _check_proof(
    report: Report, secured: Secured, key: KeyMaterial | None, now: datetime, binding: Binding | None
) -> Opened | None:
    """The signature and, by format, the disclosures and the holder binding: each its own check in the report."""
    expected = ["signature"]
    if secured.format == "dc+sd-jwt":
        expected.append("disclosures")
    if binding is not None:
        expected.append("holder_binding")
    if key is None:
        for check in expected:
            report.could_not_run(check, "issuer_key_unavailable", "no trusted issuer key to check the proof with")
        return None
    try:
        opened = secured.open(key, now, binding)
    except ProofFailure as failure:
        for check in expected:
            if check in failure.passed:
                report.passed(check)
            elif check == failure.check:
                report.failed(check, failure.code, failure.detail)
            else:
                report.could_not_run(check, "proof_invalid", "an earlier part of the proof failed")
        if failure.check not in expected:  # e.g. an invalid Key Binding JWT nobody asked for still fails
            report.failed(failure.check, failure.code, failure.detail)
        return None
    for check in expected:
        report.passed(check)
    return opened


def _check_data_model(report: Report, secured: Secured, view: Opened) -> None:
    problem = _data_model_problem(secured, view)
    if problem:
        report.failed("data_model", problem[0], problem[1])
    else:
        report.passed("data_model")


def _data_model_problem(secured: Secured, view: Opened) -> tuple[str, str] | None:
    credential, claims = view.credential, view.claims
    if secured.format == "dc+sd-jwt":
        if not isinstance(claims.get("iss"), str) or not isinstance(claims.get("vct"), str):
            return "invalid_claim", "an SD-JWT VC needs iss and vct strings"
    else:
        expected_context = VC_V2_CONTEXT if view.version == "2.0" else VC_V1_CONTEXT
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
    issuer = secured.issuer
    if issuer is None:
        return "invalid_issuer", "issuer must be a URL or an object with an id"
    if secured.format == "vc+jwt":
        if "iss" in claims and claims["iss"] != issuer:
            return "issuer_mismatch", "the iss claim and the credential issuer differ"
        if "jti" in claims and claims["jti"] != credential.get("id"):
            return "id_mismatch", "the jti claim and the credential id differ"
    elif secured.format == "jwt-vc-1.1":
        inner = issuer_id(credential.get("issuer"))
        if inner is not None and inner != issuer:
            return "issuer_mismatch", "the iss claim and vc.issuer differ"
    members = ("validFrom", "validUntil") if view.version == "2.0" else ("issuanceDate", "expirationDate")
    for member in members:
        if member in credential and parse_datetime(credential[member]) is None:
            return "invalid_datetime", f"{member} is not a dateTimeStamp"
    for claim in ("nbf", "exp", "iat"):
        if claim in claims and (isinstance(claims[claim], bool) or not isinstance(claims[claim], (int, float))):
            return "invalid_claim", f"the {claim} claim is not a number"
    return None


def _validity_bounds(view: Opened) -> tuple[list[datetime], list[datetime]]:
    credential, claims = view.credential, view.claims
    start_member, end_member = ("validFrom", "validUntil") if view.version == "2.0" else ("issuanceDate", "expirationDate")
    starts = [d for d in (parse_datetime(credential.get(start_member)),) if d]
    ends = [d for d in (parse_datetime(credential.get(end_member)),) if d]
    for claim, bucket in (("nbf", starts), ("exp", ends)):
        value = claims.get(claim)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                bucket.append(datetime.fromtimestamp(value, tz=timezone.utc))
            except (OverflowError, OSError, ValueError):
                bucket.append(datetime.max.replace(tzinfo=timezone.utc) if claim == "nbf" else datetime.min.replace(tzinfo=timezone.utc))
    return starts, ends


def _check_validity_period(report: Report, view: Opened, now: datetime) -> None:
    starts, ends = _validity_bounds(view)
    if any(now + LEEWAY < start for start in starts):
        report.failed("validity_period", "not_yet_valid", "the credential is not valid yet")
    elif any(now - LEEWAY > end for end in ends):
        report.failed("validity_period", "expired", "the credential has expired")
    else:
        report.passed("validity_period")


def _check_schema(report: Report, view: Opened, registry: SchemaRegistry) -> CredentialType | None:
    """The registered type the credential claims (None if none), after checking its subject against the schema."""
    types = view.credential.get("type")
    try:
        credential_type = registry.find_type(types if isinstance(types, list) else [])
    except Unprocessable as exc:  # e.g. two registered types: which schema applies is unknown
        report.failed("schema", exc.code, exc.detail)
        report.failed("trusted_issuer", "untrusted_issuer", "the credential type is ambiguous")
        return None
    if credential_type is None:
        report.warn("unknown_credential_type", "no schema is registered for this credential type; claims not checked")
        return None
    subjects = view.credential.get("credentialSubject")
    try:
        for subject in subjects if isinstance(subjects, list) else [subjects]:
            if not isinstance(subject, dict):
                raise SchemaViolation("credentialSubject must be an object")
            registry.validate_subject(credential_type.name, subject, disclosed_subset=view.disclosed_subset)
    except SchemaViolation as exc:
        report.failed("schema", exc.code, exc.detail)
        return credential_type
    report.passed("schema")
    return credential_type


def _check_trusted_issuer(
    report: Report, secured: Secured, trusted_issuers: TrustRegistry | Collection[str], credential_type: str
) -> None:
    if isinstance(trusted_issuers, TrustRegistry):
        trusted = trusted_issuers.trusts(secured.issuer, credential_type)
    else:  # a plain set of DIDs trusted for every registered type (tests, status lists)
        trusted = secured.issuer in trusted_issuers
    if trusted:
        report.passed("trusted_issuer")
    else:
        report.failed("trusted_issuer", "untrusted_issuer", "the issuer is not trusted for this credential type")


def _check_status(
    report: Report, secured: Secured, view: Opened, fetch: StatusFetch | None, resolve: Resolve,
    registry: SchemaRegistry, now: datetime, proof_verified: bool,
) -> None:
    """Every credentialStatus entry, fail closed: a list that cannot be fetched or verified is never a pass.

    The list credential is itself verified like any credential (its key from the issuer's DID document), must be
    issued by the credential's own issuer, and must be for the entry's purpose.
    """
    if secured.format == "dc+sd-jwt" and "status" in view.claims:
        # The IETF Token Status List mechanism: not implemented here, and never silently taken as "not revoked".
        report.could_not_run("status", "unsupported_status_mechanism", "the SD-JWT VC status claim is not supported")
        return
    if "credentialStatus" not in view.credential:
        return
    entries = view.credential["credentialStatus"]
    entries = entries if isinstance(entries, list) else [entries]  # null or garbage fails as a malformed entry
    if not proof_verified:
        # Fetching lists named by an unverified credential would let anyone make this service send requests.
        report.could_not_run("status", "unverified", "status lists are fetched only for a credential whose proof verified")
        return
    if len(entries) > MAX_STATUS_ENTRIES:
        report.failed("status", "too_many_status_entries", f"more than {MAX_STATUS_ENTRIES} status entries")
        return
    if fetch is None:
        report.could_not_run("status", "status_retrieval_error", "no way to fetch status lists here")
        return
    issuer = secured.issuer
    outcome: tuple[str, str, str] | None = None  # (kind, code, message) of the first entry that is not a pass
    for entry in entries or [None]:
        if outcome is not None:
            break  # the verdict is settled; the remaining lists need not be fetched
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
    list_report, opened = verify_secured(token, resolve=resolve, registry=registry, trusted_issuers=(), now=now)
    if not list_report.verified or opened is None:
        raise status_list.StatusListError("the status list credential does not verify", code="status_verification_error")
    list_credential = opened.credential
    bits = status_list.check_list_credential(list_credential, expected_issuer=issuer, purpose=purpose, list_url=list_url)
    if len(_VERIFIED_LISTS) >= _VERIFIED_LISTS_MAX:
        _VERIFIED_LISTS.clear()
    _VERIFIED_LISTS[key] = (bits, parse_datetime(list_credential.get("validUntil")))
    return bits


def _check_anchored(report: Report, secured: Secured, view: Opened, issuer_log: IssuerLog) -> None:
    """The exact credential is in the issuer's log under a signed checkpoint, and its key was in service then."""
    digest = secured.digest
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
    kid = _absolute_kid(secured)
    if entry.credential_digest != digest or entry.credential_id != view.credential.get("id") or entry.issuer_kid != kid:
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

