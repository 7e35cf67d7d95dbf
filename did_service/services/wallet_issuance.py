"""Collecting credentials into a resident's browser-held wallet.

The portal gives the logged-in resident a c_nonce; the browser signs a key proof with the resident's own key
(WebCrypto, never leaving the device); the issuer checks the proof and issues an SD-JWT VC from the registry,
bound to that key (``cnf``) and to its did:jwk as the subject id. The issuance is the ordinary one (schema,
status positions, the log entry), so the credential verifies and can be revoked like any other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from did_service.core.did import did_jwk_from_public_jwk
from did_service.core.proof_jwt import Nonces, verify_proof
from did_service.errors import Forbidden, RateLimited, Unprocessable
from did_service.services.issuance import IssuanceService
from did_service.services.residents import RESIDENT_PREFIX, ResidentService
from did_service.storage.base import Store

ISSUING_AUTHORITY = "제주특별자치도 제주시장"
# What a resident can collect straight from the registry; certificates that need review go through operators.
FROM_REGISTRY = ("ResidentIdentityCredential", "ResidenceCertificateCredential")


@dataclass(frozen=True)
class Collected:
    credential: Any  # the issue response's verifiableCredential (an EnvelopedVerifiableCredential)
    credential_type: str
    leaf_index: int


class WalletIssuance:
    def __init__(self, residents: ResidentService, issuance: IssuanceService, store: Store, *,
                 issuer_identifier: str, nonce_key: bytes, clock: Callable[[], datetime],
                 collect_limit_per_hour: int = 20) -> None:
        self._residents, self._issuance, self._store = residents, issuance, store
        self._collect_limit = collect_limit_per_hour
        self._audience = issuer_identifier
        self._nonces = Nonces(nonce_key)
        self._clock = clock

    def nonce(self, subject: str) -> str:
        return self._nonces.new(subject, self._clock())

    def collect(self, subject: str, credential_type: object, proof: object) -> Collected:
        """Issue ``credential_type`` from the registry to the resident ``subject`` (an authenticated session's),
        bound to the key ``proof`` proves."""
        if not isinstance(subject, str) or not subject.startswith(RESIDENT_PREFIX):
            raise Forbidden("only a resident collects credentials", code="not_a_resident")
        if not self._residents.is_active(subject):
            raise Forbidden("this resident's account is disabled", code="resident_disabled")
        if credential_type not in FROM_REGISTRY:
            raise Unprocessable("this credential type is not issued from the registry",
                                code="unsupported_credential_type")
        now = self._clock()
        if not isinstance(proof, str):
            raise Unprocessable("`proof` is a compact JWS", code="invalid_proof")
        jwk = verify_proof(proof, audience=self._audience, nonce_ok=lambda n: self._spend(n, subject, now), now=now)
        # Each collection is a credential in the log: a stolen session must not mint them without end.
        if not self._store.take_rate_token("wallet-collect:" + subject, self._collect_limit, 3600, now):
            raise RateLimited("too many credentials collected this hour", retry_after=3600)
        resident = self._residents.resident(subject[len(RESIDENT_PREFIX):])
        claims = resident.identity_subject(ISSUING_AUTHORITY) if credential_type == "ResidentIdentityCredential" \
            else resident.residence_subject()
        if claims is None:
            raise Unprocessable("the registry holds no household record for this resident", code="no_registry_record")
        credential_subject = {**claims, "id": did_jwk_from_public_jwk(jwk)}
        issued = self._issuance.issue({
            "credential": {"type": ["VerifiableCredential", credential_type], "credentialSubject": credential_subject},
            "options": {"format": "dc+sd-jwt", "holderPublicJwk": jwk},
        }, now)
        return Collected(issued.verifiable_credential, credential_type, issued.leaf_index)

    def _spend(self, nonce: str, subject: str, now: datetime) -> bool:
        """True the first time a fresh nonce of this account is used. Counted in the store in the window of the
        nonce's own creation time, so the same nonce always lands in the same window and counts once."""
        made = self._nonces.issued_at(nonce, subject, now)
        if made is None:
            return False
        bucket = "wallet-nonce:" + hashlib.sha256(nonce.encode()).hexdigest()[:32]
        return self._store.take_rate_token(bucket, 1, 3600, datetime.fromtimestamp(made - made % 3600, timezone.utc))
