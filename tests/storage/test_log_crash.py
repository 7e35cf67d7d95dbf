"""Crash tests: kill -9 a process in the middle of a stream of appends (and, for Redis, the redis-server
itself), reopen, and check that every acknowledged append is there with its exact entry, that indexes are
contiguous from 0 and that no call was half written. Redis runs as a server of the test's own, with
appendonly yes and appendfsync always; the shared Redis is never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from did_service.storage import LogAppend, Store, open_store
from tests.storage.records import leaf_hash

REPO = Path(__file__).resolve().parents[2]
PARTS = 3  # entries per call; the middle one carries a credential

# Four threads append in a loop (so groups are being committed when the kill lands) and print each
# acknowledged call as "round thread call index0 index1 index2". A refused call (backend down) is dropped and
# the thread carries on with the next one: it was never acknowledged.
CHILD = r"""
import hashlib, json, sys, threading, time
from datetime import datetime, timezone
from did_service.errors import StoreUnavailable
from did_service.storage import CredentialRecord, LogAppend, open_store

url, round_ = sys.argv[1], sys.argv[2]
store = open_store(url)
out = threading.Lock()
at = datetime(2025, 3, 1, tzinfo=timezone.utc)

def entry(thread, call, part):
    return json.dumps({"round": round_, "thread": thread, "call": call, "part": part}, sort_keys=True).encode()

def run(thread):
    call = 0
    while True:
        batch = []
        for part in range(3):
            data = entry(thread, call, part)
            credential = None
            if part == 1:
                cid = f"urn:uuid:{round_}-{thread}-{call}"
                credential = CredentialRecord(cid, "T", "vc+jwt", hashlib.sha256(cid.encode()).hexdigest(), "k", at, at)
            batch.append(LogAppend(data, hashlib.sha256(b"\x00" + data).digest(), credential))
        try:
            indexes = store.append_log(batch)
        except StoreUnavailable:
            time.sleep(0.02)
        else:
            with out:
                sys.stdout.write(" ".join(map(str, [round_, thread, call, *indexes])) + "\n")
                sys.stdout.flush()
        call += 1

for t in range(4):
    threading.Thread(target=run, args=(t,), daemon=True).start()
threading.Event().wait()
"""


class Appender:
    """The child process and the acknowledgements it printed (complete lines only)."""

    def __init__(self, url: str, round_: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, round_], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.acks: list[tuple[str, int, int, list[int]]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.endswith(b"\n"):  # a line cut by the kill was not acknowledged to anyone
                round_, thread, call, *indexes = line.decode().split()
                self.acks.append((round_, int(thread), int(call), [int(i) for i in indexes]))

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.acks) < count:
            if self.process.poll() is not None:
                raise AssertionError(f"the appender died: {self.process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acks)} acknowledged appends")
            time.sleep(0.005)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def appenders() -> Iterator[list[Appender]]:
    started: list[Appender] = []
    yield started
    for appender in started:
        appender.stop()


def expected_entry(round_: str, thread: int, call: int, part: int) -> bytes:
    return json.dumps({"round": round_, "thread": thread, "call": call, "part": part}, sort_keys=True).encode()


def check_log(store: Store, acks: list[tuple[str, int, int, list[int]]]) -> None:
    size = store.log_size()
    leaves = store.read_leaves(0, size)
    assert [leaf.index for leaf in leaves] == list(range(size))  # contiguous from 0
    assert all(leaf.leaf_hash == leaf_hash(leaf.entry) for leaf in leaves)
    # No partial call: leaves come in whole calls, parts 0, 1, 2 at consecutive indexes, credential attached.
    assert size % PARTS == 0
    for first in range(0, size, PARTS):
        entries = [json.loads(leaf.entry) for leaf in leaves[first:first + PARTS]]
        call = {(e["round"], e["thread"], e["call"]) for e in entries}
        assert len(call) == 1 and [e["part"] for e in entries] == list(range(PARTS))
        (round_, thread, n), = call
        credential = store.get_credential(f"urn:uuid:{round_}-{thread}-{n}")
        assert credential is not None and credential.leaf_index == first + 1
    # Every acknowledged call is there, at its indexes, with its exact entries.
    for round_, thread, call, indexes in acks:
        assert [leaves[i].entry for i in indexes] == [expected_entry(round_, thread, call, p) for p in range(PARTS)]
    # And the log carries on where it stopped.
    assert store.append_log([LogAppend(b"after", leaf_hash(b"after"))]) == [size]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crash.db'}"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_kill_9_of_an_appending_process(backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                                        appenders: list[Appender]) -> None:
    url = sqlite_url(tmp_path) if backend == "sqlite" else request.getfixturevalue("durable_redis").url
    acks = []
    for round_ in ("r1", "r2"):  # the second round restarts on what the first one left
        appender = Appender(url, round_)
        appenders.append(appender)
        appender.wait_for(150)
        appender.kill()
        acks += appender.acks
    store = open_store(url)
    try:
        check_log(store, acks)
    finally:
        store.close()


def test_kill_9_of_redis_server_while_appending(durable_redis, appenders: list[Appender]) -> None:
    appender = Appender(durable_redis.url, "r1")
    appenders.append(appender)
    appender.wait_for(150)
    durable_redis.kill()
    at_kill = len(appender.acks)
    time.sleep(0.3)  # the appender meets a dead server for a while
    durable_redis.start()  # same port, same data directory: the AOF is replayed
    appender.wait_for(at_kill + 150)
    appender.kill()
    assert os.path.isdir(durable_redis.folder / "appendonlydir")

    store = open_store(durable_redis.url)
    try:
        assert store.durability_problem() is None
        check_log(store, appender.acks)
    finally:
        store.close()
