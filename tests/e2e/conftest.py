"""A real `did-service serve` (gunicorn, SQLite) in a temporary instance, for journeys over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port

DID_SERVICE = str(Path(sys.executable).with_name("did-service"))


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DID_SERVICE_INSTANCE_DIR": str(tmp_path / "instance"),
        "DID_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("DID_SERVICE_STORE_URL", None)
    process = subprocess.Popen(
        [DID_SERVICE, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        yield port, env, tmp_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


