"""The verifier for relying parties: OpenID4VP 1.0 presentation requests, decisions and their receipts.

A tenant (a bank, an employer) creates a request under a policy; the wallet fetches the signed Request Object,
answers at the response URI once (the transaction's version is compared and swapped, so of two concurrent
answers exactly one is taken), and the tenant reads the decision or receives a signed webhook.

What is kept: the decision (every check, claim *names*, the counted methods), its signed receipt and the
SHA-256 of the vp_token. What is not: claim values. The application the bank sent and the claims it may read are
personal data, so they are sealed (AES-GCM under a key derived from the KEK) and dropped as soon as they are no
longer needed: the application when the wallet answers, the claims after ``verifier_claims_ttl``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import segno

from did_service.config import Settings
from did_service.core.credential import vct_for
from did_service.core.did_document import build_verifier_document, jwk_method_id
from did_service.core.oid4vp import dcql
from did_service.core.oid4vp.request import (
    REQUEST_TYP,
    WalletResponse,
    client_id_for,
    deep_link,
    parse_response,
    request_object,
)
from did_service.core.policy import account_opening, certificate
from did_service.core.policy.account_opening import AccountOpeningPolicy
from did_service.core.policy.decision import Check, CheckStatus, Decision, EvidenceItem, InvalidPolicyInput, \
    could_not_run, failed, passed
from did_service.core.proofs import jose
from did_service.core.receipt_jws import receipt_from_decision, sign_receipt
from did_service.core.schema import SchemaRegistry
from did_service.core.sealed import open_sealed, seal
from did_service.core.tlog.checkpoint import Checkpoint
from did_service.core.verifier.presentation import PresentationResult
from did_service.errors import Conflict, DidServiceError, Forbidden, NotFound, Unprocessable
from did_service.services.keyring import LiveKeyring
from did_service.services.resolver import is_public_host_name
from did_service.storage.base import Store, TenantRecord, VerifierTransaction

log = logging.getLogger(__name__)

ACCOUNT_OPENING = "account_opening"
# Request policies: the credential type each asks for. The three certificate policies decide under
# core.policy.certificate.
POLICY_TYPES: Mapping[str, str] = {
    ACCOUNT_OPENING: account_opening.CREDENTIAL_TYPE,
    "residence_certificate": "ResidenceCertificateCredential",
    "diploma": "DiplomaCredential",
    "notarized_document": certificate.NOTARIZED_DOCUMENT,
}
MAX_EVIDENCE = 16
SWEEP_INTERVAL = 30.0  # seconds between retention sweeps in one process
EVIDENCE_CLOCK_SKEW = timedelta(minutes=5)
EVIDENCE_MAX_AGE = timedelta(days=1)  # how long before the request a method may have been performed
# The checks about the wallet's answer itself; any failing one is reported to the wallet as well as the tenant.
# The verifier's own checks keep their names under two prefixes: the presentation's and its credential's.
PRESENTATION_CHECK_PREFIX = "presentation."
CREDENTIAL_CHECK_PREFIX = "credential."
RESPONSE_CHECKS = ("wallet_response", "dcql", "minimal_disclosure")
WEBHOOK_SIGNATURE_HEADER = "DidService-Signature"


class RequestNotFound(NotFound):
    code = "request_not_found"
    title = "No such presentation request"


class TransactionExpired(NotFound):
    code = "transaction_expired"
    title = "The presentation request has expired"


class TransactionUsed(Conflict):
    code = "transaction_already_used"
    title = "The presentation request was already answered"


class NotYourRequest(Forbidden):
    code = "request_of_another_tenant"
    title = "The request belongs to another tenant"


class PresentationRejected(Unprocessable):
    """The wallet's answer was taken and decided on, and rejected; the decision is stored for the tenant."""

    title = "The presentation was rejected"


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]


@dataclass(frozen=True)
class _Answer:
    """What the wallet's answer showed, before any policy: kept only while the answer is being decided."""

    checks: list[Check]
    verified: bool = False
    credential: Mapping[str, Any] | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)
    digest: str | None = None

    @property
    def sound(self) -> bool:
        return self.verified and all(c.status is CheckStatus.PASSED for c in self.checks)


