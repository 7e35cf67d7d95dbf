"""Group commit, staged exactly: the backend is held while a leader commits, so the calls arriving meanwhile
queue up and must all go out in the next group. SQLite is held by another connection's write lock, Redis by
SIGSTOP of a redis-server of the test's own (never the shared one)."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

import did_service.storage.sqlite as sqlite_module
from did_service.errors import StoreConflict, StoreUnavailable
from did_service.storage import RedisStore, SqliteStore, Store
from tests.storage.records import issued, label_of, log_append, make_credential

FOLLOWERS = 7


@pytest.fixture(params=["sqlite", "redis"])
def held_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Callable]]:
    """A store and a context manager that holds its backend (nobody can commit) while inside it."""
    if request.param == "sqlite":
        path = tmp_path / "held.db"
        store: Store = SqliteStore(path)

        @contextmanager
        def hold() -> Iterator[None]:
            blocker = sqlite3.connect(path, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
    else:
        server = request.getfixturevalue("durable_redis")
        store = RedisStore(server.url)

        @contextmanager
        def hold() -> Iterator[None]:
            # Released well inside the client's 2 s socket timeout.
            server.process.send_signal(signal.SIGSTOP)
            try:
                yield
            finally:
                server.process.send_signal(signal.SIGCONT)

    store.append_log([log_append("warm-up")])  # schema created, script loaded: the staged calls do only appends
    yield store, hold
    store.close()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 1.5
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.001)


def staged_group(store: Store, hold: Callable, leader_call: Callable, follower_calls: list[Callable]) -> list[Future]:
    """Run leader_call while the backend is held, then follower_calls while the leader waits on the backend:
    they queue, and the backend is released once all are queued. Returns the futures, leader first."""
    group = store._group()
    with ThreadPoolExecutor(1 + len(follower_calls)) as pool:
        with hold():
            futures = [pool.submit(leader_call)]
            wait_until(lambda: group._leading and group.queued() == 0, "the leader is committing")
            futures += [pool.submit(call) for call in follower_calls]
            wait_until(lambda: group.queued() == len(follower_calls), "every follower is queued")
    return futures


def test_calls_arriving_during_a_commit_share_the_next_one(held_store) -> None:
    store, hold = held_store
    before = store.commits

    futures = staged_group(
        store, hold,
        lambda: store.append_log([log_append("leader")]),
        [lambda n=n: store.append_log([log_append(f"f{n}-a"), log_append(f"f{n}-b")]) for n in range(FOLLOWERS)],
    )

    assert store.commits - before == 2  # the leader's own commit, then one for all seven followers
    assert futures[0].result() == [1]
    follower_indexes = [f.result() for f in futures[1:]]
    assert sorted(i for pair in follower_indexes for i in pair) == list(range(2, 2 + 2 * FOLLOWERS))
    leaves = store.read_leaves(0, 100)
    for n, (a, b) in enumerate(follower_indexes):
        assert b == a + 1
        assert [label_of(leaves[a].entry), label_of(leaves[b].entry)] == [f"f{n}-a", f"f{n}-b"]


def test_a_failing_call_in_a_group_fails_alone(held_store) -> None:
    store, hold = held_store
    store.append_log([issued(make_credential("urn:uuid:taken"))])
    before = store.commits
    clash = make_credential("urn:uuid:taken", "00" * 32)

    def follower(n: int) -> Callable:
        if n == 3:
            return lambda: store.append_log([log_append("clash-a"), issued(clash)])
        return lambda: store.append_log([log_append(f"f{n}-a"), issued(make_credential(f"urn:uuid:f{n}"))])

    futures = staged_group(
        store, hold, lambda: store.append_log([log_append("leader")]), [follower(n) for n in range(FOLLOWERS)]
    )

    assert store.commits - before == 2
    with pytest.raises(StoreConflict):
        futures[4].result()
    # The others committed in the same transaction/pipeline, with no gap where the failed call was undone.
    assert store.log_size() == 3 + 2 * (FOLLOWERS - 1)
    for n in range(FOLLOWERS):
        if n != 3:
            a, b = futures[1 + n].result()
            assert store.get_credential(f"urn:uuid:f{n}") == replace(make_credential(f"urn:uuid:f{n}"), leaf_index=b)
    assert "clash-a" not in [label_of(leaf.entry) for leaf in store.read_leaves(0, 100)]
    assert store.get_credential("urn:uuid:taken").digest == make_credential("urn:uuid:taken").digest


def test_a_lone_caller_commits_at_once(held_store) -> None:
    store, _ = held_store
    before = store.commits
    for n in range(20):
        store.append_log([log_append(f"alone-{n}")])
    assert store.commits - before == 20  # no waiting for company: every call is its own commit


def test_a_failed_group_fails_every_caller_and_writes_nothing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite gives up on a write lock held longer than its busy timeout: the whole group fails, each caller with
    # its own StoreUnavailable, and the log is untouched.
    monkeypatch.setattr(sqlite_module, "_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "busy.db"
    store = SqliteStore(path)
    try:
        store.append_log([log_append("before")])
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        barrier = threading.Barrier(8)

        def call(n: int) -> Exception | list[int]:
            barrier.wait()
            try:
                return store.append_log([log_append(f"c{n}")])
            except StoreUnavailable as exc:
                return exc

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(call, range(8)))
        blocker.execute("ROLLBACK")
        blocker.close()

        assert all(isinstance(r, StoreUnavailable) for r in results)
        assert len({id(r) for r in results}) == 8
        assert store.log_size() == 1
        assert store.append_log([log_append("after")]) == [1]
    finally:
        store.close()
