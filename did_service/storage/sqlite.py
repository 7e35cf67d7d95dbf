"""SQLite implementation of the Store protocol.

One database file shared by every worker process. Each (process, thread) gets its own connection, opened on
first use: SQLite connections must not cross a fork, and a store built before gunicorn forks its workers would
otherwise hand the parent's connection to every child.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from did_service.errors import ConfigurationError, StoreConflict, StoreUnavailable
from did_service.storage.base import CredentialRecord, KeyRecord, TokenRecord

SCHEMA_VERSION = 1
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        encrypted_private_key BLOB NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        token_id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS credentials (
        credential_id TEXT PRIMARY KEY,
        credential_type TEXT NOT NULL,
        format TEXT NOT NULL,
        digest TEXT NOT NULL,
        issuer_kid TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT,
        extra TEXT NOT NULL
    )""",
)

_KEY_COLUMNS = "kid, alg, public_jwk, encrypted_private_key, created_at, status"
_TOKEN_COLUMNS = "token_id, token_hash, role, created_at, revoked_at"
_CREDENTIAL_COLUMNS = (
    "credential_id, credential_type, format, digest, issuer_kid, issued_at, valid_from, valid_until, extra"
)


def _to_iso(value: datetime) -> str:
    """Fixed-width UTC text, so that ORDER BY on the column is chronological order."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: the store needs timezone-aware times")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _opt_iso(value: datetime | None) -> str | None:
    return None if value is None else _to_iso(value)


def _opt_from_iso(text: str | None) -> datetime | None:
    return None if text is None else _from_iso(text)


def _dump_json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _key_row(r: KeyRecord) -> tuple:
    return (r.kid, r.alg, _dump_json(r.public_jwk), r.encrypted_private_key, _to_iso(r.created_at), r.status)


def _key_from_row(row: tuple) -> KeyRecord:
    kid, alg, jwk, private, created_at, status = row
    return KeyRecord(kid, alg, json.loads(jwk), bytes(private), _from_iso(created_at), status)


def _token_from_row(row: tuple) -> TokenRecord:
    token_id, token_hash, role, created_at, revoked_at = row
    return TokenRecord(token_id, token_hash, role, _from_iso(created_at), _opt_from_iso(revoked_at))


def _credential_row(r: CredentialRecord) -> tuple:
    return (
        r.credential_id,
        r.credential_type,
        r.format,
        r.digest,
        r.issuer_kid,
        _to_iso(r.issued_at),
        _to_iso(r.valid_from),
        _opt_iso(r.valid_until),
        _dump_json(r.extra),
    )


def _credential_from_row(row: tuple) -> CredentialRecord:
    cid, ctype, fmt, digest, kid, issued_at, valid_from, valid_until, extra = row
    return CredentialRecord(
        cid, ctype, fmt, digest, kid, _from_iso(issued_at), _from_iso(valid_from), _opt_from_iso(valid_until),
        json.loads(extra),
    )


def _enable_wal(conn: sqlite3.Connection) -> None:
    # journal_mode is persistent, so this is a one-time switch; asking first avoids the exclusive lock it
    # needs. SQLite answers a contended switch with SQLITE_BUSY at once instead of calling the busy
    # handler, so workers creating a fresh database together would fail without this retry loop.
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise StoreConflict("The record already exists") from exc
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable("The SQLite database cannot be used") from exc


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        # Keyed by pid too: after a fork the child finds its parent's entries here and must leave them alone
        # (closing them in the child is as unsafe as using them).
        self._connections: dict[tuple[int, int], sqlite3.Connection] = {}
        self._schema_ready = False

    # -- connections ---------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        key = (os.getpid(), threading.get_ident())
        conn = self._connections.get(key)
        if conn is None:
            conn = self._open()
            with self._lock:
                self._connections[key] = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable("The SQLite database directory cannot be created") from exc
        with _translated():
            # check_same_thread=False only so close() can close other threads' connections; each
            # connection is still used by the one thread it was opened for.
            conn = sqlite3.connect(
                self._path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            ready = False
            try:
                conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                if not self._schema_ready:
                    self._create_schema(conn)
                ready = True
            finally:
                if not ready:
                    conn.close()
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        with self._transaction(conn):
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            (found,) = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        if found != str(SCHEMA_VERSION):
            raise ConfigurationError(f"The SQLite database has schema version {found}; expected {SCHEMA_VERSION}")
        self._schema_ready = True

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so read-then-write units (add_keys_if_none) cannot
        # interleave with another writer and fail late with SQLITE_BUSY.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with _translated():
            conn = self._conn()
            with self._transaction(conn):
                yield conn

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with _translated():
            return self._conn().execute(sql, params).fetchall()

    # -- Store ---------------------------------------------------------------------------------------------

    def ping(self) -> None:
        self._read("SELECT value FROM meta WHERE name = 'schema_version'")

    def close(self) -> None:
        pid = os.getpid()
        with self._lock:
            mine = [key for key in self._connections if key[0] == pid]
            conns = [self._connections.pop(key) for key in mine]
        for conn in conns:
            conn.close()

    def durability_problem(self) -> str | None:
        return None  # every connection runs WAL with synchronous=FULL

    def add_keys_if_none(self, records: Sequence[KeyRecord]) -> list[KeyRecord]:
        rows = [_key_row(r) for r in records]
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM signing_keys LIMIT 1").fetchone() is None:
                conn.executemany(f"INSERT INTO signing_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows)
            stored = conn.execute(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid").fetchall()
        return [_key_from_row(row) for row in stored]

    def list_keys(self) -> list[KeyRecord]:
        rows = self._read(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid")
        return [_key_from_row(row) for row in rows]

    def add_token(self, record: TokenRecord) -> None:
        r = record
        row = (r.token_id, r.token_hash, r.role, _to_iso(r.created_at), _opt_iso(r.revoked_at))
        with self._write() as conn:
            conn.execute(f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?)", row)

    def find_token(self, token_hash: str) -> TokenRecord | None:
        rows = self._read(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,))
        return _token_from_row(rows[0]) if rows else None

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        revoked_at = _to_iso(at)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?", (revoked_at, token_id)
            )
            return cursor.rowcount > 0

    def list_tokens(self) -> list[TokenRecord]:
        rows = self._read(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, token_id")
        return [_token_from_row(row) for row in rows]

    def add_credentials(self, records: Sequence[CredentialRecord]) -> None:
        if not records:
            return
        rows = [_credential_row(r) for r in records]
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO credentials ({_CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        rows = self._read(
            f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials WHERE credential_id = ?", (credential_id,)
        )
        return _credential_from_row(rows[0]) if rows else None
