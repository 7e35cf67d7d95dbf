"""Status list benchmark: status check rate with a warm cache, concurrent update rate, list size for 1M credentials.

    .venv/bin/python bench/status.py [--seconds 3] [--threads 8] [--updates 2000]

1. Status check: a verifier checking a credential whose list is already cached (no fetch): verify the list
   credential's signature, decode the GZIP list, read the bit. Beside it: raw jwcrypto EdDSA verify, same run.
2. Updates: --threads threads revoking distinct credentials through the service (bit flip + status log entry in one
   durable unit on SQLite), beside the raw os.fsync rate in the same directory.
3. Size: the published encodedList for 1,000,000 credentials (8 lists of 131,072) at several revocation rates.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jwcrypto import jws  # noqa: E402

from did_service.clock import utcnow  # noqa: E402
from log_store import raw_fsync_rate  # noqa: E402  (bench/ is the script's own folder)
from did_service.config import Settings  # noqa: E402
from did_service.core import status_list  # noqa: E402
from did_service.core.verifier.verify import verify_credential  # noqa: E402
from did_service.services.container import build_services  # noqa: E402

SUBJECT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "subjects" / "DiplomaCredential.json"


def rate(fn, seconds: float) -> float:
    for _ in range(5):
        fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--updates", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent) as tmp:
        svc = build_services(Settings.from_env({"DID_SERVICE_INSTANCE_DIR": tmp}))
        body = {"credential": {"type": ["VerifiableCredential", "DiplomaCredential"],
                               "credentialSubject": json.loads(SUBJECT.read_text(encoding="utf-8"))}}
        issued = svc.issuance.issue_many([body] * args.updates, utcnow())
        credential = issued[0]
        list_url = credential.credential["credentialStatus"][0]["statusListCredential"]
        list_token = svc.status.published(svc.status.list_id_of(list_url)).token
        cached = {url: svc.status.published(svc.status.list_id_of(url)).token
                  for url in {e["statusListCredential"] for e in credential.credential["credentialStatus"]}}

        def status_check() -> None:
            # The credential check minus anchoring: the status lists come from a warm cache, as a verifier's would.
            report = verify_credential(credential.secured, resolve=svc.resolver, registry=svc.registry,
                                       trusted_issuers={svc.issuer_did}, now=utcnow(), status_lists=cached.__getitem__)
            assert report.verified

        def credential_only() -> None:
            verify_credential(credential.secured, resolve=svc.resolver, registry=svc.registry,
                              trusted_issuers={svc.issuer_did}, now=utcnow())

        key = svc.keyring.for_alg("EdDSA").jwk.public()

        def raw_verify() -> None:
            token = jws.JWS()
            token.deserialize(list_token)
            token.verify(key, alg="EdDSA")

        checked = rate(status_check, args.seconds)
        without = rate(credential_only, args.seconds)
        raw = rate(raw_verify, args.seconds)
        per_status = 1 / checked - 1 / without
        print(f"raw jwcrypto EdDSA verify                    {raw:10.0f} /s")
        print(f"verify a credential, 2 status entries, warm  {checked:10.0f} /s  ({checked / raw:.2f}x raw verify)")
        print(f"  of which the 2 status checks               {per_status * 1e6:10.0f} us  "
              f"(= {1 / (per_status / 2):,.0f} status checks/s; a list token verifies once, then its bits are cached)")

        fsync = raw_fsync_rate(Path(tmp), 2.0)
        targets = iter(issued)
        start = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(lambda item: svc.status.update(item.record.credential_id, ["revoked"]), targets))
        elapsed = time.perf_counter() - start
        print(f"raw os.fsync (100 B)                         {fsync:10.0f} /s")
        print(f"revocations, {args.threads} threads, one list          {len(issued) / elapsed:10.0f} /s  "
              f"({len(issued) / elapsed / fsync:.2f}x raw fsync)")
        start = time.perf_counter()
        svc.status.published(svc.status.list_id_of(list_url))
        print(f"re-sign the list after the changes           {(time.perf_counter() - start) * 1e3:10.1f} ms")
        svc.store.close()

    print("\nencodedList for 1,000,000 credentials (8 lists of 131,072 entries, one purpose):")
    rng = random.Random(7)
    for rate_revoked in (0.0, 0.001, 0.01, 0.1):
        total = 0
        for _ in range(8):
            bits = bytearray(status_list.MIN_ENTRIES // 8)
            for index in rng.sample(range(status_list.MIN_ENTRIES), int(status_list.MIN_ENTRIES * rate_revoked)):
                status_list.set_bit(bits, index, 1)
            total += len(status_list.encode_bits(bytes(bits)))
        print(f"  {rate_revoked:6.1%} revoked: {total / 1024:8.1f} KiB in all ({total / 8 / 1024:6.1f} KiB per list)")


if __name__ == "__main__":
    main()
