"""Shared fixtures. Each area keeps its fixtures in its own headed section."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import redis

from did_service.storage import Store
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore

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
