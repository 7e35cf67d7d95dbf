"""Durable transparency-log append rates of the SQLite and Redis stores, beside the raw fsync rate of the same
filesystem measured in the same run.

    .venv/bin/python bench/log_store.py [--seconds 3] [--threads 8] [--batch 100] [--dir DIR] [--only sqlite|redis]

Every append is an "issued" entry (~300 bytes of JSON) with its credential record, as issuance writes it.
Modes, per backend:
    unbatched   one thread, one entry per append_log call (one commit per call)
    concurrent  --threads threads, one entry per call: group commit merges them (one transaction / pipeline)
    batched     one thread, --batch entries per append_log call
SQLite runs WAL with synchronous=FULL (an fsync per commit). Redis is a redis-server of this benchmark's own
(appendonly yes, appendfsync always: an fsync before each reply) with its data in the same directory; the shared
Redis is not touched. Raw fsync = write 100 bytes and os.fsync, in a loop, on a file in that directory.

Targets (issue 3): SQLite unbatched >= 60% of raw fsync and concurrent (group commit) >= 4x raw fsync; Redis
unbatched >= 1,500/s and pipelined >= 10,000/s (judged on the batched mode: 100 entries per script run). Each
backend's floor (one-row durable SQLite commit; a Redis SET, whose reply waits for its fsync) is printed too: the
100-byte raw fsync is cheaper than any commit that writes a 4 KB page to a growing file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from did_service.storage import CredentialRecord, LogAppend, RedisStore, SqliteStore, Store  # noqa: E402

AT = datetime(2025, 3, 1, tzinfo=timezone.utc)
_ids = count()
_ids_lock = threading.Lock()


def issued_append() -> LogAppend:
    with _ids_lock:
        n = next(_ids)
    credential_id = f"urn:uuid:bench-{os.getpid()}-{n}"
    digest = hashlib.sha256(credential_id.encode()).hexdigest()
    entry = json.dumps({
        "v": 1, "kind": "issued", "digest": digest, "credential_id": credential_id, "type": "ResidentIdentity",
        "issuer_kid": "did:web:issuer.example#key-ed25519-1", "status_list": "https://issuer.example/status/1",
        "status_index": n % 131072, "time": "2025-03-01T00:00:00Z",
    }, separators=(",", ":"), sort_keys=True).encode()
    credential = CredentialRecord(credential_id, "ResidentIdentity", "vc+jwt", digest, "key-ed25519-1", AT, AT)
    return LogAppend(entry, hashlib.sha256(b"\x00" + entry).digest(), credential)


def raw_fsync_rate(folder: Path, seconds: float) -> float:
    path = folder / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        data = b"x" * 100
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            os.write(fd, data)
            os.fsync(fd)
            n += 1
    finally:
        os.close(fd)
        path.unlink()
    return n / elapsed


def floor_rate(fn: Callable[[], object], seconds: float) -> float:
    for _ in range(20):
        fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def sqlite_floor(folder: Path) -> Callable[[], None]:
    """One one-row durable transaction with the store's pragmas: what SQLite itself commits per second."""
    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")

    def commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES ('x')")
        conn.execute("COMMIT")

    return commit


def single(store: Store, seconds: float, per_call: int) -> float:
    for _ in range(20):  # warm-up: schema, scripts, connections
        store.append_log([issued_append() for _ in range(per_call)])
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        calls = [[issued_append() for _ in range(per_call)] for _ in range(10)]  # built outside the store's work
        for call in calls:
            store.append_log(call)
        n += 10 * per_call
    return n / elapsed


def concurrent(store: Store, seconds: float, threads: int) -> tuple[float, float]:
    """Appends per second and calls per commit with ``threads`` threads appending one entry per call."""
    store.append_log([issued_append()])
    stop = threading.Event()
    done = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def work(t: int) -> None:
        barrier.wait()
        while not stop.is_set():
            store.append_log([issued_append()])
            done[t] += 1

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    commits_before = store.commits
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    commits = store.commits - commits_before
    return sum(done) / elapsed, sum(done) / max(commits, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "yes", "--appendfsync", "always"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                client.ping()
                return process, url
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
    finally:
        client.close()
    process.kill()
    raise SystemExit("redis-server did not start")


def report(name: str, value: float, fsync: float, target: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("  met" if met else "  MISSED")
    print(f"  {name:<34} {value:>10,.0f}/s  {value / fsync:>6.2f}x fsync  {target}{verdict}")


def bench_backend(name: str, store: Store, args: argparse.Namespace, fsync: float,
                  floor: tuple[str, float]) -> None:
    unbatched = single(store, args.seconds, 1)
    together, per_commit = concurrent(store, args.seconds, args.threads)
    batched = single(store, args.seconds, args.batch)
    print(f"{name}  (log size at the end: {store.log_size():,})")
    report(floor[0], floor[1], fsync)
    if name == "SQLite":
        report("unbatched (1 thread, 1/call)", unbatched, fsync, ">= 0.60x fsync", unbatched >= 0.6 * fsync)
        report(f"group commit ({args.threads} threads, 1/call)", together, fsync, ">= 4x fsync", together >= 4 * fsync)
    else:
        report("unbatched (1 thread, 1/call)", unbatched, fsync, ">= 1,500/s", unbatched >= 1500)
        report(f"pipelined ({args.threads} threads, 1/call)", together, fsync)
    print(f"  {'':<34} {per_commit:>10.1f} calls per commit (group commit)")
    redis_target = name.startswith("Redis")
    report(f"batched (1 thread, {args.batch}/call)", batched, fsync,
           ">= 10,000/s" if redis_target else "", batched >= 10_000 if redis_target else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None, help="where the databases live (default: a temp dir)")
    parser.add_argument("--only", choices=["sqlite", "redis"], default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="log-store-bench-") as tmp:
        folder = Path(tmp)
        fsync = raw_fsync_rate(folder, args.seconds)
        print(f"raw fsync (100 B write + os.fsync) in {folder}: {fsync:,.0f}/s ({1e6 / fsync:.0f} µs each)")
        if args.only in (None, "sqlite"):
            floor = floor_rate(sqlite_floor(folder), args.seconds)
            store = SqliteStore(folder / "log.db")
            try:
                bench_backend("SQLite", store, args, fsync, ("floor: 1-row durable commit", floor))
            finally:
                store.close()
        if args.only in (None, "redis"):
            redis_dir = folder / "redis"
            redis_dir.mkdir()
            process, url = start_redis(redis_dir)
            store = RedisStore(url, namespace="bench")
            try:
                problem = store.durability_problem()
                if problem is not None:
                    raise SystemExit(problem)
                client = redis.Redis.from_url(url)
                floor = floor_rate(lambda: client.set("bench:floor", "x"), args.seconds)
                client.close()
                bench_backend("Redis (appendfsync always)", store, args, fsync, ("floor: SET (fsynced reply)", floor))
            finally:
                store.close()
                process.kill()
                process.wait()
        # The raw rate again at the end: the filesystem's rate drifts, and the ratios are only as good as it.
        print(f"raw fsync again at the end: {raw_fsync_rate(folder, args.seconds):,.0f}/s")


if __name__ == "__main__":
    main()
