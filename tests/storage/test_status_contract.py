"""The status list part of the Store contract (W3C Bitstring Status List), on every backend via ``store``."""

from __future__ import annotations

import json
import multiprocessing
import random
from collections import Counter
from pathlib import Path

import pytest

from did_service.errors import LogHalted, StoreConflict
from did_service.storage import LogAppend, Store
from did_service.storage.base import StatusAllocation, StatusChange, StatusListRecord
from tests.storage.records import T0, allocate_in_process, label_of, log_append, make_credential, race

SMALL = 16  # list size for the tests (production uses 131072)


def status_entry(label: str) -> LogAppend:
    return log_append(f"status {label}")


def one(store: Store, purpose: str = "revocation", size: int = SMALL, candidates: list[int] | None = None) -> StatusAllocation:
    (allocation,) = store.allocate_status([purpose], size, candidates or [0])
    return allocation


def set_bits(record: StatusListRecord) -> list[int]:
    return [i for i in range(record.size) if record.bits[i // 8] & (0x80 >> (i % 8))]


# --- allocation ---------------------------------------------------------------------------------------------


def test_a_new_list_is_empty_and_unpublished(store: Store) -> None:
    allocation = one(store, candidates=[5])
    assert allocation.purpose == "revocation" and allocation.index == 5
    assert len(allocation.list_id) >= 16
    assert store.get_status_list(allocation.list_id) == StatusListRecord(
        allocation.list_id, "revocation", SMALL, bytes(SMALL // 8), 0, None, -1
    )
    assert store.get_status_list("no-such-list") is None
    assert store.status_history(allocation.list_id, 5) == []
    assert store.status_history("no-such-list", 5) == []
    assert store.log_size() == 0  # allocation is not a log event


def test_allocation_returns_distinct_indexes(store: Store) -> None:
    rng = random.Random(1)
    got = [one(store, size=64, candidates=[rng.randrange(64)]) for _ in range(64)]
    assert len({a.list_id for a in got}) == 1
    assert sorted(a.index for a in got) == list(range(64))


def test_candidates_are_honoured_in_order(store: Store) -> None:
    first = one(store, candidates=[5, 3])
    second = one(store, candidates=[5, 3])
    third = one(store, candidates=[5, 3, 11])
    assert [first.index, second.index, third.index] == [5, 3, 11]
    assert first.list_id == second.list_id == third.list_id
    # Every candidate taken: any free index (the lowest).
    assert one(store, candidates=[5, 3, 11]).index == 0
    assert one(store, candidates=[3]).index == 1


def test_a_full_list_rolls_over(store: Store) -> None:
    got = [one(store, candidates=[7]) for _ in range(SMALL + 1)]
    lists = Counter(a.list_id for a in got)
    assert len(lists) == 2
    first, second = got[0].list_id, got[-1].list_id
    assert lists[first] == SMALL and lists[second] == 1
    assert len({(a.list_id, a.index) for a in got}) == SMALL + 1
    assert sorted(a.index for a in got if a.list_id == first) == list(range(SMALL))
    assert got[-1].index == 7  # the candidate is honoured in the new list
    new = store.get_status_list(second)
    assert (new.size, new.version, new.bits, new.purpose) == (SMALL, 0, bytes(SMALL // 8), "revocation")


def test_purposes_get_separate_lists(store: Store) -> None:
    revocation, suspension = store.allocate_status(["revocation", "suspension"], SMALL, [4])
    assert (revocation.purpose, suspension.purpose) == ("revocation", "suspension")
    assert revocation.list_id != suspension.list_id
    assert revocation.index == suspension.index == 4
    assert store.get_status_list(suspension.list_id).purpose == "suspension"
    (again,) = store.allocate_status(["suspension"], SMALL, [4])
    assert again.list_id == suspension.list_id and again.index != 4
    # Order follows the request.
    got = store.allocate_status(["suspension", "revocation"], SMALL, [9])
    assert [a.purpose for a in got] == ["suspension", "revocation"]
    assert [a.list_id for a in got] == [suspension.list_id, revocation.list_id]


@pytest.mark.parametrize(
    ("purposes", "size", "candidates"),
    [
        ([], SMALL, [0]),
        (["expiry"], SMALL, [0]),
        (["revocation"], 0, [0]),
        (["revocation"], 12, [0]),
        (["revocation"], -8, [0]),
        (["revocation"], True, [0]),
        (["revocation"], SMALL, []),
        (["revocation"], SMALL, [SMALL]),
        (["revocation"], SMALL, [-1]),
        (["revocation"], SMALL, ["1"]),
    ],
)
def test_allocation_refuses_bad_arguments(store: Store, purposes, size, candidates) -> None:
    with pytest.raises(ValueError):
        store.allocate_status(purposes, size, candidates)
    assert store.allocate_status(["revocation"], SMALL, [0])[0].index == 0  # nothing was allocated


def test_concurrent_allocations_are_distinct(store: Store) -> None:
    per_thread, size = 20, 64

    def allocate(i: int) -> list[tuple[str, str, int]]:
        rng = random.Random(i)
        out = []
        for _ in range(per_thread):
            for a in store.allocate_status(["revocation", "suspension"], size, [rng.randrange(size)]):
                out.append((a.list_id, a.purpose, a.index))
        return out

    got = [item for result in race(allocate) for item in result]
    assert len(got) == 8 * per_thread * 2
    assert len(set((list_id, index) for list_id, _, index in got)) == len(got)
    for purpose in ("revocation", "suspension"):
        lists = Counter(list_id for list_id, p, _ in got if p == purpose)
        assert sorted(lists.values()) == [32, 64, 64]  # 160 allocations: two full lists and one open


def test_allocations_from_two_processes_are_distinct(store: Store, store_url: str, tmp_path: Path) -> None:
    # The store is untouched so far: the processes also race to create the SQLite schema and the first lists.
    processes, count, size = 2, 60, 32
    ctx = multiprocessing.get_context("spawn")
    outputs = [tmp_path / f"p{n}.json" for n in range(processes)]
    workers = [
        ctx.Process(target=allocate_in_process, args=(store_url, count, size, n, str(outputs[n])))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [w.exitcode for w in workers] == [0] * processes
    got = [tuple(item) for path in outputs for item in json.loads(path.read_text())]
    assert len(got) == processes * count * 2
    assert len({(list_id, index) for list_id, _, index in got}) == len(got)
    for purpose in ("revocation", "suspension"):
        lists = Counter(list_id for list_id, p, _ in got if p == purpose)
        assert sorted(lists.values()) == sorted([size] * (processes * count // size) + [processes * count % size])
        assert all(store.get_status_list(list_id).purpose == purpose for list_id in lists)


# --- changes ------------------------------------------------------------------------------------------------


def test_bits_are_most_significant_first(store: Store) -> None:
    list_id = one(store).list_id
    store.change_status(list_id, 0, 1, status_entry("0"))
    assert store.get_status_list(list_id).bits == b"\x80\x00"
    store.change_status(list_id, 9, 1, status_entry("9"))
    store.change_status(list_id, 15, 1, status_entry("15"))
    record = store.get_status_list(list_id)
    assert record.bits == b"\x80\x41"
    assert len(record.bits) == SMALL // 8
    assert set_bits(record) == [0, 9, 15]


def test_revocation_is_set_once_and_permanent(store: Store) -> None:
    list_id = one(store, candidates=[3]).list_id
    first = store.change_status(list_id, 3, 1, status_entry("revoke 3"))
    assert first == StatusChange(True, 0)
    assert store.log_size() == 1
    assert label_of(store.read_leaves(0, 1)[0].entry) == "status revoke 3"

    # Revoking twice is idempotent: nothing is written, not even the log entry.
    assert store.change_status(list_id, 3, 1, status_entry("revoke 3 again")) == StatusChange(False, None)
    assert store.log_size() == 1
    with pytest.raises(StoreConflict):
        store.change_status(list_id, 3, 0, status_entry("un-revoke 3"))
    record = store.get_status_list(list_id)
    assert (record.version, set_bits(record), store.log_size()) == (1, [3], 1)
    # Clearing a bit that is not set is no change either.
    assert store.change_status(list_id, 4, 0, status_entry("clear 4")) == StatusChange(False, None)
    assert store.status_history(list_id, 3) == [0]
    assert store.status_history(list_id, 4) == []


def test_suspension_toggles(store: Store) -> None:
    list_id = one(store, purpose="suspension", candidates=[6]).list_id
    store.append_log([log_append("unrelated")])  # status entries take the next leaf like any other
    changes = [
        store.change_status(list_id, 6, 1, status_entry("suspend")),
        store.change_status(list_id, 6, 1, status_entry("suspend again")),
        store.change_status(list_id, 6, 0, status_entry("unsuspend")),
        store.change_status(list_id, 6, 0, status_entry("unsuspend again")),
        store.change_status(list_id, 6, 1, status_entry("suspend once more")),
    ]
    assert changes == [
        StatusChange(True, 1), StatusChange(False, None), StatusChange(True, 2), StatusChange(False, None),
        StatusChange(True, 3),
    ]
    record = store.get_status_list(list_id)
    assert (record.version, set_bits(record)) == (3, [6])
    assert store.log_size() == 4
    assert [label_of(leaf.entry) for leaf in store.read_leaves(0, 4)] == [
        "unrelated", "status suspend", "status unsuspend", "status suspend once more",
    ]
    assert store.status_history(list_id, 6) == [1, 2, 3]
    entry = status_entry("unsuspend")
    assert store.find_leaf_index(entry.leaf_hash) == 2


def test_change_refuses_bad_arguments(store: Store) -> None:
    list_id = one(store).list_id
    for bad_list, index, value in [
        ("no-such-list", 0, 1), (list_id, SMALL, 1), (list_id, -1, 1), (list_id, 10**30, 1), (list_id, 0, 2),
        (list_id, 0, -1), ("", 0, 1),
    ]:
        with pytest.raises(ValueError):
            store.change_status(bad_list, index, value, status_entry("bad"))
    with pytest.raises(ValueError):
        store.change_status(list_id, 0, 1, LogAppend(b"entry", b"short"))
    with pytest.raises(ValueError):
        store.change_status(list_id, 0, 1, log_append("with a credential", make_credential("urn:uuid:s")))
    record = store.get_status_list(list_id)
    assert (record.version, set_bits(record), store.log_size()) == (0, [], 0)


def test_a_halted_log_takes_no_status_change(store: Store) -> None:
    list_id = one(store, candidates=[2]).list_id
    store.halt_log("scrub failed", T0)
    with pytest.raises(LogHalted):
        store.change_status(list_id, 2, 1, status_entry("revoke 2"))
    record = store.get_status_list(list_id)
    assert (record.version, set_bits(record), store.log_size()) == (0, [], 0)
    assert store.status_history(list_id, 2) == []

    store.resume_log()
    assert store.change_status(list_id, 2, 1, status_entry("revoke 2")) == StatusChange(True, 0)


def test_a_hundred_concurrent_revocations_on_one_list(store: Store) -> None:
    # The "done when": no lost update when a hundred revocations hit one list at once.
    count, size = 100, 128
    allocations = [one(store, size=size, candidates=[i]) for i in range(count)]
    list_id = allocations[0].list_id
    assert {a.list_id for a in allocations} == {list_id}
    store.append_log([log_append("before")])

    results = race(lambda i: store.change_status(list_id, allocations[i].index, 1, status_entry(f"revoke {i}")), count)

    assert all(isinstance(r, StatusChange) and r.changed for r in results), results
    record = store.get_status_list(list_id)
    assert set_bits(record) == sorted(a.index for a in allocations)
    assert record.version == count
    assert store.log_size() == count + 1
    assert sorted(r.leaf_index for r in results) == list(range(1, count + 1))
    leaves = store.read_leaves(1, count + 1)
    for i, r in enumerate(results):
        assert label_of(leaves[r.leaf_index - 1].entry) == f"status revoke {i}"
        assert store.status_history(list_id, allocations[i].index) == [r.leaf_index]


def test_concurrent_changes_of_one_bit_change_it_once(store: Store) -> None:
    list_id = one(store, candidates=[1]).list_id
    results = race(lambda i: store.change_status(list_id, 1, 1, status_entry(f"revoke {i}")))
    assert sum(r.changed for r in results) == 1
    assert store.get_status_list(list_id).version == 1
    assert store.log_size() == 1


# --- publishing ---------------------------------------------------------------------------------------------


def test_publish_is_compare_and_set(store: Store) -> None:
    list_id = one(store).list_id
    assert store.publish_status_list(list_id, 0, "list v0")
    assert store.get_status_list(list_id).published == "list v0"
    assert store.get_status_list(list_id).published_version == 0
    assert not store.publish_status_list(list_id, 1, "list v1 (no such version yet)")
    assert not store.publish_status_list(list_id, 0, "list v0 again")

    store.change_status(list_id, 0, 1, status_entry("a"))
    store.change_status(list_id, 1, 1, status_entry("b"))
    assert store.publish_status_list(list_id, 2, "list v2")
    assert not store.publish_status_list(list_id, 1, "list v1 (older than published)")
    assert not store.publish_status_list(list_id, 3, "list v3 (newer than current)")
    record = store.get_status_list(list_id)
    assert (record.version, record.published_version, record.published) == (2, 2, "list v2")
    assert not store.publish_status_list("no-such-list", 1, "x")
    assert store.log_size() == 2  # publishing is not a log event


def test_a_batch_may_repeat_purposes_across_a_rollover(store: Store) -> None:
    """A batch of credentials reserves a (revocation, suspension) pair each; lists roll over mid-batch."""
    allocations = store.allocate_status(["revocation", "suspension"] * 12, 16, list(range(16)))
    assert [a.purpose for a in allocations] == ["revocation", "suspension"] * 12
    for purpose in ("revocation", "suspension"):
        positions = [(a.list_id, a.index) for a in allocations if a.purpose == purpose]
        assert len(set(positions)) == 12
        assert len({list_id for list_id, _ in positions}) == 1
    more = store.allocate_status(["revocation"] * 10, 16, [3])
    assert len({(a.list_id, a.index) for a in allocations + more if a.purpose == "revocation"}) == 22
    assert len({a.list_id for a in more}) == 2  # the first list filled up at 16
