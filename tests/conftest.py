"""Shared fixtures. Each area keeps its fixtures in its own headed section."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import redis

from did_service.storage import Store
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore
from tests.support import free_port

# --- storage ------------------------------------------------------------------------------------------------

STORE_BACKENDS = ["sqlite", "redis"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (REDIS_URL); a missing Redis fails the run on CI and skips the test elsewhere."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        reason = f"Redis is not reachable at REDIS_URL ({type(exc).__name__})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        client.close()
    return url


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A namespace of this test's own; every key in it is deleted afterwards."""
    namespace = f"did_service_test_{uuid.uuid4().hex}"
    yield namespace
    client = redis.Redis.from_url(redis_url)
    try:
        batch = list(client.scan_iter(match=f"{{{namespace}}}:*", count=500))
        if batch:
            client.delete(*batch)
    finally:
        client.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "did_service.db"


@pytest.fixture
def sqlite_store(sqlite_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(sqlite_path)
    yield store
    store.close()


@pytest.fixture
def redis_store(redis_url: str, redis_namespace: str) -> Iterator[RedisStore]:
    store = RedisStore(redis_url, namespace=redis_namespace)
    yield store
    store.close()


@pytest.fixture(params=STORE_BACKENDS)
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def store_url(request: pytest.FixtureRequest, store: Store) -> str:
    """An open_store URL naming the very store that ``store`` is (for code that opens its own)."""
    if isinstance(store, SqliteStore):
        return f"sqlite:///{request.getfixturevalue('sqlite_path')}"
    base, _, query = request.getfixturevalue("redis_url").partition("?")
    params = parse_qsl(query) + [("namespace", request.getfixturevalue("redis_namespace"))]
    return f"{base}?{urlencode(params)}"


class OwnRedis:
    """A redis-server of the test's own (port and data directory), for tests that kill, stop or reconfigure
    Redis: the shared Redis is never touched."""

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
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a test may leave it SIGSTOPped; SIGKILL works either way
            self.kill()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[..., OwnRedis]]:
    """Start a redis-server with the given arguments (each in its own directory); all are killed afterwards."""
    servers: list[OwnRedis] = []

    def start(*args: str) -> OwnRedis:
        folder = tmp_path / f"redis-{len(servers)}"
        folder.mkdir()
        server = OwnRedis(folder, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def durable_redis(own_redis: Callable[..., OwnRedis]) -> OwnRedis:
    """An own redis-server that fsyncs every write before it replies."""
    return own_redis("--appendonly", "yes", "--appendfsync", "always")
