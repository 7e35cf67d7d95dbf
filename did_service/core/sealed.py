"""Personal data the verifier must hold for a few minutes, sealed (AES-256-GCM) so the store never sees it in clear.

A bank's application (name, birth date) waits in the store until the wallet answers; the claims the bank may
read wait until it fetches them or the record expires. Each is sealed under a key derived from the instance's
key-encryption key (HKDF-SHA256, its own ``info``), with the record's id as associated data so a sealed value
cannot be moved to another record.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from did_service.errors import DidServiceError

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SealError(DidServiceError):
    code = "sealed_data_unreadable"
    title = "Sealed data cannot be opened"


def derive_key(kek: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose, so a key for sealing claims is never the key that wraps signing keys."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"did_service {purpose} v1".encode()).derive(kek)


def seal(key: bytes, associated: str, value: Any) -> bytes:
    plaintext = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated.encode("utf-8"))


def open_sealed(key: bytes, associated: str, blob: bytes) -> Any:
    if blob[:1] != _VERSION or len(blob) < 1 + _NONCE_BYTES + 16:
        raise SealError("the sealed value has an unknown format")
    nonce, ciphertext = blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:]
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, associated.encode("utf-8"))
    except InvalidTag as exc:
        raise SealError("the sealed value does not open with this key and record") from exc
    return json.loads(plaintext)
