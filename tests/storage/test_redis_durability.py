"""Redis durability: the store reports a Redis that does not fsync every write, and acknowledged writes survive
a kill -9 of a Redis that does. Each test starts its own redis-server; the shared one is never touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from did_service.clock import utcnow
from did_service.errors import ConfigurationError
from did_service.services.container import build_services
from did_service.storage.base import CredentialRecord
from did_service.storage.redis import RedisStore
from tests.support import free_port, issue_body, make_settings


class OwnRedis:
    def __init__(self, folder: Path, *args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI") == "true":
                pytest.fail("redis-server is not installed")
            pytest.skip("redis-server is not installed")
        self.binary, self.folder, self.args = binary, folder, args
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "", *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def own_redis(tmp_path):
    servers: list[OwnRedis] = []

    def start(*args: str) -> OwnRedis:
        server = OwnRedis(tmp_path, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_non_durable_redis_is_reported_and_refused_in_production(own_redis, tmp_path):
    server = own_redis("--appendonly", "no")
    store = RedisStore(server.url)
    assert "appendfsync always" in store.durability_problem()
    settings = make_settings(tmp_path / "i", env="production", store_url=server.url, kek_b64="A" * 43)
    with pytest.raises(ConfigurationError):
        build_services(settings, store=store)
    # Development warns and carries on.
    assert build_services(make_settings(tmp_path / "d", store_url=server.url), store=store).issuer_did


def test_acknowledged_writes_survive_kill_9(own_redis, tmp_path):
    server = own_redis("--appendonly", "yes", "--appendfsync", "always")
    store = RedisStore(server.url)
    assert store.durability_problem() is None
    svc = build_services(make_settings(tmp_path / "i", store_url=server.url), store=store)
    issued = svc.issuance.issue_many([issue_body(), issue_body("DiplomaCredential")], utcnow())
    server.kill()
    server.start()
    reopened = RedisStore(server.url)
    for item in issued:
        assert reopened.get_credential(item.record.credential_id) == item.record
    assert [k.kid for k in reopened.list_keys()] == [k.kid for k in store.list_keys()]
    # The service restarts on the same store with the same keys, and what it issued before still verifies.
    again = build_services(make_settings(tmp_path / "i", store_url=server.url), store=reopened)
    assert again.verify_credential(issued[0].jwt).verified


def test_unreachable_redis_is_unavailable_not_a_crash(own_redis):
    server = own_redis("--appendonly", "no")
    store = RedisStore(server.url)
    server.kill()
    from did_service.errors import StoreUnavailable

    record = CredentialRecord("urn:uuid:x", "T", "vc+jwt", "0" * 64, "k", utcnow(), utcnow())
    with pytest.raises(StoreUnavailable):
        store.add_credentials([record])
    with pytest.raises(StoreUnavailable):
        store.durability_problem()
