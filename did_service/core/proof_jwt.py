"""Key proofs: a holder shows it controls the key a credential will be bound to (OpenID4VCI 1.0, the `jwt` proof).

The proof is a compact JWS with header ``typ: openid4vci-proof+jwt`` and the holder's public key in ``jwk``,
signed by that key, over ``aud`` (the credential issuer's identifier), ``iat`` and ``nonce`` (the issuer's fresh
c_nonce). A proof carrying private key material, signed by another key, for another issuer, stale or for
another nonce is refused. The key that comes out is what the credential's ``cnf`` names.

The nonce is the issuer's own, made by ``Nonces``: a timestamp and random bytes with an HMAC over them and the
account it was given to, so a nonce cannot be moved to another account. Spending it once is the caller's job
(the wallet issuance counts it in the store).

Pure apart from ``secrets`` for the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from did_service.core.did import public_jwk_from_public_key, public_key_from_jwk
from did_service.core.keys import alg_for_public_key
from did_service.core.proofs import jose
from did_service.errors import DidServiceError, Unprocessable

PROOF_TYP = "openid4vci-proof+jwt"
PROOF_WINDOW = timedelta(minutes=5)
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})  # named here so the error says why


class InvalidProof(Unprocessable):
    code = "invalid_proof"
    title = "The key proof is not acceptable"


def verify_proof(token: str, *, audience: str, nonce_ok, now: datetime) -> dict[str, Any]:
    """The public JWK the proof shows possession of. ``nonce_ok(nonce)`` decides whether the nonce is ours and
    fresh. InvalidProof (a code per rule: invalid_proof, invalid_nonce) otherwise."""
    try:
        parsed = jose.parse_compact(token, embedded_jwk=True)
    except jose.JoseError as exc:
        raise InvalidProof(f"the proof is not a well-formed JWS: {exc.detail}") from exc
    if parsed.header.get("typ") != PROOF_TYP:
        raise InvalidProof(f"the proof's typ must be {PROOF_TYP}")
    if "kid" in parsed.header or "x5c" in parsed.header:
        raise InvalidProof("the proof names its key with jwk only")
    jwk = parsed.header.get("jwk")
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidProof("the proof's jwk must be a public key")
    try:
        key = public_key_from_jwk(jwk)
        alg_for_public_key(key)
    except (ValueError, TypeError, DidServiceError) as exc:
        raise InvalidProof("the proof's jwk is not an Ed25519 or P-256 public key") from exc
    try:
        jose.verify_signature(parsed, key)
    except jose.JoseError as exc:
        raise InvalidProof("the proof is not signed by the key it carries") from exc
    claims = parsed.payload
    if claims.get("aud") != audience:
        raise InvalidProof("the proof is for another credential issuer")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int) or not 0 <= iat < 2 ** 40 \
            or abs(now.timestamp() - iat) > PROOF_WINDOW.total_seconds():
        raise InvalidProof("the proof was not made within the last five minutes")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce_ok(nonce):
        raise InvalidProof("the proof's nonce is not a fresh one from this issuer", code="invalid_nonce")
    # The key as parsed, not as sent: stray members (a `y` on an OKP key, padding) never reach `cnf`.
    return public_jwk_from_public_key(key)


class Nonces:
    """c_nonce values bound to one account, valid for ``lifetime``, checked without storage."""

    def __init__(self, key: bytes, lifetime: timedelta = PROOF_WINDOW) -> None:
        self._key, self._lifetime = key, lifetime

    def new(self, account: str, now: datetime) -> str:
        body = int(now.timestamp()).to_bytes(8, "big") + secrets.token_bytes(16)
        return _b64(body + self._mac(account, body))

    def issued_at(self, nonce: str, account: str, now: datetime) -> int | None:
        """When this nonce was made (epoch seconds) if it is ours, for ``account`` and still fresh; else None."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != 8 + 16 + 32:
            return None
        body, mac = raw[:24], raw[24:]
        if not hmac.compare_digest(mac, self._mac(account, body)):
            return None
        made = int.from_bytes(body[:8], "big")
        return made if 0 <= now.timestamp() - made <= self._lifetime.total_seconds() else None

    def _mac(self, account: str, body: bytes) -> bytes:
        return hmac.new(self._key, account.encode() + b"|" + body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