WebhookSender = Callable[[str, bytes, Mapping[str, str]], None]


class VerifierService:
    def __init__(
        self, *, store: Store, keys: LiveKeyring, registry: SchemaRegistry, issuer_did: str, settings: Settings,
        verify: Callable[[str, str, str], PresentationResult], seal_key: bytes, webhook_key: bytes,
        clock: Callable[[], datetime], log_origin: str, webhook_sender: WebhookSender | None = None,
    ) -> None:
        self._log_origin = log_origin
        self._store, self._keys, self._registry = store, keys, registry
        self._public_url = settings.public_url
        self._settings = settings
        self._verify = verify
        self._seal_key, self._webhook_key = seal_key, webhook_key
        self._clock = clock
        self.webhook_sender = webhook_sender
        self.did = f"{issuer_did}:verifier"
        self._tenant_did_base = f"{issuer_did}:verifiers:"
        self.policy = AccountOpeningPolicy(adult_age=settings.adult_age, **(
            {"counted_methods": frozenset(settings.account_opening_methods)} if settings.account_opening_methods else {}))
        self._last_sweep = float("-inf")

    # --- identity ------------------------------------------------------------------------------------------

    def tenant_did(self, tenant_id: str) -> str:
        return self._tenant_did_base + tenant_id

    def client_id(self, tenant_id: str) -> str:
        return client_id_for(self.tenant_did(tenant_id))

    def document(self, did: str) -> dict[str, Any]:
        """The DID document of the verifier or of a tenant's client identity: every verifier key, retired ones
        too, so receipts they signed still verify."""
        ring = self._keys.current()[0]
        relationship = "assertionMethod" if did == self.did else "authentication"
        return build_verifier_document(did, [state.key for state in ring.verifier_keys], relationship)

    def jwks(self) -> dict[str, Any]:
        ring = self._keys.current()[0]
        return {"keys": [{**state.key.public_jwk, "kid": jwk_method_id(self.did, state.key), "use": "sig",
                          "alg": state.key.alg} for state in ring.verifier_keys]}

    # --- the tenant's side ---------------------------------------------------------------------------------

    def create_request(self, tenant: TenantRecord, body: Mapping[str, Any]) -> Created:
        now = self._clock()
        unknown = set(body) - {"policy", "application", "webhook_url"}
        if unknown:
            raise Unprocessable("the body holds policy, application and webhook_url only",
                                code="unsupported_request_field")
        policy = body.get("policy")
        if not isinstance(policy, str) or policy not in POLICY_TYPES:
            raise Unprocessable("`policy` is one of " + ", ".join(POLICY_TYPES), code="unsupported_policy")
        application = body.get("application")
        if application is not None:
            if policy != ACCOUNT_OPENING:
                raise Unprocessable("an application is matched only under account_opening", code="invalid_application")
            account_opening.check_application(application)
        webhook_url = body.get("webhook_url")
        if webhook_url is not None:
            _check_webhook_url(webhook_url)

        credential_type = POLICY_TYPES[policy]
        claims = self._requested_claims(policy, tenant.role)
        request_id, nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        expires = now + timedelta(seconds=self._settings.verifier_request_ttl)
        query = dcql.query_for(credential_type, claims, vct=vct_for(self._public_url, credential_type))
        key = self._keys.current()[0].verifier_key
        payload = request_object(
            client_id=self.client_id(tenant.tenant_id), response_uri=f"{self._public_url}/oid4vp/responses/{request_id}",
            nonce=nonce, state=state, dcql_query=query, issued_at=now, expires_at=expires, client_name=tenant.name,
        )
        signed = jose.sign_compact(payload, key, jwk_method_id(self.tenant_did(tenant.tenant_id), key), REQUEST_TYP)
        record = VerifierTransaction(
            request_id=request_id, tenant_id=tenant.tenant_id, policy=policy, nonce=nonce, state=state,
            created_at=now, expires_at=expires,
            purge_at=now + timedelta(days=self._settings.verifier_retention_days),
            details={"credentialType": credential_type, "claims": claims, "query": query, "role": tenant.role,
                     "requestObject": signed, "webhookUrl": webhook_url, "evidence": []},
            sealed=seal(self._seal_key, request_id, application) if application is not None else b"",
            # Unanswered, the application is of no use after the request expires.
            sealed_until=expires if application is not None else None,
        )
        self._maybe_sweep()
        self._store.add_transaction(record)
        request_uri = f"{self._public_url}/oid4vp/requests/{request_id}"
        out = {
            "id": request_id,
            "policy": policy,
            "client_id": self.client_id(tenant.tenant_id),
            "request_uri": request_uri,
            "qr_png_url": f"{request_uri}/qr.png",
            "deep_link": deep_link(self.client_id(tenant.tenant_id), request_uri),
            "expires_at": _iso(expires),
        }
        if webhook_url is not None:
            out["webhook_secret"] = self.webhook_secret(request_id)
        return Created(out)

    def result(self, tenant: TenantRecord, request_id: str) -> dict[str, Any]:
        now = self._clock()
        tx = self._own(tenant, request_id, now)
        # The store hands out sealed data only before its sealed_until: afterwards there are no claims to open.
        claims = open_sealed(self._seal_key, request_id, tx.sealed) if tx.status == "responded" and tx.sealed else None
        return self._view(tx, now, claims)

    def sweep(self) -> tuple[int, int]:
        """Delete records past their retention and sealed data past its time: (records purged, sealed dropped).

        Reads never return either, so this is about what stays on disk; the service runs it at most every
        SWEEP_INTERVAL seconds as requests come, and `did-service verifier sweep` runs it from cron."""
        now = self._clock()
        purged = dropped = 0
        while (n := self._store.purge_transactions(now, limit=1000)):
            purged += n
        while (n := self._store.drop_expired_sealed(now, limit=1000)):
            dropped += n
        # Finished rate-limit windows (API keys, logins, spent wallet nonces) go with the same sweep.
        while self._store.purge_rate_counters(now, limit=10000):
            pass
        return purged, dropped

    def _maybe_sweep(self) -> None:
        moment = time.monotonic()
        if moment - self._last_sweep < SWEEP_INTERVAL:
            return
        self._last_sweep = moment
        self.sweep()

    def list_requests(self, tenant: TenantRecord, limit: int) -> list[dict[str, Any]]:
        """The tenant's requests, newest first: status and decision, never claim values."""
        now = self._clock()
        return [self._view(tx, now, None) for tx in self._store.list_transactions(tenant.tenant_id, now, limit)]

    def add_evidence(self, tenant: TenantRecord, request_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Record a verification method the bank performed; after the wallet answered, re-decide on it."""
        item = _evidence_item(body)
        if item.method == account_opening.DID_PRESENTATION or item.method not in self.policy.counted_methods:
            # A bank cannot stand in for the presentation this service verifies, and a method the policy does not
            # know would be stored and never counted, which the bank would not notice.
            raise Unprocessable("`method` is one of " + ", ".join(sorted(
                self.policy.counted_methods - {account_opening.DID_PRESENTATION})), code="unknown_method")
        for _ in range(5):  # a concurrent change moved the version: read again and redo
            now = self._clock()
            if item.performed_at > now + EVIDENCE_CLOCK_SKEW:
                raise Unprocessable("performedAt is in the future", code="invalid_evidence")
            tx = self._own(tenant, request_id, now)
            if item.performed_at < tx.created_at - EVIDENCE_MAX_AGE:
                # An old check proves nothing about this applicant today.
                raise Unprocessable("performedAt is more than a day before the request", code="stale_evidence")
            if tx.policy != ACCOUNT_OPENING:
                raise Unprocessable("evidence counts only under account_opening", code="evidence_not_applicable")
            if tx.status == "pending" and now >= tx.expires_at:
                raise TransactionExpired("the presentation request has expired")
            evidence = [*tx.details["evidence"], item.to_dict()]
            if len(evidence) > MAX_EVIDENCE:
                raise Unprocessable(f"at most {MAX_EVIDENCE} evidence items per request", code="too_much_evidence")
            details = {**tx.details, "evidence": evidence}
            if tx.status == "responded":
                decision = account_opening.with_evidence(
                    self.policy, _decision_from_record(tx.details["decision"]), [_evidence_from(e) for e in evidence]
                )
                details.update(self._decided(tx, decision, now))
            swapped = self._store.swap_transaction(replace(tx, details=details), tx.version, now)
            if swapped is not None:
                if tx.status == "responded":
                    self._notify(swapped)
                return self._view(swapped, now, None)
        raise Conflict("the request is being changed concurrently; try again", code="concurrent_update")

    # --- the wallet's side ---------------------------------------------------------------------------------

    def request_object(self, request_id: str) -> str:
        tx = self._pending(request_id, self._clock())
        return tx.details["requestObject"]

    def qr_png(self, request_id: str) -> bytes:
        # Served for any request still on record: a bank page that refreshes just as the wallet answers still
        # loads its image, and the code leads only to a request object that is no longer served.
        tx = self._get(request_id, self._clock())
        link = deep_link(self.client_id(tx.tenant_id), f"{self._public_url}/oid4vp/requests/{request_id}")
        out = io.BytesIO()
        segno.make(link, error="m").save(out, kind="png", scale=6, border=4)
        return out.getvalue()

    def respond(self, request_id: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Take the wallet's direct_post answer: verify, decide, store, notify. Raises PresentationRejected (after
        storing the rejected decision) when the presentation failed a check. A wallet's error response (the
        holder declined) is taken like any answer: 200, and a rejected decision for the tenant."""
        self._maybe_sweep()
        now = self._clock()
        tx = self._pending(request_id, now)
        response = parse_response(form, tx.state)
        answer = self._check_answer(tx, response)
        claims_until = now + timedelta(seconds=self._settings.verifier_claims_ttl)
        for _ in range(5):
            decision = self._policy_decision(tx, answer)
            claims = dict(decision.returned_claims) if answer.sound else {}
            details = {**tx.details, "presentationDigest": answer.digest, "respondedAt": _iso(now),
                       "claimsExpireAt": _iso(claims_until)}
            details.update(self._decided(tx, decision, now))
            # The application is dropped with this write; the claims the tenant may read take its place.
            record = replace(tx, status="responded", details=details,
                             sealed=seal(self._seal_key, request_id, claims) if claims else b"",
                             sealed_until=claims_until if claims else None)
            swapped = self._store.swap_transaction(record, tx.version, now)
            if swapped is not None:
                break
            # Lost the swap: another answer was taken (a replay), or the bank added evidence meanwhile, in which
            # case this answer is decided again with it.
            tx = self._pending(request_id, now)
        else:
            raise Conflict("the request is being changed concurrently; try again", code="concurrent_update")
        self._notify(swapped)
        failing = [c for c in answer.checks if c.status is not CheckStatus.PASSED]
        if failing and response.error is None:
            raise PresentationRejected(failing[0].message or "the presentation was rejected",
                                       code=failing[0].code or "presentation_rejected")
        return {}

    # --- deciding ------------------------------------------------------------------------------------------

    def _check_answer(self, tx: VerifierTransaction, response: WalletResponse) -> "_Answer":
        """Everything about the wallet's answer itself: the verifier's checks, DCQL, minimal disclosure."""
        details = tx.details
        if response.vp_token is None:
            return _Answer([failed("wallet_response", response.error or "wallet_error", "the wallet did not present")])

        digest = hashlib.sha256(json.dumps(response.vp_token, sort_keys=True).encode()).hexdigest()
        checks: list[Check] = [passed("wallet_response")]
        query = details["query"]
        query_id = query["credentials"][0]["id"]
        # Verify every presentation given for our query (at most a few: parse_response caps them); DCQL then
        # decides whether they answer it.
        results = [self._verify(p, tx.nonce, self.client_id(tx.tenant_id)) for p in response.vp_token.get(query_id, [])]
        first = results[0] if results else None
        if first is None:
            checks.append(could_not_run(PRESENTATION_CHECK_PREFIX + "credential", "missing_credential",
                                        "no presentation answers the request's credential query"))
        else:
            checks.extend(_prefixed(first))
        verified = bool(results) and all(r.verified for r in results)
        opened = first.credentials[0].opened if first is not None and first.credentials else None
        if verified:
            matched = dcql.match(query, {k: [self._claims_of(r) for r in results] if k == query_id else [{}]
                                         for k in response.vp_token})
            errors = [*matched.errors, *(e for q in matched.queries for e in q.errors)]
            checks.append(passed("dcql") if matched.satisfied
                          else failed("dcql", errors[0] if errors else "dcql_unsatisfied",
                                      "the presentation does not answer the request's query"))
        else:
            checks.append(could_not_run("dcql", "presentation_not_verified", "no verified presentation to match"))
        subject = opened.credential.get("credentialSubject") if opened is not None else None
        subject = {k: v for k, v in subject.items() if k != "id"} if isinstance(subject, dict) else {}
        # Over-disclosure is what the holder chose to reveal beyond the request; claims the issuer put in clear
        # (an issuing authority) were never the holder's to withhold.
        chosen = {path[0] for path in self._registry.get(details["credentialType"]).disclosable if len(path) == 1}
        extra = sorted((set(subject) & chosen) - set(details["claims"]))
        if not verified:
            checks.append(could_not_run("minimal_disclosure", "presentation_not_verified",
                                        "no verified presentation to read"))
        elif extra:
            # Names only: what was over-disclosed is itself personal data.
            checks.append(failed("minimal_disclosure", "over_disclosure",
                                 "disclosed beyond the request: " + ", ".join(extra)))
        else:
            checks.append(passed("minimal_disclosure"))
        return _Answer(checks, verified, opened.credential if opened is not None else None, subject, digest)

    def _claims_of(self, result: PresentationResult) -> dict[str, Any]:
        opened = result.credentials[0].opened if result.credentials else None
        return opened.claims if opened is not None else {}

    def _policy_decision(self, tx: VerifierTransaction, answer: "_Answer") -> Decision:
        application = open_sealed(self._seal_key, tx.request_id, tx.sealed) if tx.sealed else None
        evidence = [_evidence_from(e) for e in tx.details["evidence"]]
        answered = answer.sound
        subject = answer.subject
        credential_type = tx.details["credentialType"] if answer.credential is not None and \
            tx.details["credentialType"] in (answer.credential.get("type") or []) else None
        verified = answer.verified
        if tx.policy == ACCOUNT_OPENING:
            inner = account_opening.evaluate(
                self.policy, presentation_verified=answered, credential_type=credential_type,
                disclosed=subject if verified else None, application=application, evidence=evidence,
                request_date=_request_date(tx.created_at), tenant_role=tx.details["role"],
                requested_claims=tx.details["claims"],
            )
        else:
            inner = certificate.evaluate_certificate(
                credential_type=credential_type, presentation_verified=answered,
                disclosed=subject if verified else None, document_bytes=None,
            )
        # The tenant sees what it asked for and nothing else, whatever else the policy would allow.
        requested = set(tx.details["claims"])
        returned = {k: v for k, v in inner.returned_claims.items() if k in requested} if answered else {}
        return Decision(
            policy=inner.policy, checks=(*answer.checks, *inner.checks), disclosed_claims=inner.disclosed_claims,
            returned_claims=returned,
            dropped_claims=tuple(sorted(set(inner.disclosed_claims) - set(returned))) if answered
            else inner.dropped_claims,
            methods=inner.methods,
        )

    def _decided(self, tx: VerifierTransaction, decision: Decision, now: datetime) -> dict[str, Any]:
        """The stored form of a decision: no claim values, and its receipt signed now."""
        # The key ring as read at most a second ago: a verifier key retired within that second stays published,
        # so what it signs still verifies.
        ring = self._keys.current()[0]
        key = ring.verifier_key
        receipt = receipt_from_decision(decision, request_id=tx.request_id, tenant_id=tx.tenant_id, issued_at=now,
                                        checkpoint=self._checkpoint())
        record = decision.to_dict()
        del record["returnedClaims"]
        record["checks"] = [{**c.to_dict(), **({"message": c.message} if c.message else {})} for c in decision.checks]
        return {"decision": record, "decidedAt": _iso(now),
                "receipt": sign_receipt(receipt, key, jwk_method_id(self.did, key), issuer=self.did)}

    def _checkpoint(self) -> Checkpoint | None:
        """The log's latest signed checkpoint: the state of the log the verification's anchoring checks saw."""
        latest = self._store.latest_checkpoint()
        if latest is None:
            return None
        return Checkpoint(self._log_origin, latest.size, latest.root_hash)

    def _requested_claims(self, policy: str, role: str) -> list[str]:
        if policy == ACCOUNT_OPENING:
            return self.policy.claims_for_request(role)
        schema = self._registry.compiled_schema(POLICY_TYPES[policy])
        return [name for name in schema.get("required", []) if name != "id"]

    # --- records -------------------------------------------------------------------------------------------

    def _get(self, request_id: str, now: datetime) -> VerifierTransaction:
        tx = self._store.get_transaction(request_id, now) if _plausible_id(request_id) else None
        if tx is None:
            raise RequestNotFound("no such presentation request")
        return tx

    def _own(self, tenant: TenantRecord, request_id: str, now: datetime) -> VerifierTransaction:
        tx = self._get(request_id, now)
        if not hmac.compare_digest(tx.tenant_id, tenant.tenant_id):
            raise NotYourRequest("this request was created by another tenant")
        return tx

    def _pending(self, request_id: str, now: datetime) -> VerifierTransaction:
        tx = self._get(request_id, now)
        if tx.status != "pending":
            raise TransactionUsed("the presentation request was already answered")
        if now >= tx.expires_at:
            raise TransactionExpired("the presentation request has expired")
        return tx

    def _view(self, tx: VerifierTransaction, now: datetime, claims: dict[str, Any] | None) -> dict[str, Any]:
        details = tx.details
        if tx.status == "responded":
            status = "decided"
        else:
            status = "expired" if now >= tx.expires_at else "pending"
        out: dict[str, Any] = {
            "id": tx.request_id,
            "policy": tx.policy,
            "status": status,
            "created_at": _iso(tx.created_at),
            "expires_at": _iso(tx.expires_at),
            "evidence": list(details["evidence"]),
        }
        if tx.status == "responded":
            decision = dict(details["decision"])
            decision["returnedClaims"] = claims or {}
            out["decision"] = decision
            out["receipt"] = details["receipt"]
            out["decided_at"] = details["decidedAt"]
            out["claims_available_until"] = details["claimsExpireAt"]
        return out

    # --- webhooks ------------------------------------------------------------------------------------------

    def webhook_secret(self, request_id: str) -> str:
        """The HMAC key of one request's webhooks: derived, never stored, given to the tenant once."""
        return hmac.new(self._webhook_key, request_id.encode(), hashlib.sha256).hexdigest()

    def webhook_message(self, tx: VerifierTransaction, at: int) -> tuple[bytes, dict[str, str]]:
        decision = tx.details["decision"]
        body = json.dumps({"id": tx.request_id, "status": "decided", "approved": decision["approved"],
                           "reasons": decision["reasons"], "receipt": tx.details["receipt"]},
                          separators=(",", ":")).encode()
        mac = hmac.new(self.webhook_secret(tx.request_id).encode(), f"{at}.".encode() + body, hashlib.sha256)
        return body, {"Content-Type": "application/json", WEBHOOK_SIGNATURE_HEADER: f"t={at},v1={mac.hexdigest()}"}

    def _notify(self, tx: VerifierTransaction) -> None:
        url = tx.details.get("webhookUrl")
        if not url or self.webhook_sender is None:
            return
        body, headers = self.webhook_message(tx, int(self._clock().timestamp()))
        sender = self.webhook_sender
        threading.Thread(target=_deliver, args=(sender, url, body, headers), daemon=True).start()


def _deliver(sender: WebhookSender, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    for attempt in range(3):
        if attempt:
            time.sleep(2 ** attempt)
        try:
            sender(url, body, headers)
            return
        except DidServiceError as exc:
            # The host, never the body: the URL is the tenant's own, the body is a decision.
            log.warning("webhook delivery to %s failed (%s), attempt %d", urlsplit(url).hostname, exc.code, attempt + 1)
        except Exception:  # noqa: BLE001 - a failed delivery must never take the worker down
            log.warning("webhook delivery to %s failed, attempt %d", urlsplit(url).hostname, attempt + 1, exc_info=True)


def _check_webhook_url(url: object) -> None:
    """Refuse at once what delivery would refuse anyway, so the tenant learns it now rather than never. Where the
    host name points is checked again at each delivery (it may change)."""
    problem = Unprocessable("`webhook_url` must be an https URL to a public host name, without credentials",
                            code="invalid_webhook_url")
    if not isinstance(url, str) or len(url) > 2048 or not url.isprintable() or " " in url:
        raise problem
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise problem from exc
    host = (parts.hostname or "").rstrip(".")
    if (parts.scheme != "https" or not host or parts.username or parts.password or parts.fragment
            or port == 0 or not is_public_host_name(host)):
        raise problem


def _evidence_item(body: Mapping[str, Any]) -> EvidenceItem:
    if set(body) != {"method", "performedAt", "source", "succeeded"}:
        raise InvalidPolicyInput("evidence is {method, performedAt, source, succeeded}", code="invalid_evidence")
    # The source is kept in the decision record: an identifier of a system or vendor, never a sentence that
    # could carry a customer's name.
    if not isinstance(body["source"], str) or not _SOURCE.fullmatch(body["source"]):
        raise InvalidPolicyInput("source is an identifier: letters, digits and . _ : / - (1 to 64)",
                                 code="invalid_evidence")
    performed = body["performedAt"]
    try:
        when = datetime.fromisoformat(performed.replace("Z", "+00:00")) if isinstance(performed, str) else None
        when = when.astimezone(timezone.utc) if when is not None and when.utcoffset() is not None else None
    except (ValueError, OverflowError):  # 0001-01-01T00:00+14:00 has no UTC instant
        when = None
    if when is None:
        raise InvalidPolicyInput("performedAt must be an RFC 3339 date-time with a time zone", code="invalid_evidence")
    return EvidenceItem(method=body["method"], performed_at=when, source=body["source"], succeeded=body["succeeded"])


_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")


def _evidence_from(stored: Mapping[str, Any]) -> EvidenceItem:
    return EvidenceItem(method=stored["method"], performed_at=datetime.fromisoformat(stored["performedAt"]),
                        source=stored["source"], succeeded=stored["succeeded"])


def _decision_from_record(record: Mapping[str, Any]) -> Decision:
    checks = tuple(Check(c["id"], CheckStatus(c["status"]), c.get("code"), c.get("message")) for c in record["checks"])
    return Decision(policy=record["policy"], checks=checks, disclosed_claims=tuple(record["disclosedClaims"]),
                    dropped_claims=tuple(record["droppedClaims"]), methods=tuple(record["methods"]))


def _prefixed(result: PresentationResult) -> list[Check]:
    """The verifier's checks: the presentation's as presentation.<check>, its credential's as credential.<check>."""
    checks = [Check(PRESENTATION_CHECK_PREFIX + c.id, c.status, c.code, c.message) for c in result.report.checks]
    for item in result.credentials[:1]:  # one credential query, one credential: more fail dcql already
        checks.extend(Check(CREDENTIAL_CHECK_PREFIX + c.id, c.status, c.code, c.message) for c in item.report.checks)
    if not result.credentials:
        checks.append(could_not_run(CREDENTIAL_CHECK_PREFIX + "format", "presentation_not_verified",
                                    "the presentation holds no credential that could be checked"))
    return checks


def _request_date(created_at: datetime) -> date:
    # The applicant's age is judged on the request's date in Korea, whatever the server's time zone.
    return created_at.astimezone(timezone(timedelta(hours=9))).date()


def _plausible_id(request_id: str) -> bool:
    return isinstance(request_id, str) and 16 <= len(request_id) <= 64 and request_id.replace("-", "").replace("_", "").isalnum()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
