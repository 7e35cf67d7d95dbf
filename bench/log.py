"""Transparency log benchmark: durable appends, proofs and audit at 1,000,000 entries, beside raw fsync and SHA-256.

    .venv/bin/python bench/log.py [--entries 1000000] [--seconds 3] [--skip-appends]

1. Durable append rates on SQLite and Redis (single, concurrent group commit, batched): bench/log_store.py.
2. A SQLite log of --entries status entries (appended 10,000 per call), published under one checkpoint.
3. Server time of an inclusion proof at that size (one batched node read + building the path), averaged over
   1,000 random leaves, and of a consistency proof.
4. A full audit of that log read from the store (every entry decoded, the tree recomputed, the checkpoint checked).
Raw rates measured in the same run: os.fsync after a 100-byte write, and SHA-256 of one entry-sized input.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from log_store import raw_fsync_rate  # noqa: E402  (bench/ is the script's own folder)

from did_service.core import tlog  # noqa: E402
from did_service.core.tlog.audit import audit  # noqa: E402
from did_service.services.log_sources import StoreLogSource  # noqa: E402
from did_service.services.transparency import LogIdentity, TransparencyLog  # noqa: E402
from did_service.storage import LogAppend, SqliteStore  # noqa: E402

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def raw_sha256_rate(sample: bytes, n: int = 200_000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        hashlib.sha256(sample).digest()
    return n / (time.perf_counter() - start)


def build_log(store: SqliteStore, entries: int) -> float:
    # One template entry re-encoded per index would cost more than the appends; vary the index textually instead.
    template = tlog.encode_entry(tlog.StatusEntry("https://issuer.example/status/1", 123456789, "revocation", 1, AT))
    start = time.perf_counter()
    for base in range(0, entries, 10_000):
        batch = []
        for i in range(base, min(entries, base + 10_000)):
            entry = template.replace(b"123456789", str(i).encode())
            batch.append(LogAppend(entry, tlog.leaf_hash(entry)))
        store.append_log(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--skip-appends", action="store_true")
    args = parser.parse_args()

    if not args.skip_appends:
        subprocess.run([sys.executable, str(Path(__file__).with_name("log_store.py")), "--seconds", str(args.seconds)], check=True)

    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent) as tmp:
        folder = Path(tmp)
        fsync = raw_fsync_rate(folder, 2.0)
        sample = tlog.encode_entry(tlog.StatusEntry("https://issuer.example/status/1", 1, "revocation", 1, AT))
        sha = raw_sha256_rate(b"\x00" + sample)
        print(f"\nraw os.fsync (100 B writes)          {fsync:12.0f} /s")
        print(f"raw SHA-256 ({len(sample) + 1} B inputs)          {sha:12.0f} /s")

        store = SqliteStore(folder / "log.db")
        seconds = build_log(store, args.entries)
        print(f"append {args.entries:,} entries (10,000 per call) {seconds:8.1f} s = {args.entries / seconds:,.0f} /s")

        log = TransparencyLog(store, LogIdentity("bench.example/log", ed25519.Ed25519PrivateKey.generate()), lambda: AT)
        start = time.perf_counter()
        checkpoint = log.checkpoint()
        print(f"publish the checkpoint over {checkpoint.size:,} entries {time.perf_counter() - start:8.1f} s "
              "(re-hash every new entry, build every subtree node, sign)")

        size = checkpoint.size
        leaves = [secrets.randbelow(size) for _ in range(1000)]
        start = time.perf_counter()
        for index in leaves:
            log.inclusion_path(index, size)
        per_proof = (time.perf_counter() - start) / len(leaves)
        print(f"inclusion proof at {size:,} (server time)  {per_proof * 1e6:10.0f} us   target < 1000 us")
        start = time.perf_counter()
        for first in leaves[:200]:
            log.consistency_path(first, size)
        print(f"consistency proof at {size:,}             {(time.perf_counter() - start) / 200 * 1e6:10.0f} us")

        start = time.perf_counter()
        result = audit(StoreLogSource(store), log.identity.vkey)
        elapsed = time.perf_counter() - start
        assert result.ok, result
        print(f"audit {result.entries:,} entries (decode + hash + check) {elapsed:8.1f} s   target < 30 s; "
              f"{result.entries / elapsed:,.0f} entries/s = {result.entries / elapsed / sha:.2f} x raw SHA-256")
        store.close()


if __name__ == "__main__":
    main()
