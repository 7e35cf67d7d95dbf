"""Issuer signing keys: generation, JWK form, and encryption at rest.

Private keys leave memory only as AES-256-GCM ciphertext of their PKCS#8 encoding, bound to their key id
by the associated data, so a ciphertext cannot be swapped onto another key record.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwcrypto import jwk

from did_service.errors import ConfigurationError, KeyDecryptionError

ALGORITHMS = ("EdDSA", "ES256")
KEK_BYTES = 32
_BLOB_VERSION = b"\x01"
_NONCE_BYTES = 12

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class SigningKey:
    """A decrypted issuer key in memory. ``kid`` is the verification method fragment (the JWK thumbprint)."""

    kid: str
    alg: str
    private_key: PrivateKey
    jwk: jwk.JWK  # private JWK, for jwcrypto signing

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    @property
    def public_jwk(self) -> dict:
        return self.jwk.export_public(as_dict=True)


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ConfigurationError(f"unsupported signing algorithm {alg!r}")


def alg_for_public_key(public_key: object) -> str:
    """The one JWS algorithm a key type may be used with (RFC 8725 section 3.1: never the token's choice)."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError("unsupported key type")


def signing_key_from_private(private_key: PrivateKey) -> SigningKey:
    key = jwk.JWK.from_pyca(private_key)
    return SigningKey(
        kid=key.thumbprint(), alg=alg_for_public_key(private_key.public_key()), private_key=private_key, jwk=key
    )


def new_kek() -> bytes:
    return os.urandom(KEK_BYTES)


def encode_kek(kek: bytes) -> str:
    return base64.urlsafe_b64encode(kek).rstrip(b"=").decode("ascii")


def decode_kek(text: str) -> bytes:
    text = text.strip()
    try:
        # validate=True: a lenient decoder would silently drop stray characters and yield another key.
        kek = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("the key-encryption key is not base64url") from exc
    if len(kek) != KEK_BYTES:
        raise ConfigurationError(f"the key-encryption key must be {KEK_BYTES} bytes")
    return kek


def _aad(kid: str) -> bytes:
    return b"did_service private key v1|" + kid.encode("utf-8")


def encrypt_private_key(private_key: PrivateKey, kek: bytes, kid: str) -> bytes:
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    nonce = os.urandom(_NONCE_BYTES)
    return _BLOB_VERSION + nonce + AESGCM(kek).encrypt(nonce, plaintext, _aad(kid))


def decrypt_private_key(blob: bytes, kek: bytes, kid: str) -> PrivateKey:
    if blob[:1] != _BLOB_VERSION or len(blob) < 1 + _NONCE_BYTES + 16:
        raise KeyDecryptionError("stored private key has an unknown format")
    nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        plaintext = AESGCM(kek).decrypt(nonce, ciphertext, _aad(kid))
    except InvalidTag as exc:
        raise KeyDecryptionError() from exc
    key = serialization.load_der_private_key(plaintext, password=None)
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise KeyDecryptionError("stored private key has an unsupported type")
    return key
