"""Verifier tenants, their API keys and the shared rate limiter: the Store contract, against SQLite and real Redis."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import timedelta

import pytest

from did_service.errors import StoreConflict
from did_service.storage import ApiKeyRecord, Store, TenantRecord, open_store
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore
from tests.storage.records import T0, race

BANK = TenantRecord("t-bank", "Jeju Bank", "financial-institution", T0)
UNIVERSITY = TenantRecord("t-uni", "제주대학교 — admissions", "general", T0 + timedelta(seconds=1))


def hashed(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def api_key(key_id: str, tenant: TenantRecord = BANK, created_at=T0, key_hash: str | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(key_id, tenant.tenant_id, key_hash or hashed(key_id), created_at)


# --- tenants ------------------------------------------------------------------------------------------------


def test_tenants_round_trip_and_list_oldest_first(store: Store) -> None:
    assert store.list_tenants() == [] and store.get_tenant(BANK.tenant_id) is None
    early = TenantRecord("t-zzz", "Early", "general", T0 - timedelta(days=1))
    for record in (UNIVERSITY, BANK, early):
        store.add_tenant(record)
    assert store.get_tenant(UNIVERSITY.tenant_id) == UNIVERSITY  # unicode name intact
    assert store.list_tenants() == [early, BANK, UNIVERSITY]


def test_a_duplicate_tenant_id_conflicts_and_keeps_the_first(store: Store) -> None:
    store.add_tenant(BANK)
    with pytest.raises(StoreConflict):
        store.add_tenant(TenantRecord(BANK.tenant_id, "Impostor", "general", T0 + timedelta(days=1)))
    assert store.list_tenants() == [BANK]


def test_concurrent_adds_of_one_tenant_succeed_once(store: Store) -> None:
    results = race(lambda i: store.add_tenant(TenantRecord("t-race", f"name {i}", "general", T0)))
    assert results.count(None) == 1
    assert sum(isinstance(r, StoreConflict) for r in results) == len(results) - 1
    assert len(store.list_tenants()) == 1


# --- API keys -----------------------------------------------------------------------------------------------


def test_api_keys_are_found_by_hash_and_listed_per_tenant(store: Store) -> None:
    store.add_tenant(BANK)
    store.add_tenant(UNIVERSITY)
    later, first, other = api_key("k-b", created_at=T0 + timedelta(hours=1)), api_key("k-c"), api_key("k-a", UNIVERSITY)
    for record in (later, first, other):
        store.add_api_key(record)
    assert store.find_api_key(hashed("k-c")) == first
    assert store.find_api_key(hashed("nope")) is None
    assert store.list_api_keys(BANK.tenant_id) == [first, later]
    assert store.list_api_keys(UNIVERSITY.tenant_id) == [other]
    assert store.list_api_keys("t-unknown") == []


@pytest.mark.parametrize("clash", ["id", "hash"])
def test_a_duplicate_key_id_or_hash_conflicts(store: Store, clash: str) -> None:
    store.add_tenant(BANK)
    store.add_tenant(UNIVERSITY)
    store.add_api_key(api_key("k-1"))
    duplicate = api_key("k-1", UNIVERSITY, key_hash=hashed("other")) if clash == "id" else api_key("k-2", UNIVERSITY,
                                                                                                key_hash=hashed("k-1"))
    with pytest.raises(StoreConflict):
        store.add_api_key(duplicate)
    assert store.list_api_keys(UNIVERSITY.tenant_id) == []  # nothing half-written
    assert store.find_api_key(hashed("k-1")) == api_key("k-1")


def test_a_key_for_an_unknown_tenant_conflicts_and_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreConflict):
        store.add_api_key(api_key("k-1"))
    assert store.find_api_key(hashed("k-1")) is None
    assert store.list_api_keys(BANK.tenant_id) == []
    store.add_tenant(BANK)
    store.add_api_key(api_key("k-1"))  # the id was not taken by the refused write
    assert store.list_api_keys(BANK.tenant_id) == [api_key("k-1")]


def test_revoking_keeps_the_first_time(store: Store) -> None:
    store.add_tenant(BANK)
    store.add_api_key(api_key("k-1"))
    store.add_api_key(api_key("k-2"))
    assert store.revoke_api_key("k-1", T0 + timedelta(minutes=5)) is True
    assert store.revoke_api_key("k-1", T0 + timedelta(minutes=9)) is True
    assert store.revoke_api_key("k-missing", T0) is False
    assert store.find_api_key(hashed("k-1")).revoked_at == T0 + timedelta(minutes=5)
    assert store.find_api_key(hashed("k-2")).revoked_at is None
    assert [k.revoked_at for k in store.list_api_keys(BANK.tenant_id)] == [T0 + timedelta(minutes=5), None]


def test_api_key_and_token_ids_do_not_collide(store: Store) -> None:
    # Separate namespaces: revoking an API key must never revoke an operator token of the same id, and back.
    from tests.storage.records import make_token

    store.add_tenant(BANK)
    store.add_api_key(api_key("shared-id"))
    store.add_token(make_token("shared-id"))
    assert store.revoke_token("shared-id", T0) is True
    assert store.find_api_key(hashed("shared-id")).revoked_at is None
    assert store.revoke_api_key("shared-id", T0 + timedelta(seconds=1)) is True
    assert store.find_api_key(hashed("shared-id")).revoked_at == T0 + timedelta(seconds=1)


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.add_tenant(TenantRecord("t-naive", "Naive", "general", T0.replace(tzinfo=None)))
    assert store.list_tenants() == []


# --- rate limiting ------------------------------------------------------------------------------------------


def test_exactly_limit_of_concurrent_takes_succeed(store: Store) -> None:
    results = race(lambda i: store.take_rate_token("key:k-1", 5, 60, T0), count=12)
    assert results.count(True) == 5 and results.count(False) == 7


def test_the_limit_holds_until_the_window_ends_and_a_new_window_resets(store: Store) -> None:
    start = T0.replace(second=0, microsecond=0)  # a window boundary (60 s windows are aligned to the epoch)
    assert [store.take_rate_token("b", 2, 60, start + timedelta(seconds=s)) for s in (0, 10, 59)] == [
        True, True, False]
    assert store.take_rate_token("b", 2, 60, start + timedelta(seconds=59, microseconds=999999)) is False
    assert [store.take_rate_token("b", 2, 60, start + timedelta(seconds=60 + s)) for s in (0, 1, 2)] == [
        True, True, False]
    assert store.take_rate_token("b", 2, 60, start + timedelta(minutes=10)) is True


def test_a_caller_behind_the_latest_window_counts_in_it(store: Store) -> None:
    start = T0.replace(second=0, microsecond=0)
    assert store.take_rate_token("b", 1, 60, start + timedelta(seconds=61)) is True
    # A worker whose clock lags into the previous window must not get a fresh allowance.
    assert store.take_rate_token("b", 1, 60, start + timedelta(seconds=59)) is False


def test_buckets_are_independent(store: Store) -> None:
    assert store.take_rate_token("key:a", 1, 60, T0) is True
    assert store.take_rate_token("key:a", 1, 60, T0) is False
    assert store.take_rate_token("key:b", 1, 60, T0) is True
    assert store.take_rate_token("key:a ", 1, 60, T0) is True  # a different string is a different bucket
    # A higher limit on the same bucket counts from what is already there.
    assert store.take_rate_token("key:a", 2, 60, T0) is True
    assert store.take_rate_token("key:a", 2, 60, T0) is False


@pytest.mark.parametrize("args", [("", 1, 60), ("b", 0, 60), ("b", 1, 0), ("b", True, 60), ("b", 1.5, 60),
                                  ("b", 1, -1)])
def test_bad_limiter_arguments_are_refused(store: Store, args) -> None:
    with pytest.raises(ValueError):
        store.take_rate_token(*args, T0)
    with pytest.raises(ValueError):
        store.take_rate_token("b", 1, 60, T0.replace(tzinfo=None))
    assert store.take_rate_token("b", 1, 60, T0) is True  # nothing was counted by the refused calls


def _take_in_process(url: str, count: int, queue) -> None:
    store = open_store(url)
    try:
        queue.put(sum(store.take_rate_token("shared", 25, 60, T0) for _ in range(count)))
    finally:
        store.close()


def _url_of(store: Store, request: pytest.FixtureRequest) -> str:
    if isinstance(store, SqliteStore):
        return "sqlite:///" + str(request.getfixturevalue("sqlite_path"))
    assert isinstance(store, RedisStore)
    url = request.getfixturevalue("redis_url")
    return f"{url}?namespace={request.getfixturevalue('redis_namespace')}"


def test_the_limit_is_shared_across_processes(store: Store, request: pytest.FixtureRequest) -> None:
    store.ping()  # the SQLite schema exists before the children race to create it
    url = _url_of(store, request)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = [context.Process(target=_take_in_process, args=(url, 15, queue)) for _ in range(3)]
    for child in children:
        child.start()
    taken = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert sum(taken) == 25
    assert store.take_rate_token("shared", 25, 60, T0) is False


# --- purging finished rate counters -------------------------------------------------------------------------


def test_purging_keeps_live_windows_and_drops_finished_ones(store: Store) -> None:
    now = T0 + timedelta(seconds=5)
    assert store.take_rate_token("live", 2, 60, now) and store.take_rate_token("live", 2, 60, now)
    assert store.take_rate_token("old", 5, 60, now - timedelta(minutes=10))
    purged = store.purge_rate_counters(now)
    assert not store.take_rate_token("live", 2, 60, now)  # the live window still counts both
    if isinstance(store, SqliteStore):
        assert purged == 1
        rows = store._read("SELECT bucket FROM rate_counters")  # noqa: SLF001 - what is left on disk
        assert [r[0] for r in rows] == ["live"]
    assert store.purge_rate_counters(now, limit=0) == 0
    with pytest.raises(ValueError):
        store.purge_rate_counters(now.replace(tzinfo=None))


def test_a_database_from_before_the_expiry_column_is_migrated(sqlite_path) -> None:
    import sqlite3

    first = SqliteStore(sqlite_path)
    assert first.take_rate_token("b", 3, 60, T0)
    first.close()
    with sqlite3.connect(sqlite_path) as conn:  # as the previous release left it
        conn.execute("CREATE TABLE rc_old AS SELECT bucket, window_index, count FROM rate_counters")
        conn.execute("DROP TABLE rate_counters")
        conn.execute("CREATE TABLE rate_counters (bucket TEXT PRIMARY KEY, window_index INTEGER NOT NULL, "
                     "count INTEGER NOT NULL) WITHOUT ROWID")
        conn.execute("INSERT INTO rate_counters SELECT * FROM rc_old")
        conn.execute("DROP TABLE rc_old")
    again = SqliteStore(sqlite_path)
    try:
        assert again.purge_rate_counters(T0 + timedelta(days=1)) == 1
        assert again.take_rate_token("b", 3, 60, T0 + timedelta(days=1))
    finally:
        again.close()
