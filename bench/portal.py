"""Portal pages: server-side render time per page over the Flask test client, and the weight of what they ship.

Issue 7's targets: every portal page renders in under 50 ms at the median, and the pages ship under 100 KB of
JavaScript and CSS together. Run: .venv/bin/python bench/portal.py [--quick]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from did_service.core.residents import COLUMNS  # noqa: E402
from did_service.services.container import build_services  # noqa: E402
from did_service.web import create_app  # noqa: E402
from tests.support import make_settings  # noqa: E402

ROW = "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567"
PAGES = ["/", "/log", "/enroll", "/login", "/wallet"]
ASSET = re.compile(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 50 if args.quick else 400
    with tempfile.TemporaryDirectory() as folder:
        services = build_services(make_settings(Path(folder) / "instance"))
        app = create_app(services=services)
        client = app.test_client()
        (imported,) = services.residents.import_registry(",".join(COLUMNS[:11]) + "\n" + ROW + "\n")
        subject = services.residents.enroll(imported.enrollment_code, "correct horse battery")
        logged_in = app.test_client()
        logged_in.set_cookie("did_session", services.sessions.start(subject).session_id)

        print(f"portal pages over the Flask test client, {rounds} renders each after 5 warm-ups (ko)")
        print(f"{'page':<10} {'median ms':>10} {'p95 ms':>8} {'bytes':>7}   target: median < 50 ms")
        assets: set[str] = set()
        worst = 0.0
        for page in PAGES:
            who = logged_in if page == "/wallet" else client
            for _ in range(5):
                who.get(page)
            timings = []
            for _ in range(rounds):
                start = time.perf_counter()
                response = who.get(page, headers={"Accept": "text/html"})
                timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (page, response.status_code)
            body = response.get_data(as_text=True)
            assets.update(ASSET.findall(body))
            median = statistics.median(timings)
            worst = max(worst, median)
            p95 = statistics.quantiles(timings, n=20)[18]
            print(f"{page:<10} {median:>10.2f} {p95:>8.2f} {len(body.encode()):>7}")
        total = 0
        for asset in sorted(assets):
            size = len(client.get(asset).get_data())
            total += size
            print(f"  {asset}: {size} bytes")
        services.store.close()
    print()
    print(f"slowest page median {worst:.2f} ms (target < 50 ms: {'met' if worst < 50 else 'MISSED'}); "
          f"JavaScript and CSS shipped {total / 1024:.1f} KB (target < 100 KB: {'met' if total < 100 * 1024 else 'MISSED'})")


if __name__ == "__main__":
    main()
