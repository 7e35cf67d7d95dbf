"""Verifier transactions (OpenID4VP presentation requests): the Store contract, against SQLite and real Redis."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import redis

from did_service.errors import StoreConflict
from did_service.storage import Store, VerifierTransaction, open_store
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore
from tests.storage.records import race

# Far in the future: Redis expires a transaction's keys at purge_at by its own clock, and the contract is about
# the ``now`` each call is given.
NOW = datetime(2100, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
KST = timezone(timedelta(hours=9))
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SEALED = b"\x00\xff" + bytes(range(256)) + b"\x00"
DETAILS = {
    "claims": ["family_name", "birth_date", "주소"],
    "evidence": {"issuer": "did:web:issuer.example", "kid": "key-1", "nested": [{"ok": True}, None, 1.5, -7, ""]},
    "note": "é ✓ \u0000 \"quoted\" \\ 😀",
}


def transaction(
    request_id: str = "req-1",
    tenant_id: str = "t-bank",
    nonce: str | None = None,
    created_at: datetime = NOW,
    purge_in: timedelta = timedelta(days=30),
    **changes,
) -> VerifierTransaction:
    return VerifierTransaction(
        request_id=request_id,
        tenant_id=tenant_id,
        policy="age-over-19",
        nonce=nonce or f"nonce-{request_id}",
        state=f"state-{request_id}",
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=5),
        purge_at=created_at + purge_in,
        **changes,
    )


def responded(record: VerifierTransaction, **details) -> VerifierTransaction:
    return replace(record, status="responded", details={"decision": "accept", **details}, sealed=b"\x01sealed\xff")


# --- add and get --------------------------------------------------------------------------------------------


def test_a_transaction_round_trips(store: Store) -> None:
    record = transaction(details=DETAILS, sealed=SEALED)
    store.add_transaction(record)
    got = store.get_transaction(record.request_id, NOW)
    assert got == record
    assert got.details == DETAILS and got.sealed == SEALED  # unicode, nesting and every byte value intact
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert store.get_transaction("req-unknown", NOW) is None


def test_times_come_back_as_utc_instants_with_microseconds(store: Store) -> None:
    created = NOW.astimezone(KST).replace(microsecond=1)
    record = transaction(created_at=created)
    store.add_transaction(record)
    got = store.get_transaction(record.request_id, NOW)
    assert got.created_at == created and got.created_at.microsecond == 1
    assert got.purge_at == record.purge_at and got.purge_at.tzinfo is not None
    assert got.purge_at.utcoffset() == timedelta(0)


def test_the_stored_version_is_zero_whatever_the_record_says(store: Store) -> None:
    store.add_transaction(transaction(version=7, status="responded"))
    got = store.get_transaction("req-1", NOW)
    assert got.version == 0 and got.status == "responded"


def test_defaults_round_trip(store: Store) -> None:
    store.add_transaction(transaction())
    got = store.get_transaction("req-1", NOW)
    assert (got.status, got.version, got.details, got.sealed) == ("pending", 0, {}, b"")


def test_a_duplicate_request_id_conflicts_and_keeps_the_first(store: Store) -> None:
    first = transaction(details={"n": 1})
    store.add_transaction(first)
    with pytest.raises(StoreConflict):
        store.add_transaction(transaction(nonce="another-nonce", tenant_id="t-other", details={"n": 2}))
    assert store.get_transaction("req-1", NOW) == first
    assert store.list_transactions("t-other", NOW) == []
    store.add_transaction(transaction("req-2", nonce="another-nonce"))  # the refused write took no nonce


def test_a_nonce_belongs_to_one_transaction_across_tenants(store: Store) -> None:
    store.add_transaction(transaction("req-1", nonce="n-shared"))
    with pytest.raises(StoreConflict):
        store.add_transaction(transaction("req-2", tenant_id="t-other", nonce="n-shared"))
    assert store.get_transaction("req-2", NOW) is None
    assert store.list_transactions("t-other", NOW) == []
    assert [r.request_id for r in store.list_transactions("t-bank", NOW)] == ["req-1"]


def test_concurrent_adds_with_one_nonce_succeed_once(store: Store) -> None:
    results = race(lambda i: store.add_transaction(transaction(f"req-{i}", nonce="n-race")))
    assert results.count(None) == 1
    assert sum(isinstance(r, StoreConflict) for r in results) == len(results) - 1
    assert len(store.list_transactions("t-bank", NOW)) == 1


def test_a_transaction_is_gone_at_purge_at(store: Store) -> None:
    record = transaction()
    store.add_transaction(record)
    assert store.get_transaction("req-1", record.purge_at - timedelta(microseconds=1)) == record
    assert store.get_transaction("req-1", record.purge_at) is None
    assert store.get_transaction("req-1", record.purge_at + timedelta(days=1)) is None
    assert store.get_transaction("req-1", record.purge_at.astimezone(KST)) is None  # the instant, not the text


# --- compare and swap ---------------------------------------------------------------------------------------


def test_a_swap_from_the_stored_version_succeeds_once_and_bumps_it(store: Store) -> None:
    record = transaction(details={"claims": ["age_over_19"]})
    store.add_transaction(record)
    first = responded(record, receipt={"id": "rc-1", "ok": True})
    swapped = store.swap_transaction(first, 0, NOW)
    assert swapped == replace(first, version=1)
    assert store.get_transaction("req-1", NOW) == swapped
    assert store.swap_transaction(responded(record, receipt="again"), 0, NOW) is None  # the nonce is spent
    assert store.get_transaction("req-1", NOW) == swapped
    again = store.swap_transaction(replace(swapped, details={}, sealed=b""), 1, NOW)
    assert again == replace(swapped, details={}, sealed=b"", version=2)
    assert store.get_transaction("req-1", NOW) == again


def test_the_records_own_version_is_ignored_by_a_swap(store: Store) -> None:
    store.add_transaction(transaction())
    swapped = store.swap_transaction(responded(transaction(version=41)), 0, NOW)
    assert swapped is not None and swapped.version == 1


@pytest.mark.parametrize("expected", [1, 2, 100])
def test_a_swap_from_another_version_writes_nothing(store: Store, expected: int) -> None:
    record = transaction(details={"a": 1}, sealed=b"s")
    store.add_transaction(record)
    assert store.swap_transaction(responded(record), expected, NOW) is None
    assert store.get_transaction("req-1", NOW) == record


def test_a_swap_of_an_unknown_or_purged_transaction_writes_nothing(store: Store) -> None:
    record = transaction()
    assert store.swap_transaction(responded(record), 0, NOW) is None
    assert store.get_transaction("req-1", NOW) is None
    store.add_transaction(record)
    assert store.swap_transaction(responded(record), 0, record.purge_at) is None
    assert store.swap_transaction(responded(record), 0, record.purge_at + timedelta(seconds=1)) is None
    assert store.get_transaction("req-1", NOW) == record


@pytest.mark.parametrize(
    "change",
    [
        {"tenant_id": "t-other"},
        {"policy": "kyc"},
        {"nonce": "n-other"},
        {"state": "s-other"},
        {"created_at": NOW + timedelta(microseconds=1)},
        {"expires_at": NOW + timedelta(minutes=6)},
        {"purge_at": NOW + timedelta(days=31)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_swap_that_changes_a_fixed_field_is_refused(store: Store, change: dict) -> None:
    record = transaction()
    store.add_transaction(record)
    with pytest.raises(ValueError):
        store.swap_transaction(replace(responded(record), **change), 0, NOW)
    assert store.get_transaction("req-1", NOW) == record
    assert store.swap_transaction(responded(record), 0, NOW).version == 1  # the version was not taken


def test_the_same_instants_in_another_zone_are_no_change(store: Store) -> None:
    record = transaction()
    store.add_transaction(record)
    moved = replace(
        responded(record),
        created_at=record.created_at.astimezone(KST),
        expires_at=record.expires_at.astimezone(KST),
        purge_at=record.purge_at.astimezone(KST),
    )
    assert store.swap_transaction(moved, 0, NOW.astimezone(KST)).version == 1


def test_of_concurrent_swaps_from_one_version_exactly_one_wins(store: Store) -> None:
    record = transaction()
    store.add_transaction(record)
    results = race(lambda i: store.swap_transaction(responded(record, winner=i), 0, NOW), count=12)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].version == 1
    assert store.get_transaction("req-1", NOW) == winners[0]


def _swap_in_process(url: str, request_id: str, threads: int, barrier, queue) -> None:
    store = open_store(url)
    try:
        current = store.get_transaction(request_id, NOW)
        barrier.wait(timeout=60)
        winner = f"{os.getpid()}-{{}}"
        results = race(
            lambda i: store.swap_transaction(responded(current, winner=winner.format(i)), 0, NOW), count=threads
        )
        queue.put([r.details["winner"] for r in results if r is not None])
    finally:
        store.close()


def test_of_concurrent_swaps_across_processes_exactly_one_wins(store: Store, store_url: str) -> None:
    store.add_transaction(transaction())  # also creates the SQLite schema before the children start
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = 4
    barrier = context.Barrier(children)
    processes = [
        context.Process(target=_swap_in_process, args=(store_url, "req-1", 4, barrier, queue)) for _ in range(children)
    ]
    for process in processes:
        process.start()
    won = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [w for per_process in won for w in per_process]
    assert len(winners) == 1
    stored = store.get_transaction("req-1", NOW)
    assert stored.version == 1 and stored.details["winner"] == winners[0]


# --- purge --------------------------------------------------------------------------------------------------


def test_purge_deletes_only_due_transactions(store: Store) -> None:
    due = [transaction(f"due-{i}", purge_in=timedelta(hours=i + 1)) for i in range(3)]
    kept = [transaction(f"kept-{i}", purge_in=timedelta(hours=3, microseconds=i + 1)) for i in range(2)]
    for record in due + kept:
        store.add_transaction(record)
    cut = NOW + timedelta(hours=3)  # due-2's purge_at: purge_at == now is due
    assert store.purge_transactions(cut) == 3
    assert store.purge_transactions(cut) == 0
    # Gone for good: visible again to no ``now``, and the ids and nonces are free.
    assert all(store.get_transaction(r.request_id, NOW - timedelta(days=1)) is None for r in due)
    assert [store.get_transaction(r.request_id, NOW) for r in kept] == kept
    store.add_transaction(transaction("due-1", nonce="nonce-due-2"))


def test_purge_respects_the_limit(store: Store) -> None:
    for i in range(5):
        store.add_transaction(transaction(f"r-{i}", purge_in=timedelta(minutes=i)))
    store.add_transaction(transaction("r-late", purge_in=timedelta(days=1)))
    later = NOW + timedelta(hours=1)
    assert [store.purge_transactions(later, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert store.purge_transactions(later, limit=0) == 0
    assert [r.request_id for r in store.list_transactions("t-bank", NOW)] == ["r-late"]


def test_concurrent_purges_delete_each_transaction_once(store: Store) -> None:
    for i in range(20):
        store.add_transaction(transaction(f"r-{i:02}", purge_in=timedelta(minutes=1)))
    later = NOW + timedelta(hours=1)
    counts = race(lambda i: store.purge_transactions(later, limit=7))
    rest = 0
    while count := store.purge_transactions(later, limit=7):
        rest += count
    assert sum(counts) + rest == 20  # no transaction counted twice
    assert store.list_transactions("t-bank", NOW) == []


# --- list ---------------------------------------------------------------------------------------------------


def test_list_is_per_tenant_newest_first_without_purged_ones(store: Store) -> None:
    records = [
        transaction("a", created_at=NOW),
        transaction("c", created_at=NOW),  # same instant: request_id descending
        transaction("b", created_at=NOW),
        transaction("old", created_at=NOW - timedelta(days=1)),
        transaction("new", created_at=NOW + timedelta(seconds=1)),
        transaction("purged", created_at=NOW + timedelta(seconds=2), purge_in=timedelta(microseconds=1)),
        transaction("other", tenant_id="t-other", created_at=NOW + timedelta(seconds=3)),
    ]
    for record in records:
        store.add_transaction(record)
    at = NOW + timedelta(seconds=5)
    assert [r.request_id for r in store.list_transactions("t-bank", at)] == ["new", "c", "b", "a", "old"]
    assert store.list_transactions("t-bank", at)[1] == records[1]
    assert [r.request_id for r in store.list_transactions("t-bank", at, limit=2)] == ["new", "c"]
    assert store.list_transactions("t-bank", at, limit=0) == []
    assert [r.request_id for r in store.list_transactions("t-other", at)] == ["other"]
    assert store.list_transactions("t-unknown", at) == []
    assert [r.request_id for r in store.list_transactions("t-bank", NOW + timedelta(seconds=1))] == [
        "purged", "new", "c", "b", "a", "old"]


def test_list_skips_many_purged_transactions_and_ties(store: Store) -> None:
    # 50 at one instant; the 40 with the highest ids are past retention (not yet deleted) and listed first by
    # order, so a backend reading in pages must read past them.
    for i in range(50):
        purge_in = timedelta(seconds=1) if i >= 10 else timedelta(days=1)
        store.add_transaction(transaction(f"r-{i:02}", created_at=NOW, purge_in=purge_in))
    at = NOW + timedelta(minutes=1)
    assert [r.request_id for r in store.list_transactions("t-bank", at, limit=3)] == ["r-09", "r-08", "r-07"]
    assert [r.request_id for r in store.list_transactions("t-bank", at)] == [f"r-{i:02}" for i in range(9, -1, -1)]


# --- sealed data with a time limit (sealed_until) -----------------------------------------------------------

UNTIL = NOW + timedelta(minutes=10)
GONE = {"sealed": b"", "sealed_until": None}


def sealed_transaction(request_id: str = "req-1", until: datetime | None = UNTIL, **changes) -> VerifierTransaction:
    return transaction(request_id, sealed=changes.pop("sealed", SEALED), sealed_until=until, **changes)


def test_sealed_until_round_trips_as_a_utc_instant(store: Store) -> None:
    until = UNTIL.astimezone(KST).replace(microsecond=7)
    record = sealed_transaction(until=until)
    store.add_transaction(record)
    got = store.get_transaction("req-1", NOW)
    assert got == record and got.sealed == SEALED
    assert got.sealed_until == until and got.sealed_until.microsecond == 7
    assert got.sealed_until.utcoffset() == timedelta(0)
    assert store.list_transactions("t-bank", NOW) == [record]


def test_sealed_data_is_not_handed_out_from_sealed_until_on(store: Store) -> None:
    record = sealed_transaction(details=DETAILS)
    store.add_transaction(record)
    just_before = UNTIL - timedelta(microseconds=1)
    assert store.get_transaction("req-1", just_before) == record
    assert store.list_transactions("t-bank", just_before) == [record]
    for at in (UNTIL, UNTIL + timedelta(days=1), UNTIL.astimezone(KST)):
        # Everything else as stored, version included: only the sealed data is gone.
        assert store.get_transaction("req-1", at) == replace(record, **GONE)
        assert store.list_transactions("t-bank", at) == [replace(record, **GONE)]
    # Nothing was erased yet: the stored bytes wait for drop_expired_sealed, and an earlier now still sees them.
    assert store.get_transaction("req-1", NOW) == record


def test_a_swap_does_not_hand_out_or_write_sealed_data_past_its_time(store: Store) -> None:
    record = sealed_transaction()
    store.add_transaction(record)
    # As the service swaps: the record it read, with new status and details, sealed data carried over.
    swapped = store.swap_transaction(replace(record, status="responded", details={"d": 1}), 0, UNTIL)
    assert swapped == replace(record, status="responded", details={"d": 1}, version=1, **GONE)
    # Sealed data already due when written is not stored at all.
    assert store.get_transaction("req-1", NOW) == swapped
    assert store.drop_expired_sealed(UNTIL + timedelta(days=1)) == 0


def test_a_swap_before_sealed_until_returns_the_sealed_data(store: Store) -> None:
    record = sealed_transaction()
    store.add_transaction(record)
    swapped = store.swap_transaction(replace(record, status="responded"), 0, UNTIL - timedelta(microseconds=1))
    assert swapped == replace(record, status="responded", version=1)


def test_a_swap_sets_moves_and_clears_sealed_until(store: Store) -> None:
    record = transaction()
    store.add_transaction(record)
    # Set: the bank's application, kept until the wallet answers.
    pending = store.swap_transaction(replace(record, sealed=b"application", sealed_until=UNTIL), 0, NOW)
    assert pending.sealed_until == UNTIL and pending.sealed == b"application"
    assert store.get_transaction("req-1", NOW) == pending
    # Moved later: the returned claims, readable for 10 minutes more. The earlier time no longer applies.
    later = UNTIL + timedelta(minutes=10)
    claims = store.swap_transaction(replace(pending, sealed=b"claims", sealed_until=later), 1, NOW)
    assert (claims.sealed, claims.sealed_until, claims.version) == (b"claims", later, 2)
    assert store.drop_expired_sealed(UNTIL) == 0
    assert store.get_transaction("req-1", UNTIL) == claims
    # Cleared: the sealed data is kept until purge_at again.
    kept = store.swap_transaction(replace(claims, sealed_until=None), 2, NOW)
    assert (kept.sealed, kept.sealed_until) == (b"claims", None)
    assert store.drop_expired_sealed(later + timedelta(days=1)) == 0
    assert store.get_transaction("req-1", later + timedelta(days=1)) == kept
    # Set again, then due.
    store.swap_transaction(replace(kept, sealed_until=later), 3, NOW)
    assert store.drop_expired_sealed(later) == 1
    assert store.get_transaction("req-1", NOW) == replace(kept, version=5, **GONE)


def test_an_empty_sealed_may_carry_any_sealed_until(store: Store) -> None:
    record = transaction(sealed_until=UNTIL)
    store.add_transaction(record)
    assert store.get_transaction("req-1", NOW) == record
    assert store.drop_expired_sealed(UNTIL + timedelta(days=1)) == 0
    assert store.get_transaction("req-1", NOW) == record  # untouched: same sealed_until, same version
    assert store.get_transaction("req-1", UNTIL) == replace(record, sealed_until=None)
    swapped = store.swap_transaction(replace(record, sealed=b"s", sealed_until=UNTIL), 0, NOW)
    cleared = store.swap_transaction(replace(swapped, sealed=b""), 1, NOW)
    assert (cleared.sealed, cleared.sealed_until) == (b"", UNTIL)
    assert store.drop_expired_sealed(UNTIL) == 0
    assert store.get_transaction("req-1", NOW) == cleared


def test_drop_expired_sealed_clears_exactly_the_due_ones(store: Store) -> None:
    due = [sealed_transaction(f"due-{i}", until=NOW + timedelta(minutes=i + 1), details={"i": i}) for i in range(3)]
    later = sealed_transaction("later", until=NOW + timedelta(minutes=3, microseconds=1))
    unlimited = sealed_transaction("unlimited", until=None)
    empty = transaction("empty", sealed_until=NOW)
    other = sealed_transaction("other", tenant_id="t-other", until=NOW)
    for record in (*due, later, unlimited, empty, other):
        store.add_transaction(record)
    cut = NOW + timedelta(minutes=3)  # due-2's sealed_until: sealed_until == now is due
    assert store.drop_expired_sealed(cut) == 4  # the three, and the other tenant's
    assert store.drop_expired_sealed(cut) == 0
    # Read at an earlier now, so that what is seen is what is stored.
    for record in (*due, other):
        assert store.get_transaction(record.request_id, NOW - timedelta(days=1)) == replace(record, version=1, **GONE)
    for record in (later, unlimited, empty):
        assert store.get_transaction(record.request_id, NOW - timedelta(days=1)) == record
    assert store.drop_expired_sealed(cut + timedelta(microseconds=1)) == 1
    assert store.get_transaction("later", NOW) == replace(later, version=1, **GONE)


def test_drop_expired_sealed_returns_zero_when_nothing_is_due(store: Store) -> None:
    assert store.drop_expired_sealed(NOW) == 0  # empty store
    store.add_transaction(sealed_transaction())
    store.add_transaction(transaction("plain", sealed=SEALED))
    assert store.drop_expired_sealed(UNTIL - timedelta(microseconds=1)) == 0
    assert store.get_transaction("req-1", NOW) == sealed_transaction()


def test_drop_expired_sealed_respects_the_limit_earliest_first(store: Store) -> None:
    for i in range(5):
        store.add_transaction(sealed_transaction(f"r-{i}", until=NOW + timedelta(minutes=5 - i)))
    store.add_transaction(sealed_transaction("r-late", until=NOW + timedelta(days=1)))
    later = NOW + timedelta(hours=1)
    assert store.drop_expired_sealed(later, limit=0) == 0
    assert store.drop_expired_sealed(later, limit=-1) == 0
    assert store.drop_expired_sealed(later, limit=1) == 1
    assert store.get_transaction("r-4", NOW).sealed == b""  # the earliest sealed_until
    assert all(store.get_transaction(f"r-{i}", NOW).sealed == SEALED for i in range(4))
    assert [store.drop_expired_sealed(later, limit=2) for _ in range(3)] == [2, 2, 0]
    assert store.get_transaction("r-late", NOW).sealed == SEALED


def test_drop_expired_sealed_bumps_the_version_so_an_old_swap_fails(store: Store) -> None:
    record = sealed_transaction()
    store.add_transaction(record)
    read = store.get_transaction("req-1", NOW)  # version 0, with the sealed data
    assert store.drop_expired_sealed(UNTIL) == 1
    # A swap from what was read before cannot write the old sealed data back.
    assert store.swap_transaction(replace(read, status="responded", sealed_until=None), 0, NOW) is None
    stored = store.get_transaction("req-1", NOW)
    assert stored == replace(record, version=1, **GONE)
    assert store.swap_transaction(replace(stored, status="responded"), 1, NOW).version == 2


def test_a_swap_that_wins_first_decides_the_sealed_data(store: Store) -> None:
    record = sealed_transaction()
    store.add_transaction(record)
    moved = store.swap_transaction(replace(record, sealed=b"new", sealed_until=UNTIL + timedelta(hours=1)), 0, NOW)
    assert store.drop_expired_sealed(UNTIL) == 0
    assert store.get_transaction("req-1", UNTIL) == moved


def test_drop_expired_sealed_also_clears_transactions_past_purge_at(store: Store) -> None:
    store.add_transaction(sealed_transaction(purge_in=timedelta(minutes=5)))
    assert store.drop_expired_sealed(NOW + timedelta(days=1)) == 1
    assert store.purge_transactions(NOW + timedelta(days=1)) == 1
    assert store.drop_expired_sealed(NOW + timedelta(days=1)) == 0


def test_purged_transactions_leave_nothing_to_drop(store: Store) -> None:
    store.add_transaction(sealed_transaction(purge_in=timedelta(minutes=5)))
    assert store.purge_transactions(NOW + timedelta(minutes=5)) == 1
    assert store.drop_expired_sealed(NOW + timedelta(days=1)) == 0
    store.add_transaction(sealed_transaction(until=None))  # the id again, without a time limit
    assert store.drop_expired_sealed(NOW + timedelta(days=1)) == 0
    assert store.get_transaction("req-1", NOW + timedelta(days=1)).sealed == SEALED


def test_concurrent_drops_clear_each_transaction_once(store: Store) -> None:
    for i in range(20):
        store.add_transaction(sealed_transaction(f"r-{i:02}", until=NOW + timedelta(seconds=i)))
    later = NOW + timedelta(hours=1)
    counts = race(lambda i: store.drop_expired_sealed(later, limit=7))
    rest = 0
    while count := store.drop_expired_sealed(later, limit=7):
        rest += count
    assert sum(counts) + rest == 20
    assert all(r.version == 1 and r.sealed == b"" for r in store.list_transactions("t-bank", NOW))


def test_a_drop_racing_swaps_never_writes_old_sealed_data_back(store: Store) -> None:
    records = [sealed_transaction(f"r-{i:02}", until=NOW) for i in range(10)]
    for record in records:
        store.add_transaction(record)

    def attempt(i: int):
        if i == 0:
            return store.drop_expired_sealed(NOW)
        record = records[i % len(records)]
        return store.swap_transaction(replace(record, status="responded", sealed_until=None), 0, NOW - timedelta(1))

    results = race(attempt, count=11)
    swapped = {r.request_id for r in results[1:] if r is not None}
    assert results[0] + len(swapped) == 10  # each record went one way: dropped, or swapped first
    for record in records:
        stored = store.get_transaction(record.request_id, NOW - timedelta(days=1))
        if record.request_id in swapped:
            assert (stored.sealed, stored.sealed_until, stored.version) == (SEALED, None, 1)
        else:
            assert (stored.sealed, stored.sealed_until, stored.version) == (b"", None, 1)


# --- refused arguments --------------------------------------------------------------------------------------


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


BAD = {
    "naive-created_at": {"created_at": _naive(NOW)},
    "naive-expires_at": {"expires_at": _naive(NOW)},
    "naive-purge_at": {"purge_at": _naive(NOW + timedelta(days=1))},
    "unknown-status": {"status": "accepted"},
    "empty-status": {"status": ""},
    "details-list": {"details": ["not", "an", "object"]},
    "details-tuple": {"details": {"tuple": (1, 2)}},
    "details-int-key": {"details": {1: "integer key"}},
    "details-nan": {"details": {"nan": float("nan")}},
    "details-inf": {"details": {"inf": float("inf")}},
    "details-object": {"details": {"object": object()}},
    "details-bytes": {"details": {"bytes": b"x"}},
    "sealed-text": {"sealed": "text"},
    "sealed-bytearray": {"sealed": bytearray(b"x")},
    "naive-sealed_until": {"sealed": b"s", "sealed_until": _naive(NOW + timedelta(minutes=10))},
    "naive-sealed_until-without-sealed": {"sealed_until": _naive(NOW)},
    "sealed_until-text": {"sealed": b"s", "sealed_until": "2100-01-01T12:10:00+00:00"},
    "nonce-none": {"nonce": None},
    "request_id-int": {"request_id": 1},
}


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
def test_a_bad_transaction_is_refused_and_nothing_is_written(store: Store, bad: dict) -> None:
    with pytest.raises(ValueError):
        store.add_transaction(replace(transaction(), **bad))
    assert store.get_transaction("req-1", NOW) is None
    assert store.list_transactions("t-bank", NOW) == []
    good = transaction()
    store.add_transaction(good)  # neither the id nor the nonce was taken
    with pytest.raises(ValueError):
        store.swap_transaction(replace(responded(good), **bad), 0, NOW)
    assert store.get_transaction("req-1", NOW) == good


@pytest.mark.parametrize("expected", [True, -1, "0", 0.0, None])
def test_a_bad_expected_version_is_refused(store: Store, expected) -> None:
    record = transaction()
    store.add_transaction(record)
    with pytest.raises(ValueError):
        store.swap_transaction(responded(record), expected, NOW)
    assert store.get_transaction("req-1", NOW) == record


def test_naive_times_of_now_are_refused(store: Store) -> None:
    record = transaction()
    store.add_transaction(record)
    naive = _naive(NOW)
    with pytest.raises(ValueError):
        store.get_transaction("req-1", naive)
    with pytest.raises(ValueError):
        store.swap_transaction(responded(record), 0, naive)
    with pytest.raises(ValueError):
        store.purge_transactions(_naive(record.purge_at))
    with pytest.raises(ValueError):
        store.list_transactions("t-bank", naive)
    with pytest.raises(ValueError):
        store.drop_expired_sealed(naive)
    assert store.get_transaction("req-1", NOW) == record


# --- backend specifics --------------------------------------------------------------------------------------


def test_sqlite_purges_through_an_index_on_purge_at(sqlite_store: SqliteStore) -> None:
    sqlite_store.ping()
    conn = sqlite_store._conn()
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT request_id FROM verifier_transactions WHERE purge_at <= ? ORDER BY purge_at"
        " LIMIT 10",
        ("2100",),
    ).fetchall()
    assert any("verifier_transactions_by_purge_at" in row[-1] for row in plan)


def test_redis_expires_a_transaction_by_itself_and_purge_removes_the_rest(
    redis_store: RedisStore, redis_url: str, redis_namespace: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = "{" + redis_namespace + "}:"
    try:
        start = datetime.now(timezone.utc)
        short = transaction("req-short", created_at=start, purge_in=timedelta(seconds=1))
        long = transaction("req-long", created_at=start)
        redis_store.add_transaction(short)
        redis_store.add_transaction(long)
        for record in (short, long):
            # Expiry at purge_at, rounded up to Redis's milliseconds: the keys never go before purge_at.
            expected = -(-(record.purge_at - EPOCH) // timedelta(milliseconds=1))
            for key in (prefix + "vtx:" + record.request_id, prefix + "vtx-nonce:" + record.nonce):
                assert client.pexpiretime(key) == expected
        deadline = time.monotonic() + 10
        while client.exists(prefix + "vtx:req-short", prefix + "vtx-nonce:nonce-req-short"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Redis deleted the record; its index entries wait for purge_transactions, and listing skips them.
        assert client.zscore(prefix + "vtx-of:t-bank", "req-short") is not None
        now = datetime.now(timezone.utc)
        assert [r.request_id for r in redis_store.list_transactions("t-bank", start)] == ["req-long"]
        # The id may be used again, here by another tenant with a new nonce; purging the old entry leaves it be.
        again = transaction("req-short", tenant_id="t-other", nonce="n-again", created_at=start)
        redis_store.add_transaction(again)
        assert redis_store.purge_transactions(now) == 1
        assert redis_store.purge_transactions(now) == 0
        assert client.zscore(prefix + "vtx-of:t-bank", "req-short") is None
        assert redis_store.get_transaction("req-short", now) == again
        assert [r.request_id for r in redis_store.list_transactions("t-other", now)] == ["req-short"]
        assert [r.request_id for r in redis_store.list_transactions("t-bank", now)] == ["req-long"]
        assert client.get(prefix + "vtx-nonce:n-again") == b"req-short"
        assert all(key.startswith(prefix.encode()) for key in client.scan_iter(match=prefix + "vtx*"))
    finally:
        client.close()


def test_sqlite_drops_sealed_data_through_a_partial_index(sqlite_store: SqliteStore) -> None:
    sqlite_store.ping()
    conn = sqlite_store._conn()
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT request_id FROM verifier_transactions"
        " WHERE sealed_until IS NOT NULL AND length(sealed) > 0 AND sealed_until <= ? ORDER BY sealed_until LIMIT 10",
        ("2100",),
    ).fetchall()
    assert any("verifier_transactions_by_sealed_until" in row[-1] for row in plan)


def test_sqlite_adds_sealed_until_to_a_table_made_before_it(tmp_path) -> None:
    path = tmp_path / "old.db"
    made = SqliteStore(path)
    made.ping()  # the schema, then back to the table as the release that added it made it
    made.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP INDEX verifier_transactions_by_sealed_until")
        conn.execute("ALTER TABLE verifier_transactions DROP COLUMN sealed_until")
        record = transaction(sealed=SEALED, details={"a": 1})
        conn.execute(
            "INSERT INTO verifier_transactions (request_id, tenant_id, policy, nonce, state, created_at, expires_at,"
            " purge_at, status, version, details, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            (record.request_id, record.tenant_id, record.policy, record.nonce, record.state,
             *(t.isoformat(timespec="microseconds") for t in (record.created_at, record.expires_at, record.purge_at)),
             '{"a":1}', SEALED),
        )
    finally:
        conn.close()
    for _ in range(2):  # the second open finds the column there
        store = SqliteStore(path)
        try:
            assert store.get_transaction("req-1", NOW) == record
            columns = {row[1] for row in store._conn().execute("PRAGMA table_info(verifier_transactions)")}
            assert "sealed_until" in columns
        finally:
            store.close()
    store = SqliteStore(path)
    try:
        swapped = store.swap_transaction(replace(record, sealed_until=UNTIL), 0, NOW)
        assert swapped == replace(record, sealed_until=UNTIL, version=1)
        assert store.drop_expired_sealed(UNTIL) == 1
        assert store.get_transaction("req-1", NOW) == replace(record, version=2, **GONE)
    finally:
        store.close()


def test_redis_keeps_the_sealed_index_in_step(redis_store: RedisStore, redis_url: str, redis_namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = "{" + redis_namespace + "}:vtx-sealed"

    def micros(at: datetime) -> int:
        return (at - EPOCH) // timedelta(microseconds=1)

    try:
        store = redis_store
        store.add_transaction(sealed_transaction("a"))
        store.add_transaction(transaction("b", sealed_until=UNTIL))  # nothing sealed: not indexed
        store.add_transaction(sealed_transaction("c", until=None))
        assert client.zrange(key, 0, -1, withscores=True) == [(b"a", micros(UNTIL))]
        store.swap_transaction(replace(sealed_transaction("c", until=None), sealed_until=NOW), 0, NOW - timedelta(1))
        store.swap_transaction(replace(sealed_transaction("a"), sealed_until=None), 0, NOW)
        assert client.zrange(key, 0, -1, withscores=True) == [(b"c", micros(NOW))]
        assert store.drop_expired_sealed(NOW) == 1
        assert client.zcard(key) == 0
        store.add_transaction(sealed_transaction("d", purge_in=timedelta(minutes=1)))
        assert store.purge_transactions(NOW + timedelta(minutes=1)) == 1
        assert client.zcard(key) == 0
    finally:
        client.close()


def test_redis_drop_skips_transactions_redis_expired_and_reads_hashes_without_sealed_until(
    redis_store: RedisStore, redis_url: str, redis_namespace: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = "{" + redis_namespace + "}:"
    try:
        start = datetime.now(timezone.utc)
        short = sealed_transaction("req-short", created_at=start, purge_in=timedelta(seconds=1), until=start)
        redis_store.add_transaction(short)
        due = sealed_transaction("req-due", until=NOW)
        redis_store.add_transaction(due)
        deadline = time.monotonic() + 10
        while client.exists(prefix + "vtx:req-short"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.zscore(prefix + "vtx-sealed", "req-short") is not None
        # The expired one's entry is removed uncounted; the limit still reaches the live one behind it.
        assert redis_store.drop_expired_sealed(NOW, limit=1) == 1
        assert client.zcard(prefix + "vtx-sealed") == 0
        assert redis_store.get_transaction("req-due", NOW - timedelta(days=1)) == replace(due, version=1, **GONE)
        # A hash written before sealed_until existed has no such fields: None, and nothing to drop.
        old = sealed_transaction("req-old", until=None)
        redis_store.add_transaction(old)
        client.hdel(prefix + "vtx:req-old", "sealed_until", "sealed_score")
        assert redis_store.get_transaction("req-old", NOW) == old
        assert redis_store.list_transactions("t-bank", NOW)[0] == old
        swapped = redis_store.swap_transaction(replace(old, sealed_until=UNTIL), 0, NOW)
        assert swapped == replace(old, sealed_until=UNTIL, version=1)
        assert redis_store.drop_expired_sealed(UNTIL) == 1
    finally:
        client.close()
