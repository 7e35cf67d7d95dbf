"""Storage: the Store contract and its backends, chosen by one URL setting.

    sqlite:///relative/path.db          SqliteStore (path relative to the working directory)
    sqlite:////absolute/path.db         SqliteStore
    redis://[:password@]host:port/db    RedisStore  (also rediss:// and unix:///path/to/redis.sock)
        ?namespace=name                 optional; the hash-tag namespace of every key (default "did_service")
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from did_service.errors import ConfigurationError
from did_service.storage.base import (
    AccountRecord,
    ApiKeyRecord,
    CheckpointRecord,
    CredentialRecord,
    EnrollmentCodeRecord,
    KeyRecord,
    LogAppend,
    LogLeaf,
    NodeId,
    ResidentRecord,
    SessionRecord,
    Store,
    TenantRecord,
    TokenRecord,
    TrustRecord,
    VerifierTransaction,
)
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore

__all__ = [
    "AccountRecord",
    "ApiKeyRecord",
    "CheckpointRecord",
    "CredentialRecord",
    "EnrollmentCodeRecord",
    "KeyRecord",
    "LogAppend",
    "LogLeaf",
    "NodeId",
    "RedisStore",
    "ResidentRecord",
    "SessionRecord",
    "SqliteStore",
    "Store",
    "TenantRecord",
    "TokenRecord",
    "TrustRecord",
    "VerifierTransaction",
    "open_store",
]

_SQLITE_PREFIX = "sqlite:///"
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SUPPORTED = "sqlite:///, redis://, rediss://, unix://"


def open_store(url: str) -> Store:
    """Open the store a URL names. Nothing connects yet: backends connect on first use."""
    # Messages name the scheme at most: the rest of the URL may carry a password.
    match = _SCHEME.match(url)
    if match is None:
        raise ConfigurationError(f"The store URL has no valid scheme; supported: {_SUPPORTED}")
    scheme = match.group(1).lower()
    url = scheme + url[len(scheme) :]  # redis-py only knows lower-case schemes
    if scheme == "sqlite":
        return _open_sqlite(url)
    if scheme in _REDIS_SCHEMES:
        return _open_redis(url)
    raise ConfigurationError(f"Unsupported store URL scheme {scheme!r}; supported: {_SUPPORTED}")


def _open_sqlite(url: str) -> Store:
    if not url.startswith(_SQLITE_PREFIX):
        raise ConfigurationError("A SQLite store URL has no host: use sqlite:///relative.db or sqlite:////abs.db")
    path = url[len(_SQLITE_PREFIX) :]
    if not path or path.endswith("/") or path == ":memory:":
        # :memory: would give every thread and process its own empty database.
        raise ConfigurationError("A SQLite store URL must name a database file")
    return SqliteStore(path)


def _open_redis(url: str) -> Store:
    # Split by hand: urlunsplit() would turn unix:///path into unix:/path.
    base, _, query_string = url.partition("?")
    query = parse_qsl(query_string, keep_blank_values=True)
    namespaces = [value for name, value in query if name == "namespace"]
    if len(namespaces) > 1:
        raise ConfigurationError("The Redis store URL sets namespace more than once")
    rest = urlencode([(name, value) for name, value in query if name != "namespace"])
    redis_url = f"{base}?{rest}" if rest else base
    if namespaces:
        return RedisStore(redis_url, namespace=namespaces[0])
    return RedisStore(redis_url)
