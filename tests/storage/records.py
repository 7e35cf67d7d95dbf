"""Record factories and helpers shared by the storage tests (and by the child processes they start)."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from did_service.errors import LogHalted, StoreConflict
from did_service.storage import CheckpointRecord, CredentialRecord, KeyRecord, LogAppend, TokenRecord

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
THREADS = 8


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash, computed here as the log code computes it before appending."""
    return hashlib.sha256(b"\x00" + entry).digest()


def entry_bytes(label: str) -> bytes:
    return json.dumps({"v": 1, "kind": "status", "label": label}, separators=(",", ":"), sort_keys=True).encode()


def log_append(label: str, credential: CredentialRecord | None = None) -> LogAppend:
    entry = entry_bytes(label)
    return LogAppend(entry, leaf_hash(entry), credential)


def label_of(entry: bytes) -> str:
    return json.loads(entry)["label"]


def digest_of(credential_id: str) -> str:
    return hashlib.sha256(credential_id.encode()).hexdigest()


def make_credential(credential_id: str, digest: str | None = None) -> CredentialRecord:
    return CredentialRecord(
        credential_id=credential_id,
        credential_type="ResidencePermit",
        format="vc+jwt",
        digest=digest or digest_of(credential_id),
        issuer_kid="key-ed25519-1",
        issued_at=T0,
        valid_from=T0,
        valid_until=T0 + timedelta(days=365),
        extra={"status": {"list": "1", "index": 42}, "note": "é ✓"},
    )


def issued(credential: CredentialRecord) -> LogAppend:
    return log_append(f"issued {credential.credential_id}", credential)


def make_key(kid: str, created_at: datetime = T0, alg: str = "EdDSA", purpose: str = "issuer") -> KeyRecord:
    return KeyRecord(
        kid=kid,
        alg=alg,
        public_jwk={"kty": "OKP", "crv": "Ed25519", "x": f"x-{kid}", "key_ops": ["verify"]},
        encrypted_private_key=b"\x00\xff\x80nonce" + kid.encode() + bytes(range(256)),
        created_at=created_at,
        purpose=purpose,
    )


def make_token(token_id: str, created_at: datetime = T0, token_hash: str | None = None) -> TokenRecord:
    return TokenRecord(
        token_id=token_id,
        token_hash=token_hash or uuid.uuid5(uuid.NAMESPACE_URL, token_id).hex * 2,
        role="issuer",
        created_at=created_at,
    )


def make_checkpoint(size: int, created_at: datetime = T0) -> CheckpointRecord:
    note = f"example.org/log\n{size}\n{'A' * 43}=\n\n— example.org/log AAAA{'B' * 86}==\n"
    return CheckpointRecord(size, hashlib.sha256(f"root {size}".encode()).digest(), note, created_at)


def node_hash(level: int, index: int) -> bytes:
    return hashlib.sha256(f"node {level}:{index}".encode()).digest()


def race(fn, count: int = THREADS) -> list:
    """Run fn(i) in ``count`` threads released together; return each result or the store exception it raised."""
    barrier = threading.Barrier(count, timeout=30)

    def attempt(i: int):
        barrier.wait()
        try:
            return fn(i)
        except (StoreConflict, LogHalted) as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


def allocate_in_process(url: str, count: int, list_size: int, seed: int, out_path: str) -> None:
    """Child process: ``count`` status allocations through a store of its own; the (list, index) pairs go to a
    JSON file."""
    import random

    from did_service.storage import open_store

    store = open_store(url)
    rng = random.Random(seed)
    got = []
    try:
        for _ in range(count):
            candidates = [rng.randrange(list_size) for _ in range(3)]
            for a in store.allocate_status(["revocation", "suspension"], list_size, candidates):
                got.append([a.list_id, a.purpose, a.index])
    finally:
        store.close()
    with open(out_path, "w") as f:
        json.dump(got, f)
