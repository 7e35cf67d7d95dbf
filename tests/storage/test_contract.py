"""The Store contract, run against every backend (SQLite file and real Redis) through the ``store`` fixture."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

from did_service.errors import ConfigurationError, StoreConflict, StoreUnavailable
from did_service.storage import CredentialRecord, KeyRecord, Store, TokenRecord, open_store
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
THREADS = 8


def make_key(kid: str, created_at: datetime = T0, alg: str = "EdDSA") -> KeyRecord:
    return KeyRecord(
        kid=kid,
        alg=alg,
        public_jwk={"kty": "OKP", "crv": "Ed25519", "x": f"x-{kid}", "key_ops": ["verify"]},
        encrypted_private_key=b"\x00\xff\x80nonce" + kid.encode() + bytes(range(256)),
        created_at=created_at,
    )


def make_token(token_id: str, created_at: datetime = T0, token_hash: str | None = None) -> TokenRecord:
    return TokenRecord(
        token_id=token_id,
        token_hash=token_hash or uuid.uuid5(uuid.NAMESPACE_URL, token_id).hex * 2,
        role="issuer",
        created_at=created_at,
    )


def make_credential(credential_id: str, digest: str = "ab" * 32) -> CredentialRecord:
    return CredentialRecord(
        credential_id=credential_id,
        credential_type="ResidencePermit",
        format="vc+jwt",
        digest=digest,
        issuer_kid="key-ed25519-1",
        issued_at=T0,
        valid_from=T0,
        valid_until=T0 + timedelta(days=365),
        extra={"status": {"list": "1", "index": 42}, "log_index": 7, "note": "é ✓"},
    )


def race(fn, count: int = THREADS) -> list:
    """Run fn(i) in ``count`` threads released together; return each result or the exception it raised."""
    barrier = threading.Barrier(count, timeout=30)

    def attempt(i: int):
        barrier.wait()
        try:
            return fn(i)
        except StoreConflict as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- round trips --------------------------------------------------------------------------------------------


def test_ping(store: Store) -> None:
    assert isinstance(store, Store)
    store.ping()


def test_empty_store(store: Store) -> None:
    assert store.list_keys() == []
    assert store.list_tokens() == []
    assert store.find_token("00" * 32) is None
    assert store.get_credential("urn:uuid:nothing") is None


def test_key_round_trip(store: Store) -> None:
    cest = timezone(timedelta(hours=2))
    keys = [make_key("key-ed25519-1"), make_key("key-p256-1", T0.astimezone(cest) + timedelta(seconds=1), "ES256")]

    assert store.add_keys_if_none(keys) == keys
    listed = store.list_keys()
    assert listed == keys
    assert all(k.created_at.utcoffset() == timedelta(0) for k in listed)
    assert listed[0].encrypted_private_key == keys[0].encrypted_private_key
    assert isinstance(listed[0].encrypted_private_key, bytes)
    assert listed[1].public_jwk == keys[1].public_jwk


def test_token_round_trip(store: Store) -> None:
    active = make_token("tok-1")
    revoked = TokenRecord("tok-2", "cd" * 32, "admin", T0, revoked_at=T0 + timedelta(minutes=5))
    store.add_token(active)
    store.add_token(revoked)

    assert store.find_token(active.token_hash) == active
    assert store.find_token(revoked.token_hash) == revoked
    assert store.find_token(revoked.token_hash).revoked_at.tzinfo is not None
    assert store.list_tokens() == [active, revoked]


def test_credential_round_trip(store: Store) -> None:
    full = make_credential("urn:uuid:1")
    bare = CredentialRecord("urn:uuid:2", "Diploma", "vc+jwt", "ef" * 32, "key-p256-1", T0, T0)
    store.add_credentials([full, bare])

    assert store.get_credential("urn:uuid:1") == full
    got = store.get_credential("urn:uuid:2")
    assert got == bare
    assert got.valid_until is None and got.extra == {}
    assert got.issued_at.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2025, 1, 1)
    with pytest.raises(ValueError):
        store.add_token(make_token("tok-naive", created_at=naive))
    with pytest.raises(ValueError):
        store.add_keys_if_none([make_key("key-1"), make_key("key-naive", created_at=naive)])
    late_naive = replace(make_credential("urn:uuid:2"), valid_until=naive)
    with pytest.raises(ValueError):
        store.add_credentials([make_credential("urn:uuid:1"), late_naive])
    assert store.list_tokens() == []
    assert store.list_keys() == []
    assert store.get_credential("urn:uuid:1") is None


# --- keys ---------------------------------------------------------------------------------------------------


def test_add_keys_if_none_keeps_the_first_set(store: Store) -> None:
    first = [make_key("key-ed25519-1")]
    assert store.add_keys_if_none(first) == first

    assert store.add_keys_if_none([make_key("key-ed25519-1", alg="ES256"), make_key("key-other")]) == first
    assert store.list_keys() == first


def test_add_keys_if_none_with_a_repeated_kid_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreConflict):
        store.add_keys_if_none([make_key("key-1"), make_key("key-1")])
    assert store.list_keys() == []


def test_concurrent_add_keys_if_none_all_get_one_set(store: Store) -> None:
    batches = [[make_key(f"key-{i}-a"), make_key(f"key-{i}-b", T0 + timedelta(seconds=1))] for i in range(THREADS)]

    results = race(lambda i: store.add_keys_if_none(batches[i]))

    assert results[0] in batches
    assert all(r == results[0] for r in results)
    assert store.list_keys() == results[0]


def test_keys_are_listed_by_created_at_then_kid(store: Store) -> None:
    later = T0 + timedelta(microseconds=1)
    keys = [make_key("key-c", later), make_key("key-b", T0), make_key("key-z", T0 - timedelta(days=400)),
            make_key("key-a", later)]

    expected = [keys[2], keys[1], keys[3], keys[0]]
    assert store.add_keys_if_none(keys) == expected
    assert store.list_keys() == expected


# --- tokens -------------------------------------------------------------------------------------------------


def test_tokens_are_listed_oldest_first(store: Store) -> None:
    tokens = [make_token("tok-b", T0 + timedelta(hours=1)), make_token("tok-c", T0), make_token("tok-a", T0)]
    for token in tokens:
        store.add_token(token)

    assert store.list_tokens() == [tokens[2], tokens[1], tokens[0]]


def test_add_token_conflicts_on_id(store: Store) -> None:
    original = make_token("tok-1")
    store.add_token(original)
    clash = make_token("tok-1", token_hash="ee" * 32)

    with pytest.raises(StoreConflict):
        store.add_token(clash)
    assert store.find_token(clash.token_hash) is None
    assert store.list_tokens() == [original]


def test_add_token_conflicts_on_hash(store: Store) -> None:
    original = make_token("tok-1")
    store.add_token(original)

    with pytest.raises(StoreConflict):
        store.add_token(TokenRecord("tok-2", original.token_hash, "admin", T0))
    assert store.find_token(original.token_hash) == original
    assert store.list_tokens() == [original]


def test_find_token_unknown_hash(store: Store) -> None:
    store.add_token(make_token("tok-1"))
    assert store.find_token("ff" * 32) is None


def test_revoke_token(store: Store) -> None:
    token = make_token("tok-1")
    other = make_token("tok-2")
    store.add_token(token)
    store.add_token(other)
    first, second = T0 + timedelta(hours=1), T0 + timedelta(hours=2)

    assert store.revoke_token("tok-unknown", first) is False
    assert store.revoke_token("tok-1", first) is True
    assert store.revoke_token("tok-1", second) is True

    assert store.find_token(token.token_hash).revoked_at == first
    assert store.find_token(other.token_hash).revoked_at is None
    assert [t.revoked_at for t in store.list_tokens()] == [first, None]


# --- credentials --------------------------------------------------------------------------------------------


def test_credential_batch_with_an_existing_id_writes_nothing(store: Store) -> None:
    store.add_credentials([make_credential("urn:uuid:old")])

    with pytest.raises(StoreConflict):
        store.add_credentials([make_credential("urn:uuid:new-1"), make_credential("urn:uuid:old", "00" * 32),
                               make_credential("urn:uuid:new-2")])
    assert store.get_credential("urn:uuid:new-1") is None
    assert store.get_credential("urn:uuid:new-2") is None
    assert store.get_credential("urn:uuid:old") == make_credential("urn:uuid:old")


def test_credential_batch_with_a_repeated_id_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreConflict):
        store.add_credentials([make_credential("urn:uuid:a"), make_credential("urn:uuid:b"),
                               make_credential("urn:uuid:a", "00" * 32)])
    assert store.get_credential("urn:uuid:a") is None
    assert store.get_credential("urn:uuid:b") is None


def test_empty_credential_batch(store: Store) -> None:
    store.add_credentials([])
    assert store.get_credential("urn:uuid:a") is None


def test_concurrent_adds_of_one_credential_id(store: Store) -> None:
    candidates = [make_credential("urn:uuid:contested", f"{i:02x}" * 32) for i in range(THREADS)]

    results = race(lambda i: store.add_credentials([candidates[i]]))

    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, StoreConflict) for i, r in enumerate(results) if i != winners[0])
    assert store.get_credential("urn:uuid:contested") == candidates[winners[0]]


def add_credentials_in_process(url: str, prefix: str, count: int) -> None:
    store = open_store(url)
    try:
        for i in range(count):
            store.add_credentials([make_credential(f"{prefix}-{i}")])
    finally:
        store.close()


def test_concurrent_writes_from_processes(store: Store, store_url: str) -> None:
    # The store is untouched so far: the processes also race to create the SQLite schema.
    processes, count = 4, 25
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=add_credentials_in_process, args=(store_url, f"urn:uuid:p{n}", count))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [w.exitcode for w in workers] == [0] * processes
    for n in range(processes):
        for i in range(count):
            assert store.get_credential(f"urn:uuid:p{n}-{i}") == make_credential(f"urn:uuid:p{n}-{i}")


# --- unavailable backends -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def unreachable_store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        not_a_dir = tmp_path / "regular-file"
        not_a_dir.write_text("")
        store = SqliteStore(not_a_dir / "store.db")
    else:
        store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", namespace="did_service_unreachable")
    yield store
    store.close()


def test_unreachable_backend_raises_store_unavailable(unreachable_store: Store) -> None:
    with pytest.raises(StoreUnavailable):
        unreachable_store.ping()
    with pytest.raises(StoreUnavailable):
        unreachable_store.add_keys_if_none([make_key("key-1")])
    with pytest.raises(StoreUnavailable):
        unreachable_store.add_token(make_token("tok-1"))
    with pytest.raises(StoreUnavailable):
        unreachable_store.revoke_token("tok-1", T0)
    with pytest.raises(StoreUnavailable):
        unreachable_store.add_credentials([make_credential("urn:uuid:1")])
    with pytest.raises(StoreUnavailable):
        unreachable_store.get_credential("urn:uuid:1")


# --- open_store ---------------------------------------------------------------------------------------------


def test_open_store_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/rel.db")
    try:
        assert isinstance(store, SqliteStore)
        store.add_credentials([make_credential("urn:uuid:1")])
    finally:
        store.close()
    assert (tmp_path / "data" / "rel.db").is_file()


def test_open_store_sqlite_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "abs" / "store.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.add_credentials([make_credential("urn:uuid:1")])
    finally:
        store.close()
    assert str(path).startswith("/") and path.is_file()


def test_open_store_redis_namespace(redis_url: str, redis_namespace: str) -> None:
    separator = "&" if "?" in redis_url else "?"
    store = open_store(f"{redis_url}{separator}namespace={redis_namespace}")
    try:
        assert isinstance(store, RedisStore)
        store.add_credentials([make_credential("urn:uuid:1")])
        store.add_token(make_token("tok-1"))
        store.add_keys_if_none([make_key("key-1")])
    finally:
        store.close()
    client = redis.Redis.from_url(redis_url)
    try:
        # Everything the store wrote carries the namespace as a Cluster hash tag.
        written = client.keys(f"*{redis_namespace}*")
    finally:
        client.close()
    assert written and all(k.startswith(f"{{{redis_namespace}}}:".encode()) for k in written)


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "REDIS://127.0.0.1:6379/0", "rediss://127.0.0.1:6380", "unix:///tmp/redis.sock?db=1"],
)
def test_open_store_redis_schemes(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, RedisStore)
    store.close()


def test_open_store_unix_socket_that_does_not_exist(tmp_path: Path) -> None:
    store = open_store(f"unix://{tmp_path}/absent.sock?namespace=x")
    try:
        with pytest.raises(StoreUnavailable):
            store.ping()
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:s3cret@example.org/store",
        "postgresql+psycopg://user:s3cret@db/store",
        "user:s3cret@localhost:6379",
        "",
        "sqlite://s3cret-host/store.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "redis://:s3cret@127.0.0.1:6379/0?namespace=",
        "redis://:s3cret@127.0.0.1:6379/0?namespace=a&namespace=b",
        "redis://:s3cret@127.0.0.1:6379/0?namespace=%7Bbad%7D",
        "redis://:s3cret@127.0.0.1:notaport/0",
    ],
)
def test_open_store_rejects_bad_urls_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caught.value.detail


def test_open_store_names_an_unknown_scheme() -> None:
    with pytest.raises(ConfigurationError, match="'ftp'"):
        open_store("ftp://example.org/store")


# --- SQLite specifics ---------------------------------------------------------------------------------------


def test_sqlite_pragmas(sqlite_store: SqliteStore, sqlite_path: Path) -> None:
    sqlite_store.ping()
    conn = sqlite_store._conn()

    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with sqlite3.connect(sqlite_path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("1",)
    raw.close()


def test_sqlite_refuses_an_unknown_schema_version(sqlite_store: SqliteStore, sqlite_path: Path) -> None:
    sqlite_store.ping()
    raw = sqlite3.connect(sqlite_path, isolation_level=None)
    raw.execute("UPDATE meta SET value = '999' WHERE name = 'schema_version'")
    raw.close()

    newer = SqliteStore(sqlite_path)
    try:
        with pytest.raises(ConfigurationError):
            newer.ping()
    finally:
        newer.close()


def test_sqlite_threads_get_their_own_connections(sqlite_store: SqliteStore) -> None:
    conns = race(lambda i: sqlite_store._conn())
    assert len({id(c) for c in conns}) == THREADS


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sqlite_child_after_fork_opens_its_own_connection(sqlite_store: SqliteStore) -> None:
    sqlite_store.add_credentials([make_credential("urn:uuid:parent")])
    parent_conn = sqlite_store._conn()

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child_conn = sqlite_store._conn()
            sqlite_store.add_credentials([make_credential("urn:uuid:child")])
            sqlite_store.close()
            code = 0 if child_conn is not parent_conn else 2
        finally:
            os._exit(code)

    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sqlite_store.get_credential("urn:uuid:child") == make_credential("urn:uuid:child")
    # The child's close() left the parent's connection alone.
    assert sqlite_store._conn() is parent_conn
    sqlite_store.add_credentials([make_credential("urn:uuid:parent-again")])
