"""The key-encryption key and the issuer's signing keys, loaded once per process."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from typing import Callable
from datetime import datetime

from did_service.config import Settings
from did_service.core import keys as keylib
from did_service.core.keys import SigningKey
from did_service.errors import ConfigurationError
from did_service.core import tlog
from did_service.core.did import public_key_multibase
from did_service.storage.base import KeyRecord, LogAppend, Store

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
class KeyState:
    """A decrypted key with its history in the log (leaf indexes of its added / retired entries)."""

    key: SigningKey
    record: KeyRecord


@dataclass(frozen=True)
class Keyring:
    issuer_keys: tuple[KeyState, ...]  # active and retired: retired keys stay published so old credentials verify
    log_key: SigningKey
    # The verifier's keys (request objects, decision receipts), oldest first; retired ones stay published so
    # receipts they signed still verify.
    verifier_keys: tuple[KeyState, ...] = ()

    @property
    def verifier_key(self) -> SigningKey:
        """The key the verifier signs with: the oldest active one, so every worker picks the same."""
        for state in self.verifier_keys:
            if state.record.status == "active":
                return state.key
        raise ConfigurationError("this instance has no verifier key yet: run `did-service init`")

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        """The active issuer keys (the ones that sign)."""
        return tuple(state.key for state in self.issuer_keys if state.record.status == "active")

    def for_alg(self, alg: str) -> SigningKey:
        for key in self.keys:
            if key.alg == alg:
                return key
        raise ConfigurationError(f"the issuer has no active {alg} key")

    def state(self, kid: str) -> KeyState | None:
        for state in self.issuer_keys:
            if state.key.kid == kid:
                return state
        return None


def new_key_record(alg: str, purpose: str, kek: bytes, now: datetime) -> tuple[SigningKey, KeyRecord]:
    key = keylib.signing_key_from_private(keylib.generate_private_key(alg))
    record = KeyRecord(
        kid=key.kid,
        alg=key.alg,
        public_jwk=key.public_jwk,
        encrypted_private_key=keylib.encrypt_private_key(key.private_key, kek, key.kid),
        created_at=now,
        purpose=purpose,
    )
    return key, record


def key_entry(did: str, key: SigningKey, action: str, now: datetime) -> LogAppend:
    entry = tlog.encode_entry(
        tlog.KeyEntry(did=did, kid=f"{did}#{key.kid}", action=action, public_key_multibase=public_key_multibase(key.public_key), time=now)
    )
    return LogAppend(entry=entry, leaf_hash=tlog.leaf_hash(entry))


VERIFIER_ALG = "ES256"  # what OpenID4VP wallets are required to accept for request objects (HAIP)


def ensure_issuer_keys(
    store: Store, kek: bytes, did: str, now: datetime, *, create: bool = True, verifier_did: str | None = None
) -> Keyring:
    """Create the issuer's EdDSA and ES256 keys, the log key and the verifier key on first start (when
    ``create``), each logged as an `added` key entry in the same write; decrypt them all.

    An instance created before the verifier existed gets its verifier key here too (logged under
    ``verifier_did``), when ``create`` allows it."""
    verifier_did = verifier_did or f"{did}:verifier"
    records = store.list_keys()
    if not records and not create:
        raise ConfigurationError("this instance has no issuer keys yet: run `did-service init`")
    if not records:
        fresh = [(new_key_record(alg, "issuer", kek, now), did) for alg in keylib.ALGORITHMS]
        fresh.append((new_key_record("EdDSA", "log", kek, now), did))
        fresh.append((new_key_record(VERIFIER_ALG, "verifier", kek, now), verifier_did))
        records = store.add_keys_if_none(
            [record for (_, record), _ in fresh], [key_entry(owner, key, "added", now) for (key, _), owner in fresh]
        )
    elif create and not any(r.purpose == "verifier" and r.status == "active" for r in records):
        key, record = new_key_record(VERIFIER_ALG, "verifier", kek, now)
        # Two processes upgrading at once may each add one: both are published, the oldest signs.
        records = store.rotate_keys([record], [], [key_entry(verifier_did, key, "added", now)], [], now)
    return load_keyring(records, kek)


def load_keyring(records: list[KeyRecord], kek: bytes) -> Keyring:
    issuer_keys, log_keys, verifier_keys = [], [], []
    for record in records:
        private_key = keylib.decrypt_private_key(record.encrypted_private_key, kek, record.kid)
        key = keylib.signing_key_from_private(private_key)
        if key.kid != record.kid:
            raise ConfigurationError("a stored key does not match its key id")
        if record.purpose == "log":
            if record.status == "active":
                log_keys.append(key)
        elif record.purpose == "verifier":
            verifier_keys.append(KeyState(key, record))
        else:
            issuer_keys.append(KeyState(key, record))
    if len(log_keys) != 1:
        raise ConfigurationError("the instance must have exactly one active log key")
    return Keyring(tuple(issuer_keys), log_keys[0], tuple(verifier_keys))


class LiveKeyring:
    """The issuer's keys as the store has them now, so a rotation by another process (the CLI) takes effect
    without a restart: issuance re-reads the key records every time (it must never sign with a retired key);
    readers (the DID document, verification) re-read them at most every ``max_age`` seconds."""

    def __init__(
        self, store: Store, kek: bytes, document_for: Callable[[Keyring], dict], clock: Callable[[], float] = time.monotonic,
        max_age: float = 1.0,
    ) -> None:
        self._store, self._kek, self._document_for = store, kek, document_for
        self._clock, self._max_age = clock, max_age
        self._lock = threading.Lock()
        self._state: tuple[tuple, Keyring, dict] | None = None
        self._checked = float("-inf")

    def current(self, *, fresh: bool = False) -> tuple[Keyring, dict]:
        now = self._clock()
        state = self._state
        if state is None or fresh or now - self._checked > self._max_age:
            records = self._store.list_keys()
            fingerprint = tuple((r.kid, r.status) for r in records)
            if state is None or state[0] != fingerprint:
                keyring = load_keyring(records, self._kek)
                state = (fingerprint, keyring, self._document_for(keyring))
            with self._lock:
                self._state, self._checked = state, now
        return state[1], state[2]


def rotate_key(
    store: Store, kek: bytes, did: str, alg: str, now: datetime, purpose: str = "issuer"
) -> tuple[SigningKey, list[KeyRecord]]:
    """A new ``purpose`` key (issuer or verifier) for ``alg``; the active one it replaces is retired (a `rotated`
    entry) but stays published, so what it signed still verifies."""
    current = [r for r in store.list_keys() if r.purpose == purpose and r.alg == alg and r.status == "active"]
    key, record = new_key_record(alg, purpose, kek, now)
    retired = [load_keyring_key(r, kek) for r in current]
    records = store.rotate_keys(
        [record], [r.kid for r in current], [key_entry(did, key, "added", now)],
        [key_entry(did, old, "rotated", now) for old in retired], now,
    )
    return key, records


def load_keyring_key(record: KeyRecord, kek: bytes) -> SigningKey:
    return keylib.signing_key_from_private(keylib.decrypt_private_key(record.encrypted_private_key, kek, record.kid))
