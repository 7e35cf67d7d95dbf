"""The key-encryption key and the issuer's signing keys, loaded once per process."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime

from did_service.config import Settings
from did_service.core import keys as keylib
from did_service.core.keys import SigningKey
from did_service.errors import ConfigurationError
from did_service.storage.base import KeyRecord, Store

log = logging.getLogger(__name__)


def load_kek(settings: Settings, *, create: bool) -> bytes:
    """The key-encryption key from DID_SERVICE_KEK, else from the KEK file (created 0600 when allowed)."""
    if settings.kek_b64:
        return keylib.decode_kek(settings.kek_b64)
    path = settings.kek_file
    if not path.exists():
        if not create:
            raise ConfigurationError("no key-encryption key: run `did-service init` or set DID_SERVICE_KEK")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once must not each write a different KEK.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(keylib.encode_kek(keylib.new_kek()) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            log.info("created a new key-encryption key file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        message = "the key-encryption key file is readable by other users; chmod 600 it"
        if settings.production:
            raise ConfigurationError(message)
        log.warning(message)
    return keylib.decode_kek(path.read_text(encoding="ascii"))


@dataclass(frozen=True)
class Keyring:
    keys: tuple[SigningKey, ...]

    def for_alg(self, alg: str) -> SigningKey:
        for key in self.keys:
            if key.alg == alg:
                return key
        raise ConfigurationError(f"the issuer has no active {alg} key")


def ensure_issuer_keys(store: Store, kek: bytes, now: datetime, *, create: bool = True) -> Keyring:
    """Create the issuer's EdDSA and ES256 keys on first start (when ``create``); decrypt the active ones."""
    records = store.list_keys()
    if not records and not create:
        raise ConfigurationError("this instance has no issuer keys yet: run `did-service init`")
    if not records:
        fresh = []
        for alg in keylib.ALGORITHMS:
            key = keylib.signing_key_from_private(keylib.generate_private_key(alg))
            fresh.append(
                KeyRecord(
                    kid=key.kid,
                    alg=key.alg,
                    public_jwk=key.public_jwk,
                    encrypted_private_key=keylib.encrypt_private_key(key.private_key, kek, key.kid),
                    created_at=now,
                )
            )
        records = store.add_keys_if_none(fresh)
    active = []
    for record in records:
        if record.status != "active":
            continue
        private_key = keylib.decrypt_private_key(record.encrypted_private_key, kek, record.kid)
        key = keylib.signing_key_from_private(private_key)
        if key.kid != record.kid:
            raise ConfigurationError("a stored key does not match its key id")
        active.append(key)
    return Keyring(tuple(active))
