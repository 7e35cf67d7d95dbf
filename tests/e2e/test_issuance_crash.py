"""kill -9 an issuing process mid-stream, restart, and audit: every credential the process was told about is in the
log, the tree verifies, and each such credential still verifies (SQLite, and Redis with an own redis-server)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from did_service.core.tlog.audit import audit
from did_service.services.container import build_services
from did_service.services.log_sources import StoreLogSource
from did_service.storage import open_store
from tests.support import make_settings

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, threading
from pathlib import Path
from did_service.services.container import build_services
from tests.support import make_settings, issue_body
settings = make_settings(Path(sys.argv[1]), store_url=sys.argv[2])
svc = build_services(settings)
lock = threading.Lock()
def run():
    while True:
        issued = svc.issuance.issue_many([issue_body(), issue_body("DiplomaCredential")], svc.clock())
        with lock:
            for item in issued:
                sys.stdout.write(f"{item.leaf_index} {item.secured}\n")
            sys.stdout.flush()
for _ in range(3):
    threading.Thread(target=run, daemon=True).start()
threading.Event().wait()
"""


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_kill_9_while_issuing_then_audit(backend, tmp_path, request):
    store_url = f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("durable_redis").url
    instance = tmp_path / "instance"
    build_services(make_settings(instance, store_url=store_url)).store.close()  # keys and KEK first
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(instance), store_url], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    acknowledged: dict[int, str] = {}
    deadline = time.monotonic() + 60
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        index, jwt = line.split()
        acknowledged[int(index)] = jwt
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert len(acknowledged) >= 60, "the child did not issue"

    svc = build_services(make_settings(instance, store_url=store_url), store=open_store(store_url))
    checkpoint = svc.log.checkpoint()
    assert checkpoint.size >= max(acknowledged) + 1
    result = audit(StoreLogSource(svc.store), svc.log.identity.vkey)
    assert result.ok and result.entries == checkpoint.size, result
    for index, jwt in list(acknowledged.items())[::7]:
        record = svc.store.get_credential_by_digest(hashlib.sha256(jwt.encode()).hexdigest())
        assert record is not None and record.leaf_index == index
        assert svc.verify_credential(jwt).verified
