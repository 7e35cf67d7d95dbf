"""The resident portal's records (residents, enrollment codes, accounts, sessions): the Store contract, against
SQLite and real Redis."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import redis

from did_service.errors import StoreConflict
from did_service.storage import (
    AccountRecord,
    EnrollmentCodeRecord,
    ResidentRecord,
    SessionRecord,
    Store,
    open_store,
)
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore
from tests.storage.records import race

# Far in the future: Redis expires codes and sessions by its own clock, and the contract is about the ``now``
# each call is given.
NOW = datetime(2100, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
KST = timezone(timedelta(hours=9))
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SEALED = b"\x00\xff" + bytes(range(256)) + b"\x00"
US = timedelta(microseconds=1)


def hashed(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def resident(resident_id: str = "r-1", created_at: datetime = NOW, **changes) -> ResidentRecord:
    values = {"sealed": SEALED + resident_id.encode(), "rrn_index": hashed("rrn " + resident_id)}
    values.update(changes)
    return ResidentRecord(resident_id=resident_id, created_at=created_at, **values)


def code(label: str = "c-1", resident_id: str = "r-1", expires_in: timedelta = timedelta(days=14),
         **changes) -> EnrollmentCodeRecord:
    return EnrollmentCodeRecord(hashed(label), resident_id, NOW, NOW + expires_in, **changes)


def account(subject: str = "resident:r-1", **changes) -> AccountRecord:
    values = {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "created_at": NOW}
    values.update(changes)
    return AccountRecord(subject=subject, **values)


def session(label: str = "s-1", subject: str = "resident:r-1", idle: int = 900,
            absolute_in: timedelta = timedelta(hours=12), last_seen_at: datetime = NOW) -> SessionRecord:
    return SessionRecord(hashed(label), subject, NOW, last_seen_at, idle, NOW + absolute_in)


# --- residents ----------------------------------------------------------------------------------------------


def test_residents_round_trip(store: Store) -> None:
    first, second = resident("r-1"), resident("r-2", sealed=b"\x00\xff", status="disabled")
    store.add_residents([first, second])
    assert store.get_resident("r-1") == first and store.get_resident("r-2") == second
    assert store.get_resident("r-2").sealed == b"\x00\xff"  # opaque bytes intact
    assert store.find_resident_by_rrn_index(first.rrn_index) == first
    assert store.get_resident("r-unknown") is None
    assert store.find_resident_by_rrn_index(hashed("nope")) is None


def test_resident_times_come_back_as_utc_instants_with_microseconds(store: Store) -> None:
    created = NOW.astimezone(KST).replace(microsecond=1)
    store.add_residents([resident(created_at=created)])
    got = store.get_resident("r-1")
    assert got.created_at == created and got.created_at.microsecond == 1
    assert got.created_at.utcoffset() == timedelta(0)


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    store.add_residents([])
    assert store.list_residents() == []


@pytest.mark.parametrize(
    "batch",
    [
        [resident("r-new"), resident("r-1", rrn_index=hashed("fresh"))],  # the id is stored
        [resident("r-new"), resident("r-2", rrn_index=hashed("rrn r-1"))],  # the rrn_index is stored
        [resident("r-new"), resident("r-2"), resident("r-2", rrn_index=hashed("other"))],  # an id repeats
        [resident("r-new"), resident("r-2", rrn_index=hashed("x")), resident("r-3", rrn_index=hashed("x"))],
    ],
    ids=["stored-id", "stored-rrn", "repeated-id", "repeated-rrn"],
)
def test_a_conflicting_batch_writes_nothing(store: Store, batch: list[ResidentRecord]) -> None:
    store.add_residents([resident("r-1")])
    with pytest.raises(StoreConflict):
        store.add_residents(batch)
    assert store.list_residents() == [resident("r-1")]
    assert store.get_resident("r-new") is None and store.find_resident_by_rrn_index(hashed("rrn r-new")) is None
    assert store.find_resident_by_rrn_index(hashed("x")) is None
    store.add_residents([resident("r-new"), resident("r-2")])  # the refused batch took neither id nor index
    assert [r.resident_id for r in store.list_residents()] == ["r-1", "r-2", "r-new"]


def test_concurrent_imports_of_one_resident_succeed_once(store: Store) -> None:
    results = race(lambda i: store.add_residents([resident(f"r-{i}", rrn_index=hashed("same rrn"))]))
    assert results.count(None) == 1
    assert sum(isinstance(r, StoreConflict) for r in results) == len(results) - 1
    assert len(store.list_residents()) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "deleted"},
        {"status": ""},
        {"created_at": NOW.replace(tzinfo=None)},
        {"sealed": "text"},
        {"sealed": bytearray(b"\x00")},
        {"resident_id": 7},
        {"rrn_index": None},
    ],
    ids=lambda bad: f"{next(iter(bad))}={next(iter(bad.values()))!r}",
)
def test_a_bad_resident_is_refused_and_nothing_is_written(store: Store, bad: dict) -> None:
    with pytest.raises(ValueError):
        store.add_residents([resident("r-good"), replace(resident("r-bad"), **bad)])
    assert store.list_residents() == [] and store.get_resident("r-good") is None


def test_residents_are_listed_oldest_first_a_page_at_a_time(store: Store) -> None:
    records = [
        resident("r-c", NOW),
        resident("r-a", NOW),  # same time: by resident_id
        resident("r-b", NOW - timedelta(days=1)),
        resident("r-e", NOW + US),
        resident("r-d", NOW + timedelta(days=1)),
    ]
    store.add_residents(records[:2])
    store.add_residents(records[2:])
    order = ["r-b", "r-a", "r-c", "r-e", "r-d"]
    assert [r.resident_id for r in store.list_residents()] == order
    assert store.list_residents()[0] == records[2]
    pages, after = [], None
    while True:
        page = store.list_residents(limit=2, after=after)
        if not page:
            break
        pages.append([r.resident_id for r in page])
        after = page[-1].resident_id
    assert pages == [["r-b", "r-a"], ["r-c", "r-e"], ["r-d"]]
    assert store.list_residents(limit=0) == [] and store.list_residents(limit=-1) == []
    assert store.list_residents(after="r-unknown") == []
    assert store.list_residents(after="r-d") == []
    assert [r.resident_id for r in store.list_residents(limit=10**30, after="r-a")] == ["r-c", "r-e", "r-d"]


def test_a_page_after_a_resident_skips_ones_added_earlier_meanwhile(store: Store) -> None:
    store.add_residents([resident("r-1", NOW), resident("r-2", NOW + US), resident("r-3", NOW + 2 * US)])
    first = store.list_residents(limit=2)
    store.add_residents([resident("r-0", NOW - timedelta(days=1))])  # before the cursor: not on a later page
    assert [r.resident_id for r in store.list_residents(limit=2, after=first[-1].resident_id)] == ["r-3"]


def test_set_resident_status(store: Store) -> None:
    store.add_residents([resident("r-1"), resident("r-2")])
    assert store.set_resident_status("r-1", "disabled", NOW) is True
    assert store.get_resident("r-1") == resident("r-1", status="disabled")
    assert store.set_resident_status("r-1", "disabled", NOW + US) is True  # already so: still found
    assert store.get_resident("r-2").status == "active"
    assert store.set_resident_status("r-1", "active", NOW.astimezone(KST)) is True
    assert store.get_resident("r-1") == resident("r-1")
    assert store.set_resident_status("r-unknown", "disabled", NOW) is False
    assert store.get_resident("r-unknown") is None
    with pytest.raises(ValueError):
        store.set_resident_status("r-1", "gone", NOW)
    with pytest.raises(ValueError):
        store.set_resident_status("r-1", "disabled", NOW.replace(tzinfo=None))
    assert store.get_resident("r-1").status == "active"


# --- enrollment codes ---------------------------------------------------------------------------------------


def test_a_code_is_consumed_once(store: Store) -> None:
    store.add_residents([resident("r-1")])
    store.add_enrollment_code(code("c-1"))
    assert store.consume_enrollment_code(hashed("c-1"), NOW) == "r-1"
    assert store.consume_enrollment_code(hashed("c-1"), NOW) is None
    assert store.consume_enrollment_code(hashed("c-1"), NOW + timedelta(seconds=1)) is None
    assert store.consume_enrollment_code(hashed("c-unknown"), NOW) is None


def test_a_resident_may_hold_several_codes(store: Store) -> None:
    store.add_residents([resident("r-1"), resident("r-2")])
    store.add_enrollment_code(code("c-old"))
    store.add_enrollment_code(code("c-new"))  # a re-issued letter does not revoke the old one
    store.add_enrollment_code(code("c-other", "r-2"))
    assert store.consume_enrollment_code(hashed("c-new"), NOW) == "r-1"
    assert store.consume_enrollment_code(hashed("c-old"), NOW) == "r-1"
    assert store.consume_enrollment_code(hashed("c-other"), NOW) == "r-2"


def test_a_duplicate_code_hash_conflicts_and_keeps_the_first(store: Store) -> None:
    store.add_residents([resident("r-1"), resident("r-2")])
    store.add_enrollment_code(code("c-1"))
    with pytest.raises(StoreConflict):
        store.add_enrollment_code(code("c-1", "r-2", expires_in=timedelta(days=99)))
    assert store.consume_enrollment_code(hashed("c-1"), NOW + timedelta(days=14)) is None  # the first's expiry
    assert store.consume_enrollment_code(hashed("c-1"), NOW) == "r-1"


def test_a_code_for_an_unknown_resident_conflicts_and_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreConflict):
        store.add_enrollment_code(code("c-1", "r-1"))
    store.add_residents([resident("r-1")])
    assert store.consume_enrollment_code(hashed("c-1"), NOW) is None
    store.add_enrollment_code(code("c-1", "r-1"))  # the hash was not taken by the refused write
    assert store.consume_enrollment_code(hashed("c-1"), NOW) == "r-1"


def test_a_code_expires_at_expires_at(store: Store) -> None:
    store.add_residents([resident("r-1")])
    record = code("c-1")
    store.add_enrollment_code(record)
    assert store.consume_enrollment_code(record.code_hash, record.expires_at) is None
    assert store.consume_enrollment_code(record.code_hash, record.expires_at.astimezone(KST)) is None
    assert store.consume_enrollment_code(record.code_hash, record.expires_at + timedelta(days=1)) is None
    # The refused attempts wrote nothing: just before expiry it still works, once.
    assert store.consume_enrollment_code(record.code_hash, (record.expires_at - US).astimezone(KST)) == "r-1"
    assert store.consume_enrollment_code(record.code_hash, record.expires_at - US) is None


def test_a_disabled_residents_code_is_not_consumed(store: Store) -> None:
    store.add_residents([resident("r-1")])
    store.add_enrollment_code(code("c-1"))
    store.set_resident_status("r-1", "disabled", NOW)
    assert store.consume_enrollment_code(hashed("c-1"), NOW) is None
    store.set_resident_status("r-1", "active", NOW)
    assert store.consume_enrollment_code(hashed("c-1"), NOW) == "r-1"  # nothing was spent while disabled


def test_a_code_added_as_used_is_never_consumed(store: Store) -> None:
    store.add_residents([resident("r-1")])
    store.add_enrollment_code(code("c-1", used_at=NOW - timedelta(hours=1)))
    assert store.consume_enrollment_code(hashed("c-1"), NOW) is None


@pytest.mark.parametrize(
    "bad",
    [{"created_at": NOW.replace(tzinfo=None)}, {"expires_at": NOW.replace(tzinfo=None)},
     {"used_at": NOW.replace(tzinfo=None)}, {"code_hash": b"bytes"}, {"resident_id": None}],
    ids=lambda bad: next(iter(bad)),
)
def test_a_bad_code_is_refused_and_nothing_is_written(store: Store, bad: dict) -> None:
    store.add_residents([resident("r-1")])
    with pytest.raises(ValueError):
        store.add_enrollment_code(replace(code("c-1"), **bad))
    assert store.consume_enrollment_code(hashed("c-1"), NOW) is None
    with pytest.raises(ValueError):
        store.consume_enrollment_code(hashed("c-1"), NOW.replace(tzinfo=None))


def test_of_concurrent_consumers_exactly_one_wins(store: Store) -> None:
    store.add_residents([resident("r-1")])
    store.add_enrollment_code(code("c-1"))
    results = race(lambda i: store.consume_enrollment_code(hashed("c-1"), NOW), count=12)
    assert results.count("r-1") == 1 and results.count(None) == 11


def _consume_in_process(url: str, code_hash: str, threads: int, barrier, queue) -> None:
    store = open_store(url)
    try:
        store.ping()
        barrier.wait(timeout=60)
        results = race(lambda i: store.consume_enrollment_code(code_hash, NOW), count=threads)
        queue.put([f"{os.getpid()}:{r}" for r in results if r is not None])
    finally:
        store.close()


def test_of_concurrent_consumers_across_processes_exactly_one_wins(store: Store, store_url: str) -> None:
    store.add_residents([resident("r-1")])  # also creates the SQLite schema before the children start
    store.add_enrollment_code(code("c-1"))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = 4
    barrier = context.Barrier(children)
    processes = [
        context.Process(target=_consume_in_process, args=(store_url, hashed("c-1"), 4, barrier, queue))
        for _ in range(children)
    ]
    for process in processes:
        process.start()
    won = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [w for per_process in won for w in per_process]
    assert len(winners) == 1 and winners[0].endswith(":r-1")
    assert store.consume_enrollment_code(hashed("c-1"), NOW) is None


# --- accounts -----------------------------------------------------------------------------------------------


def test_accounts_round_trip(store: Store) -> None:
    plain, operator = account(), account("operator:op-1", totp_sealed=SEALED, created_at=NOW.astimezone(KST))
    store.add_account(plain)
    store.add_account(operator)
    assert store.get_account("resident:r-1") == plain
    got = store.get_account("operator:op-1")
    assert got == operator and got.totp_sealed == SEALED and got.created_at.utcoffset() == timedelta(0)
    assert got.disabled_at is None
    assert store.get_account("resident:unknown") is None
    disabled = account("operator:op-2", disabled_at=NOW + US)
    store.add_account(disabled)
    assert store.get_account("operator:op-2") == disabled


def test_a_duplicate_account_conflicts_and_keeps_the_first(store: Store) -> None:
    store.add_account(account())
    with pytest.raises(StoreConflict):
        store.add_account(account(password_hash="other", totp_sealed=b"\x01"))
    assert store.get_account("resident:r-1") == account()


def test_concurrent_enrollments_into_one_account_succeed_once(store: Store) -> None:
    results = race(lambda i: store.add_account(account(password_hash=f"hash {i}")))
    assert results.count(None) == 1
    assert sum(isinstance(r, StoreConflict) for r in results) == len(results) - 1


@pytest.mark.parametrize(
    "bad",
    [{"created_at": NOW.replace(tzinfo=None)}, {"disabled_at": NOW.replace(tzinfo=None)}, {"totp_sealed": "x"},
     {"password_hash": b"hash"}, {"subject": None}],
    ids=lambda bad: next(iter(bad)),
)
def test_a_bad_account_is_refused_and_nothing_is_written(store: Store, bad: dict) -> None:
    with pytest.raises(ValueError):
        store.add_account(replace(account(), **bad))
    assert store.get_account("resident:r-1") is None


def test_set_password(store: Store) -> None:
    store.add_account(account())
    store.add_account(account("resident:r-2"))
    store.add_session(session("s-1"))
    assert store.set_password("resident:r-1", "$argon2id$new") is True
    assert store.get_account("resident:r-1") == account(password_hash="$argon2id$new")
    assert store.get_account("resident:r-2") == account("resident:r-2")
    assert store.get_session(hashed("s-1"), NOW) is not None  # the service decides which sessions end
    assert store.set_password("resident:unknown", "$argon2id$new") is False
    assert store.get_account("resident:unknown") is None


def test_disabling_an_account_ends_its_sessions_only(store: Store) -> None:
    store.add_account(account("resident:r-1"))
    store.add_account(account("resident:r-2"))
    for label in ("a", "b", "c"):
        store.add_session(session(label, "resident:r-1"))
    store.add_session(session("other", "resident:r-2"))
    assert store.disable_account("resident:r-1", NOW) is True
    assert store.get_account("resident:r-1").disabled_at == NOW
    assert all(store.get_session(hashed(label), NOW) is None for label in ("a", "b", "c"))
    assert store.get_session(hashed("other"), NOW) == session("other", "resident:r-2")
    assert store.get_account("resident:r-2").disabled_at is None
    assert store.delete_sessions_of("resident:r-1") == 0
    assert store.disable_account("resident:r-1", NOW + timedelta(days=1)) is True
    assert store.get_account("resident:r-1").disabled_at == NOW  # the first time is kept


def test_disabling_an_unknown_account_writes_nothing(store: Store) -> None:
    store.add_session(session("s-1", "operator:no-account"))
    assert store.disable_account("operator:no-account", NOW) is False
    assert store.get_account("operator:no-account") is None
    assert store.get_session(hashed("s-1"), NOW) is not None
    with pytest.raises(ValueError):
        store.disable_account("operator:no-account", NOW.replace(tzinfo=None))


def test_a_disabled_account_gets_no_new_session(store: Store) -> None:
    store.add_account(account())
    store.disable_account("resident:r-1", NOW)
    with pytest.raises(StoreConflict):
        store.add_session(session("s-1"))
    assert store.get_session(hashed("s-1"), NOW) is None
    store.add_session(session("s-1", "resident:r-2"))  # the hash was not taken by the refused write


def test_no_session_outlives_a_concurrent_disable(store: Store) -> None:
    store.add_account(account())

    def attempt(i: int):
        if i == 0:
            return store.disable_account("resident:r-1", NOW)
        return store.add_session(session(f"s-{i}"))

    results = race(attempt, count=12)
    assert results[0] is True
    assert all(r is None or isinstance(r, StoreConflict) for r in results[1:])
    assert all(store.get_session(hashed(f"s-{i}"), NOW) is None for i in range(1, 12))


# --- sessions -----------------------------------------------------------------------------------------------


def test_sessions_round_trip(store: Store) -> None:
    record = replace(session(), created_at=NOW.astimezone(KST), last_seen_at=NOW.astimezone(KST) + US)
    store.add_session(record)
    got = store.get_session(record.session_hash, NOW)
    assert got == record and got.last_seen_at.utcoffset() == timedelta(0) and got.last_seen_at.microsecond == 123457
    assert store.get_session(hashed("unknown"), NOW) is None


def test_a_duplicate_session_hash_conflicts_and_keeps_the_first(store: Store) -> None:
    store.add_session(session("s-1"))
    with pytest.raises(StoreConflict):
        store.add_session(session("s-1", "resident:r-2", idle=5))
    assert store.get_session(hashed("s-1"), NOW) == session("s-1")
    assert store.delete_sessions_of("resident:r-2") == 0


def test_a_session_ends_after_idle_seconds_without_use(store: Store) -> None:
    record = session(idle=900)
    store.add_session(record)
    idle_end = NOW + timedelta(seconds=900)
    assert store.get_session(record.session_hash, idle_end - US) == record
    assert store.get_session(record.session_hash, idle_end) is None
    assert store.get_session(record.session_hash, idle_end.astimezone(KST)) is None


def test_a_session_ends_at_its_absolute_expiry(store: Store) -> None:
    record = session(idle=10**6, absolute_in=timedelta(hours=1))
    store.add_session(record)
    assert store.get_session(record.session_hash, record.absolute_expires_at - US) == record
    assert store.get_session(record.session_hash, record.absolute_expires_at) is None


def test_touching_pushes_the_idle_timeout_but_not_the_absolute_one(store: Store) -> None:
    record = session(idle=600, absolute_in=timedelta(minutes=25))
    store.add_session(record)
    h = record.session_hash
    later = NOW + timedelta(minutes=9)
    assert store.touch_session(h, later.astimezone(KST)) is True
    assert store.get_session(h, later) == replace(record, last_seen_at=later)
    assert store.get_session(h, NOW + timedelta(minutes=18, seconds=59)) is not None  # idle end moved
    assert store.get_session(h, later + timedelta(minutes=10)) is None
    assert store.touch_session(h, NOW + timedelta(minutes=18)) is True
    assert store.touch_session(h, NOW + timedelta(minutes=24)) is True
    assert store.get_session(h, record.absolute_expires_at - US) is not None
    assert store.get_session(h, record.absolute_expires_at) is None  # never past the absolute expiry
    assert store.touch_session(h, record.absolute_expires_at) is False


def test_touching_never_moves_last_seen_back(store: Store) -> None:
    record = session(idle=600, last_seen_at=NOW + timedelta(minutes=5))
    store.add_session(record)
    assert store.touch_session(record.session_hash, NOW) is True
    assert store.get_session(record.session_hash, NOW) == record


def test_an_ended_session_cannot_be_touched_back_to_life(store: Store) -> None:
    record = session(idle=600)
    store.add_session(record)
    idle_end = NOW + timedelta(seconds=600)
    assert store.touch_session(record.session_hash, idle_end) is False
    assert store.touch_session(record.session_hash, idle_end + timedelta(hours=1)) is False
    assert store.get_session(record.session_hash, idle_end) is None
    assert store.get_session(record.session_hash, idle_end - US) == record  # nothing was written
    assert store.touch_session(hashed("unknown"), NOW) is False


def test_delete_session(store: Store) -> None:
    store.add_session(session("s-1"))
    store.add_session(session("s-2"))
    assert store.delete_session(hashed("s-1")) is True
    assert store.delete_session(hashed("s-1")) is False
    assert store.delete_session(hashed("unknown")) is False
    assert store.get_session(hashed("s-1"), NOW) is None
    assert store.get_session(hashed("s-2"), NOW) is not None
    assert store.delete_sessions_of("resident:r-1") == 1
    store.add_session(session("s-1"))  # the hash is free again


def test_delete_sessions_of_a_subject(store: Store) -> None:
    for label in ("a", "b"):
        store.add_session(session(label, "resident:r-1"))
    store.add_session(session("ended", "resident:r-1", idle=1))  # ended at NOW + 1 s, not purged yet
    store.add_session(session("c", "resident:r-2"))
    assert store.delete_sessions_of("resident:r-1") == 3
    assert store.delete_sessions_of("resident:r-1") == 0
    assert store.delete_sessions_of("resident:unknown") == 0
    assert all(store.get_session(hashed(label), NOW) is None for label in ("a", "b", "ended"))
    assert store.get_session(hashed("c"), NOW) == session("c", "resident:r-2")
    assert store.purge_sessions(NOW + timedelta(days=2)) == 1  # only r-2's session was left


def test_purge_deletes_only_ended_sessions(store: Store) -> None:
    idle_ended = session("idle", idle=60)  # ends at NOW + 60 s
    absolute_ended = session("absolute", idle=10**6, absolute_in=timedelta(seconds=30))
    touched = session("touched", idle=60)
    live = session("live", idle=61)
    for record in (idle_ended, absolute_ended, touched, live):
        store.add_session(record)
    assert store.touch_session(touched.session_hash, NOW + timedelta(seconds=59)) is True
    cut = NOW + timedelta(seconds=60)  # idle's end: ending at now is ended
    assert store.purge_sessions(cut - US) == 1  # absolute
    assert store.purge_sessions(cut) == 1  # idle
    assert store.purge_sessions(cut) == 0
    assert store.get_session(touched.session_hash, cut) is not None
    assert store.get_session(live.session_hash, cut) is not None
    assert store.get_session(idle_ended.session_hash, NOW) is None  # gone for good, for any now
    store.add_session(idle_ended)  # and the hash is free
    assert store.delete_sessions_of("resident:r-1") == 3


def test_purge_respects_the_limit_earliest_end_first(store: Store) -> None:
    for i in range(5):
        store.add_session(session(f"s-{i}", idle=10 + i))
    later = NOW + timedelta(days=1)
    assert store.purge_sessions(later, limit=0) == 0
    assert store.purge_sessions(later, limit=-1) == 0
    assert store.purge_sessions(later, limit=2) == 2
    assert [store.get_session(hashed(f"s-{i}"), NOW) is None for i in range(5)] == [True, True, False, False, False]
    assert store.purge_sessions(later, limit=10) == 3
    assert store.purge_sessions(later) == 0


def test_concurrent_purges_delete_each_session_once(store: Store) -> None:
    for i in range(30):
        store.add_session(session(f"s-{i}", subject=f"resident:r-{i % 3}", idle=1 + i))
    later = NOW + timedelta(days=1)
    counts = race(lambda i: store.purge_sessions(later, limit=7))
    rest = 0
    while count := store.purge_sessions(later, limit=7):
        rest += count
    assert sum(counts) + rest == 30  # no session counted twice
    assert all(store.delete_sessions_of(f"resident:r-{i}") == 0 for i in range(3))


@pytest.mark.parametrize(
    "bad",
    [{"idle_seconds": 0}, {"idle_seconds": -1}, {"idle_seconds": True}, {"idle_seconds": 1.5},
     {"idle_seconds": "900"}, {"created_at": NOW.replace(tzinfo=None)}, {"last_seen_at": NOW.replace(tzinfo=None)},
     {"absolute_expires_at": NOW.replace(tzinfo=None)}, {"session_hash": None}, {"subject": b"resident:r-1"}],
    ids=lambda bad: f"{next(iter(bad))}={next(iter(bad.values()))!r}",
)
def test_a_bad_session_is_refused_and_nothing_is_written(store: Store, bad: dict) -> None:
    with pytest.raises(ValueError):
        store.add_session(replace(session(), **bad))
    assert store.get_session(hashed("s-1"), NOW) is None
    assert store.delete_sessions_of("resident:r-1") == 0


def test_naive_times_of_now_are_refused(store: Store) -> None:
    store.add_session(session())
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(ValueError):
        store.get_session(hashed("s-1"), naive)
    with pytest.raises(ValueError):
        store.touch_session(hashed("s-1"), naive + timedelta(minutes=1))
    with pytest.raises(ValueError):
        store.purge_sessions(naive + timedelta(days=1))
    assert store.get_session(hashed("s-1"), NOW) == session()


# --- backend specifics --------------------------------------------------------------------------------------


def test_sqlite_purges_sessions_through_an_index_on_their_end(sqlite_store: SqliteStore) -> None:
    sqlite_store.ping()
    conn = sqlite_store._conn()
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT session_hash FROM sessions WHERE ends_at <= ? ORDER BY ends_at LIMIT 10", ("2100",)
    ).fetchall()
    assert any("sessions_by_ends_at" in row[-1] for row in plan)
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT resident_id FROM residents ORDER BY created_at, resident_id LIMIT 10"
    ).fetchall()
    assert any("residents_by_created_at" in row[-1] for row in plan)


def test_sqlite_creates_the_resident_tables_in_a_database_made_before_them(tmp_path) -> None:
    path = tmp_path / "old.db"
    made = SqliteStore(path)
    made.add_residents([resident("r-old")])
    made.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for table in ("sessions", "accounts", "enrollment_codes", "residents"):
            conn.execute(f"DROP TABLE {table}")
    finally:
        conn.close()
    for attempt in range(2):  # the second open finds them there
        store = SqliteStore(path)
        try:
            assert store.get_resident("r-old") is None
            if attempt == 0:
                store.add_residents([resident("r-1")])
            assert store.get_resident("r-1") == resident("r-1")
        finally:
            store.close()


def test_redis_expires_codes_and_sessions_by_themselves(
    redis_store: RedisStore, redis_url: str, redis_namespace: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = "{" + redis_namespace + "}:"

    def ms(at: datetime) -> int:
        return -(-(at - EPOCH) // timedelta(milliseconds=1))  # rounded up: the key never goes early

    try:
        redis_store.add_residents([resident("r-1")])
        record = code("c-1")
        redis_store.add_enrollment_code(record)
        assert client.pexpiretime(prefix + "enroll:" + record.code_hash) == ms(record.expires_at)
        kept = session("s-1", idle=600, absolute_in=timedelta(minutes=25))
        redis_store.add_session(kept)
        key = prefix + "session:" + kept.session_hash
        assert client.pexpiretime(key) == ms(NOW + timedelta(seconds=600))
        assert redis_store.touch_session(kept.session_hash, NOW + timedelta(minutes=9)) is True
        assert client.pexpiretime(key) == ms(NOW + timedelta(minutes=19))
        assert redis_store.touch_session(kept.session_hash, NOW + timedelta(minutes=18)) is True
        assert client.pexpiretime(key) == ms(kept.absolute_expires_at)
        # A session whose end passes by Redis's own clock is deleted by Redis; purge removes what it leaves.
        start = datetime.now(timezone.utc)
        short = SessionRecord(hashed("short"), "resident:r-1", start, start, 1, start + timedelta(hours=1))
        redis_store.add_session(short)
        deadline = time.monotonic() + 10
        while client.exists(prefix + "session:" + short.session_hash):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.sismember(prefix + "sessions-of:resident:r-1", short.session_hash)
        assert redis_store.get_session(short.session_hash, start) is None
        assert redis_store.purge_sessions(datetime.now(timezone.utc)) == 1
        assert not client.sismember(prefix + "sessions-of:resident:r-1", short.session_hash)
        assert client.zcard(prefix + "sessions-end") == 1
        assert redis_store.delete_sessions_of("resident:r-1") == 1
        assert client.zcard(prefix + "sessions-end") == 0
        assert not client.exists(prefix + "sessions-of:resident:r-1")
        assert all(key.startswith(prefix.encode()) for key in client.scan_iter(match="*" + redis_namespace + "*"))
    finally:
        client.close()


def test_redis_a_session_hash_reused_by_another_subject_survives_the_old_entries(
    redis_store: RedisStore, redis_url: str, redis_namespace: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = "{" + redis_namespace + "}:"
    try:
        old = session("s-1", "resident:r-1")
        redis_store.add_session(old)
        client.delete(prefix + "session:" + old.session_hash)  # as if Redis had expired it
        again = session("s-1", "resident:r-2", idle=10**6, absolute_in=timedelta(days=30))
        redis_store.add_session(again)
        assert redis_store.purge_sessions(NOW + timedelta(days=1)) == 1  # the old entry only
        assert redis_store.get_session(again.session_hash, NOW + timedelta(days=1)) == again
        assert redis_store.delete_sessions_of("resident:r-1") == 0
        assert redis_store.get_session(again.session_hash, NOW) == again
        assert redis_store.delete_sessions_of("resident:r-2") == 1
    finally:
        client.close()
