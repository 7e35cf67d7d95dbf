"""Compact JWS for VC-JOSE-COSE (`application/vc+jwt`) and VC 1.1 JWTs.

Signing and signature checks go through jwcrypto's JWSCore, which skips the header bookkeeping of the
high-level JWS object (several times the cost of the signature itself). Everything a token may say about how it
should be verified is treated as hostile input (RFC 8725): the algorithm is pinned to the verifier's key,
embedded or remote keys are refused, and critical extensions we do not implement are refused.
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from jwcrypto import jwk

from did_service.core import strict_json
from did_service.core.keys import PublicKey, SigningKey, alg_for_public_key
from did_service.errors import DidServiceError

SUPPORTED_ALGS = frozenset({"EdDSA", "ES256"})
# Header members that would let the token choose its own verification key (RFC 8725 sections 2.3, 3.10).
KEY_CARRYING_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})
MAX_TOKEN_CHARS = 512 * 1024


class JoseError(DidServiceError):
    """A token is malformed or not acceptable; ``code`` says which rule it broke."""

    status = 422
    code = "malformed_credential"
    title = "The token cannot be accepted"


# SD-JWT runs these a dozen times per credential, so they call binascii directly rather than through base64.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)}


def b64url_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode("ascii")


def b64url_decode(segment: str) -> bytes:
    remainder = len(segment) % 4
    if remainder == 1 or not _B64URL.fullmatch(segment):
        raise JoseError("a token segment is not base64url", code="malformed_credential")
    # Non-canonical encodings (stray low bits in the last character) would let two strings carry one signature.
    if remainder and _VALUE[segment[-1]] & (0x0F if remainder == 2 else 0x03):
        raise JoseError("a token segment is not canonical base64url", code="malformed_credential")
    try:
        standard = segment.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-remainder % 4)
        return binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise JoseError("a token segment is not base64url", code="malformed_credential") from exc


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def sign_compact(payload: dict[str, Any], key: SigningKey, kid: str, typ: str) -> str:
    """Sign ``payload`` as a compact JWS with protected header {alg, kid, typ}.

    The JWS is assembled here and signed by ``cryptography`` directly: jwcrypto's JWSCore re-parses the header
    and copies key objects on every call, about a third of the cost of an Ed25519 signature.
    """
    signing_input = _header_segment(key.alg, kid, typ) + "." + b64url_encode(
        strict_json.dumps_compact(payload).encode("utf-8")
    )
    return f"{signing_input}.{b64url_encode(_raw_signature(key, signing_input.encode('ascii')))}"


@lru_cache(maxsize=64)
def _header_segment(alg: str, kid: str, typ: str) -> str:
    return b64url_encode(json.dumps({"alg": alg, "kid": kid, "typ": typ}, separators=(",", ":")).encode("utf-8"))


def _raw_signature(key: SigningKey, data: bytes) -> bytes:
    private_key = key.private_key
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    # ES256 (RFC 7518 section 3.4): the fixed-width R || S form, not DER.
    r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class ParsedJws:
    token: str
    header: dict[str, Any]
    payload: dict[str, Any]
    header_json: str
    payload_bytes: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return self.header["alg"]


def parse_compact(token: str, *, embedded_jwk: bool = False) -> ParsedJws:
    """Split and decode a compact JWS and apply the header rules that need no key.

    ``embedded_jwk``: the token proves possession of the key in its ``jwk`` header (an OpenID4VCI proof), so
    that one header is expected; every other key-carrying header is still refused."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise JoseError("the token is not a compact JWS string", code="malformed_credential")
    parts = token.split(".")
    if len(parts) == 5:
        raise JoseError("a JWE was given where a JWS is expected", code="malformed_credential")
    if len(parts) != 3:
        raise JoseError("the token is not a compact JWS", code="malformed_credential")
    # The header is judged first: `alg: none` with an empty signature should be named as what it is.
    header_bytes = b64url_decode(parts[0])
    header = _json_object(header_bytes)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGS:
        raise JoseError("the token's algorithm is not accepted (EdDSA or ES256 only)", code="unsupported_alg")
    if KEY_CARRYING_HEADERS & header.keys() - ({"jwk"} if embedded_jwk else set()):
        raise JoseError("the token header carries its own key or key location", code="untrusted_key_header")
    if "crit" in header:
        raise JoseError("the token marks header extensions as critical that are not supported", code="unsupported_critical_header")
    if "kid" in header and not isinstance(header["kid"], str):
        raise JoseError("the token's kid is not a string", code="malformed_credential")
    payload_bytes, signature = b64url_decode(parts[1]), b64url_decode(parts[2])
    payload = _json_object(payload_bytes)
    return ParsedJws(
        token=token,
        header=header,
        payload=payload,
        header_json=header_bytes.decode("utf-8"),
        payload_bytes=payload_bytes,
        signature=signature,
    )


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = strict_json.loads(data)
    except strict_json.StrictJsonError as exc:
        raise JoseError(f"the token header or payload is not strict JSON: {exc}", code="malformed_credential") from exc
    if not isinstance(value, dict):
        raise JoseError("the token header and payload must be JSON objects", code="malformed_credential")
    return value


def public_jwk_object(public_key: PublicKey) -> jwk.JWK:
    return jwk.JWK.from_pyca(public_key)


def verify_signature(parsed: ParsedJws, public_key: PublicKey, key_jwk: jwk.JWK | None = None) -> None:
    """Raise JoseError unless the signature verifies with ``public_key`` under the key's own algorithm.

    ``key_jwk`` is accepted for callers that hold one; the check itself runs in ``cryptography``.
    """
    expected_alg = alg_for_public_key(public_key)
    if parsed.alg != expected_alg:
        raise JoseError("the token's algorithm does not match the issuer key type", code="alg_key_mismatch")
    signing_input = parsed.token.rsplit(".", 1)[0].encode("ascii")
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(parsed.signature, signing_input)
        else:
            if len(parsed.signature) != 64:
                raise InvalidSignature()
            der = encode_dss_signature(
                int.from_bytes(parsed.signature[:32], "big"), int.from_bytes(parsed.signature[32:], "big")
            )
            public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise JoseError("the signature does not verify", code="invalid_signature") from exc
