"""In-process issuance and verification rates for vc+jwt, beside raw jwcrypto EdDSA in the same run.

    .venv/bin/python bench/issue_verify.py [--seconds 3] [--store sqlite|redis] [--batch 50]

Issuance = parse request + JSON Schema + build + sign + durable store write (SQLite WAL, synchronous=FULL,
one transaction per credential; with --batch also N credentials per transaction).
Verification = parse + resolve issuer key (own did:web, local) + pin alg + signature + data model + validity +
schema + trusted issuer + anchored (receipt from the log: store reads, inclusion proof, checkpoint signature,
cached per checkpoint) + key history; each of 20,000 distinct credentials is verified once. Baselines: jwcrypto's JWS object API signing and verifying the same payload with the same key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jwcrypto import jws  # noqa: E402

from did_service.clock import utcnow  # noqa: E402
from did_service.config import Settings  # noqa: E402
from did_service.services.container import build_services  # noqa: E402

SUBJECT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "subjects" / "ResidentIdentityCredential.json"


def rate(fn: Callable[[], object], seconds: float, per_call: int = 1) -> float:
    for _ in range(20):  # warm caches and code paths
        fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            fn()
        count += 10
    return count * per_call / elapsed


def commit_only(folder: Path) -> Callable[[], None]:
    """One empty-ish durable SQLite transaction with the store's pragmas: the floor under 1-per-transaction."""
    import sqlite3

    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (v TEXT)")

    def commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES ('x')")
        conn.execute("COMMIT")

    return commit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        environ = {"DID_SERVICE_INSTANCE_DIR": tmp}
        if args.store == "redis":
            environ["DID_SERVICE_STORE_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0") + f"?namespace=bench_{os.getpid()}"
        svc = build_services(Settings.from_env(environ))
        body = {
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential", "ResidentIdentityCredential"],
                "credentialSubject": json.loads(SUBJECT.read_text(encoding="utf-8")),
            },
            "options": {"format": "vc+jwt", "alg": "EdDSA"},
        }
        key = svc.keyring.for_alg("EdDSA")
        sample = svc.issuance.issue(body, utcnow())
        payload = sample.secured.split(".")[1]
        import base64

        payload_bytes = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        header = json.dumps({"alg": "EdDSA", "kid": f"{svc.issuer_did}#{key.kid}", "typ": "vc+jwt"})
        public = key.jwk.public()

        def raw_sign() -> str:
            token = jws.JWS(payload_bytes)
            token.add_signature(key.jwk, alg="EdDSA", protected=header)
            return token.serialize(compact=True)

        raw_token = raw_sign()

        def raw_verify() -> None:
            token = jws.JWS()
            token.deserialize(raw_token)
            token.verify(public, alg="EdDSA")

        assert svc.verify_credential(sample.secured).verified

        results = {}
        results["jwcrypto sign (baseline)"] = rate(raw_sign, args.seconds)
        results["issue vc+jwt, 1 per transaction"] = rate(lambda: svc.issuance.issue(body, utcnow()), args.seconds)
        batch = [body] * args.batch
        results[f"issue vc+jwt, {args.batch} per transaction"] = rate(
            lambda: svc.issuance.issue_many(batch, utcnow()), args.seconds, per_call=args.batch
        )
        results["durable commit alone (store floor)"] = rate(commit_only(Path(tmp)), args.seconds) if args.store == "sqlite" else float("nan")
        results["jwcrypto verify (baseline)"] = rate(raw_verify, args.seconds)
        # Distinct credentials, each verified once, as a verifier sees them (no per-credential cache can help).
        tokens = iter([item.secured for item in svc.issuance.issue_many([body] * 20000, utcnow())])
        svc.log.checkpoint()
        results["verify vc+jwt (full report)"] = rate(lambda: svc.verify_credential(next(tokens)), min(args.seconds, 2.0))
        svc.store.close()

    sign_base = results["jwcrypto sign (baseline)"]
    verify_base = results["jwcrypto verify (baseline)"]
    print(f"store: {args.store}; {args.seconds:.1f} s per measurement; payload {len(payload_bytes)} bytes")
    for name, value in results.items():
        base = verify_base if "verify" in name else sign_base
        print(f"{name:40s} {value:10.0f} /s   ratio to baseline {value / base:6.2f}")
    single = results["issue vc+jwt, 1 per transaction"] / sign_base
    batched = results[f"issue vc+jwt, {args.batch} per transaction"] / sign_base
    verify_ratio = results["verify vc+jwt (full report)"] / verify_base
    print(
        f"targets: issuance >= 0.50 -> {batched:.2f} ({args.batch} per transaction), {single:.2f} (1 per transaction: one durable commit of five index pages per credential, "
        f"plus the CPU work); verification >= 0.60 -> {verify_ratio:.2f} (with the log inclusion check)"
    )


if __name__ == "__main__":
    main()
