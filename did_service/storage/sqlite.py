"""SQLite implementation of the Store protocol.

One database file shared by every worker process. Each (process, thread) gets its own connection, opened on
first use: SQLite connections must not cross a fork, and a store built before gunicorn forks its workers would
otherwise hand the parent's connection to every child.

Log appends are serialized across processes by ``BEGIN IMMEDIATE`` (the database write lock). Within one
process, concurrent ``append_log`` calls are merged by ``GroupCommit`` into one transaction with one fsync,
each call inside its own SAVEPOINT so that one call's conflict undoes that call only. Status list writes
(``allocate_status``, ``change_status``) are grouped the same way, in a group of their own.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from did_service.errors import ConfigurationError, LogHalted, StoreConflict, StoreUnavailable
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
    StatusAllocation,
    StatusChange,
    StatusListRecord,
    TenantRecord,
    TokenRecord,
    TrustRecord,
    VerifierTransaction,
    check_account,
    check_enrollment_code,
    check_resident,
    check_resident_status,
    check_session,
    check_transaction,
    check_version,
    rate_window,
    sealed_is_due,
    session_ends,
    without_due_sealed,
)
from did_service.storage.shared import (
    GroupCommit,
    Outcome,
    ProcessGroups,
    candidate_shares,
    check_allocation,
    check_appends,
    check_checkpoint,
    check_rotation,
    check_status_change,
    clamp_int64,
)
# One definition of the W3C bit layout (most significant bit first) for the store and the verifier.
from did_service.core.status_list import get_bit, set_bit

SCHEMA_VERSION = 2
_BUSY_TIMEOUT_MS = 10_000


_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"

_SCHEMA = (
    """CREATE TABLE log_leaves (
        idx INTEGER PRIMARY KEY,
        leaf_hash BLOB NOT NULL,
        entry BLOB NOT NULL
    )""",
    "CREATE INDEX log_leaves_by_hash ON log_leaves (leaf_hash)",
    """CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID""",
    """CREATE TABLE checkpoints (
        size INTEGER PRIMARY KEY,
        root_hash BLOB NOT NULL,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        encrypted_private_key BLOB NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        purpose TEXT NOT NULL,
        retired_at TEXT,
        log_index INTEGER REFERENCES log_leaves (idx),
        retired_log_index INTEGER REFERENCES log_leaves (idx)
    )""",
    """CREATE TABLE tokens (
        token_id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    # Keyed by leaf index, so rows are appended in order, and the two lookups by random keys (id, digest) are the
    # only indexes: each index is one more page, hence one more WAL frame, per commit.
    """CREATE TABLE credentials (
        credential_id TEXT NOT NULL UNIQUE,
        credential_type TEXT NOT NULL,
        format TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        issuer_kid TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT,
        extra TEXT NOT NULL,
        leaf_index INTEGER PRIMARY KEY REFERENCES log_leaves (idx)
    )""",
)

# Status lists (W3C Bitstring Status List). Added to schema version 2 without a bump: these are new tables only,
# created when missing (IF NOT EXISTS), so a version-2 database written before them gains them when opened.
# The bits live in a table of their own: an UPDATE rewrites the whole row, and the allocation counter changes
# with every credential issued, which must not rewrite a 16 KiB bitstring each time.
_STATUS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS status_lists (
        list_id TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        size INTEGER NOT NULL,
        allocated INTEGER NOT NULL,
        version INTEGER NOT NULL,
        published TEXT,
        published_version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS status_bits (
        list_id TEXT PRIMARY KEY REFERENCES status_lists (list_id),
        bits BLOB NOT NULL
    )""",
    # The list each purpose allocates from until it is full.
    """CREATE TABLE IF NOT EXISTS status_open (
        purpose TEXT PRIMARY KEY,
        list_id TEXT NOT NULL REFERENCES status_lists (list_id)
    )""",
    """CREATE TABLE IF NOT EXISTS status_allocations (
        list_id TEXT NOT NULL REFERENCES status_lists (list_id),
        idx INTEGER NOT NULL,
        PRIMARY KEY (list_id, idx)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS status_history (
        list_id TEXT NOT NULL REFERENCES status_lists (list_id),
        idx INTEGER NOT NULL,
        leaf_index INTEGER NOT NULL REFERENCES log_leaves (idx),
        PRIMARY KEY (list_id, idx, leaf_index)
    ) WITHOUT ROWID""",
)

_TRUST_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS trust (
        credential_type TEXT NOT NULL,
        issuer TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (credential_type, issuer)
    ) WITHOUT ROWID""",
)

# Verifier tenants, their API keys (only hashes) and the rate limiter's counters: one row per bucket, holding
# the latest window it counted in.
_TENANT_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tenants (
        tenant_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
        key_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, created_at, key_id)",
    """CREATE TABLE IF NOT EXISTS rate_counters (
        bucket TEXT PRIMARY KEY,
        window_index INTEGER NOT NULL,
        count INTEGER NOT NULL
    ) WITHOUT ROWID""",
)
_RATE_EXPIRY_INDEX = "CREATE INDEX IF NOT EXISTS rate_counters_by_expiry ON rate_counters (expires_at)"

# Verifier transactions (OpenID4VP presentation requests). The UNIQUE nonce makes a nonce belong to one stored
# transaction; purge_transactions walks the purge_at index, list_transactions the per-tenant one.
_VERIFIER_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS verifier_transactions (
        request_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        policy TEXT NOT NULL,
        nonce TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        purge_at TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        details TEXT NOT NULL,
        sealed BLOB NOT NULL,
        sealed_until TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS verifier_transactions_by_purge_at ON verifier_transactions (purge_at)",
    "CREATE INDEX IF NOT EXISTS verifier_transactions_by_tenant"
    " ON verifier_transactions (tenant_id, created_at, request_id)",
)
# What drop_expired_sealed walks: only rows still holding sealed data with a time limit are in it. Created after
# _add_sealed_until, since a table made by an older release has no such column yet.
_SEALED_DUE = "sealed_until IS NOT NULL AND length(sealed) > 0"
_VERIFIER_SEALED_INDEX = (
    "CREATE INDEX IF NOT EXISTS verifier_transactions_by_sealed_until"
    f" ON verifier_transactions (sealed_until) WHERE {_SEALED_DUE}"
)

# The resident portal: residents imported from the registry (personal data only sealed; the RRN only as a keyed
# HMAC, unique), their one-time enrollment codes (only hashes), accounts and login sessions (only hashes).
# New tables in schema version 2, created when missing like the ones above. A session's ends_at is when it ends
# by either timeout (the earlier of absolute_expires_at and last_seen_at + idle_seconds), kept in step by
# touch_session: get_session compares it with now, purge_sessions walks its index.
_RESIDENT_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS residents (
        resident_id TEXT PRIMARY KEY,
        sealed BLOB NOT NULL,
        rrn_index TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        status_changed_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS residents_by_created_at ON residents (created_at, resident_id)",
    """CREATE TABLE IF NOT EXISTS enrollment_codes (
        code_hash TEXT PRIMARY KEY,
        resident_id TEXT NOT NULL REFERENCES residents (resident_id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS enrollment_codes_by_resident ON enrollment_codes (resident_id)",
    """CREATE TABLE IF NOT EXISTS accounts (
        subject TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        totp_sealed BLOB NOT NULL,
        disabled_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_hash TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        idle_seconds INTEGER NOT NULL,
        absolute_expires_at TEXT NOT NULL,
        ends_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (subject)",
    "CREATE INDEX IF NOT EXISTS sessions_by_ends_at ON sessions (ends_at)",
)

# The lowest unallocated index of a list: 0, or the first allocated index whose successor is free. Both parts
# walk the primary key in order, so the first row found is the lowest.
_FIRST_FREE_INDEX = """
SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM status_allocations WHERE list_id = :list_id AND idx = 0)
UNION ALL
SELECT a.idx + 1 FROM status_allocations AS a
WHERE a.list_id = :list_id AND a.idx + 1 < :size
  AND NOT EXISTS (SELECT 1 FROM status_allocations AS b WHERE b.list_id = :list_id AND b.idx = a.idx + 1)
LIMIT 1
"""

_KEY_COLUMNS = (
    "kid, alg, public_jwk, encrypted_private_key, created_at, status, purpose, retired_at, log_index, retired_log_index"
)
_TOKEN_COLUMNS = "token_id, token_hash, role, created_at, revoked_at"
_TENANT_COLUMNS = "tenant_id, name, role, created_at"
_API_KEY_COLUMNS = "key_id, tenant_id, key_hash, created_at, revoked_at"
_CREDENTIAL_COLUMNS = (
    "credential_id, credential_type, format, digest, issuer_kid, issued_at, valid_from, valid_until, extra, leaf_index"
)
_CHECKPOINT_COLUMNS = "size, root_hash, note, created_at"
_TRANSACTION_COLUMNS = (
    "request_id, tenant_id, policy, nonce, state, created_at, expires_at, purge_at, status, version, details, sealed,"
    " sealed_until"
)
_RESIDENT_COLUMNS = "resident_id, sealed, rrn_index, created_at, status"
_ACCOUNT_COLUMNS = "subject, password_hash, created_at, totp_sealed, disabled_at"
_SESSION_COLUMNS = "session_hash, subject, created_at, last_seen_at, idle_seconds, absolute_expires_at"
_HALTED = "log_halted"  # meta row: JSON {reason, at}; present while the log is halted
# The next leaf index and whether the log is halted, in one statement. MAX over the rowid is a seek to the last
# row, not a scan. Read inside a write transaction, it stays true until COMMIT: no other connection can write.
_LOG_STATE = (
    "SELECT (SELECT COALESCE(MAX(idx) + 1, 0) FROM log_leaves),"
    f" EXISTS (SELECT 1 FROM meta WHERE name = '{_HALTED}')"
)

# All requested ids travel as one JSON parameter, so any number of them is one statement (bound parameters are
# capped at 32766). Level 0 is answered from the leaves: leaf hashes are stored once.
_READ_NODES = """
WITH wanted (level, idx) AS (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)
)
SELECT w.level, w.idx, l.leaf_hash FROM wanted AS w JOIN log_leaves AS l ON l.idx = w.idx WHERE w.level = 0
UNION ALL
SELECT w.level, w.idx, n.hash FROM wanted AS w JOIN log_nodes AS n ON n.level = w.level AND n.idx = w.idx
"""


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
    # log_index and retired_log_index are the store's to set; the caller's values are not taken.
    return (
        r.kid, r.alg, _dump_json(r.public_jwk), r.encrypted_private_key, _to_iso(r.created_at), r.status, r.purpose,
        _opt_iso(r.retired_at),
    )


def _key_from_row(row: tuple) -> KeyRecord:
    kid, alg, jwk, private, created_at, status, purpose, retired_at, log_index, retired_log_index = row
    return KeyRecord(
        kid, alg, json.loads(jwk), bytes(private), _from_iso(created_at), status, purpose, _opt_from_iso(retired_at),
        log_index, retired_log_index,
    )


def _token_from_row(row: tuple) -> TokenRecord:
    token_id, token_hash, role, created_at, revoked_at = row
    return TokenRecord(token_id, token_hash, role, _from_iso(created_at), _opt_from_iso(revoked_at))


def _tenant_from_row(row: tuple) -> TenantRecord:
    tenant_id, name, role, created_at = row
    return TenantRecord(tenant_id, name, role, _from_iso(created_at))


def _api_key_from_row(row: tuple) -> ApiKeyRecord:
    key_id, tenant_id, key_hash, created_at, revoked_at = row
    return ApiKeyRecord(key_id, tenant_id, key_hash, _from_iso(created_at), _opt_from_iso(revoked_at))


def _credential_row(r: CredentialRecord) -> tuple:
    """Every column but leaf_index, which the append decides."""
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
    cid, ctype, fmt, digest, kid, issued_at, valid_from, valid_until, extra, leaf_index = row
    return CredentialRecord(
        cid, ctype, fmt, digest, kid, _from_iso(issued_at), _from_iso(valid_from), _opt_from_iso(valid_until),
        json.loads(extra), leaf_index,
    )


def _checkpoint_from_row(row: tuple) -> CheckpointRecord:
    size, root_hash, note, created_at = row
    return CheckpointRecord(size, bytes(root_hash), note, _from_iso(created_at))


def _fixed_of(r: VerifierTransaction) -> tuple:
    """The columns a swap never changes, after request_id, as stored."""
    return (
        r.tenant_id, r.policy, r.nonce, r.state, _to_iso(r.created_at), _to_iso(r.expires_at), _to_iso(r.purge_at),
    )


def _transaction_from_row(row: tuple, now: datetime) -> VerifierTransaction:
    (request_id, tenant_id, policy, nonce, state, created_at, expires_at, purge_at, status, version, details, sealed,
     sealed_until) = row
    record = VerifierTransaction(
        request_id, tenant_id, policy, nonce, state, _from_iso(created_at), _from_iso(expires_at),
        _from_iso(purge_at), status, version, json.loads(details), bytes(sealed), _opt_from_iso(sealed_until),
    )
    return without_due_sealed(record, now)


def _resident_from_row(row: tuple) -> ResidentRecord:
    resident_id, sealed, rrn_index, created_at, status = row
    return ResidentRecord(resident_id, bytes(sealed), rrn_index, _from_iso(created_at), status)


def _account_from_row(row: tuple) -> AccountRecord:
    subject, password_hash, created_at, totp_sealed, disabled_at = row
    return AccountRecord(subject, password_hash, _from_iso(created_at), bytes(totp_sealed), _opt_from_iso(disabled_at))


def _session_from_row(row: tuple) -> SessionRecord:
    session_hash, subject, created_at, last_seen_at, idle_seconds, absolute_expires_at = row
    return SessionRecord(
        session_hash, subject, _from_iso(created_at), _from_iso(last_seen_at), idle_seconds,
        _from_iso(absolute_expires_at),
    )


def _add_sealed_until(conn: sqlite3.Connection) -> None:
    """The sealed_until column, for a verifier_transactions table created before it existed (the release that
    added verifier transactions, same schema version), then its index."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(verifier_transactions)")}
    if "sealed_until" not in columns:
        conn.execute("ALTER TABLE verifier_transactions ADD COLUMN sealed_until TEXT")
    conn.execute(_VERIFIER_SEALED_INDEX)


def _epoch_seconds(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: the store needs timezone-aware times")
    return int(moment.timestamp())


def _add_rate_expiry(conn: sqlite3.Connection) -> None:
    """When each counter's window ends (epoch seconds), so purge_rate_counters can find the finished ones; a
    counter written before the column existed has none and is purged at once (its window is long over)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(rate_counters)")}
    if "expires_at" not in columns:
        conn.execute("ALTER TABLE rate_counters ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0")
    conn.execute(_RATE_EXPIRY_INDEX)


# --- the store ----------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _AppendRows:
    leaves: list[tuple[bytes, bytes]]  # (leaf_hash, entry)
    credentials: list[tuple | None]  # _credential_row or None, one per leaf


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        # Keyed by pid too: after a fork the child finds its parent's entries here and must leave them alone
        # (closing them in the child is as unsafe as using them).
        self._connections: dict[tuple[int, int], sqlite3.Connection] = {}
        # One group per process, for the same reason: a fork may copy a group mid-commit.
        self._groups = ProcessGroups(self._commit_appends)  # one per process: a fork may copy a group mid-commit
        self._status_groups = ProcessGroups(self._commit_status)
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
            conn.execute(_META)
            row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            # The version is read before anything is created: CREATE TABLE IF NOT EXISTS would leave an older
            # database's tables as they are and only fail later, on a missing column.
            if row is None:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            if row is None or row[0] == str(SCHEMA_VERSION):
                for statement in (
                    *_STATUS_SCHEMA, *_TRUST_SCHEMA, *_TENANT_SCHEMA, *_VERIFIER_SCHEMA, *_RESIDENT_SCHEMA
                ):
                    conn.execute(statement)
                _add_sealed_until(conn)
                _add_rate_expiry(conn)
        found = str(SCHEMA_VERSION) if row is None else row[0]
        if found != str(SCHEMA_VERSION):
            raise ConfigurationError(f"The SQLite database has schema version {found}; expected {SCHEMA_VERSION}")
        self._schema_ready = True

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so read-then-write units (add_keys_if_none, appends) cannot
        # interleave with another writer and fail late with SQLITE_BUSY. It is also what serializes appends
        # across processes.
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

    def _group(self) -> GroupCommit:
        return self._groups.get()

    @property
    def commits(self) -> int:
        """append_log transactions committed by this process (fewer than calls when group commit merges them)."""
        return self._group().commits

    # -- log helpers (inside a write transaction) ----------------------------------------------------------

    @staticmethod
    def _append_leaves(conn: sqlite3.Connection, leaves: Sequence[tuple[bytes, bytes]]) -> int:
        """Append after the last leaf; return the first new index. Refuses while the log is halted."""
        start, halted = conn.execute(_LOG_STATE).fetchone()
        if halted:
            raise LogHalted()
        conn.executemany(
            "INSERT INTO log_leaves (idx, leaf_hash, entry) VALUES (?, ?, ?)",
            [(start + i, leaf_hash, entry) for i, (leaf_hash, entry) in enumerate(leaves)],
        )
        return start

    @staticmethod
    def _insert_calls(conn: sqlite3.Connection, start: int, calls: Sequence[_AppendRows]) -> None:
        """The rows of ``calls`` in order from leaf ``start``: one statement per table, however many calls."""
        leaves, credentials = [], []
        index = start
        for rows in calls:
            for (leaf_hash, entry), credential in zip(rows.leaves, rows.credentials):
                leaves.append((index, leaf_hash, entry))
                if credential is not None:
                    credentials.append((*credential, index))
                index += 1
        conn.executemany("INSERT INTO log_leaves (idx, leaf_hash, entry) VALUES (?, ?, ?)", leaves)
        if credentials:
            conn.executemany(
                f"INSERT INTO credentials ({_CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", credentials
            )

    def _commit_appends(self, batch: list[_AppendRows]) -> list[Outcome]:
        with self._write() as conn:
            start, halted = conn.execute(_LOG_STATE).fetchone()
            if halted:
                return [(None, LogHalted()) for _ in batch]
            # Statements cost more than rows here (each one hands the GIL to the other threads and waits to get
            # it back), so the whole group is first tried as one insert per table. That is the same as running
            # the calls one after another when none of them conflicts; if one does, the attempt is undone and
            # the calls run one by one, each in its own SAVEPOINT, so that the failing one fails alone.
            conn.execute("SAVEPOINT append_group")
            try:
                self._insert_calls(conn, start, batch)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK TO append_group")
                outcomes = self._append_one_by_one(conn, start, batch)
            else:
                outcomes = []
                for rows in batch:
                    outcomes.append((list(range(start, start + len(rows.leaves))), None))
                    start += len(rows.leaves)
            conn.execute("RELEASE append_group")
        return outcomes  # only now, after COMMIT: no caller hears of a write that is not durable

    def _append_one_by_one(self, conn: sqlite3.Connection, start: int, batch: list[_AppendRows]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for rows in batch:
            conn.execute("SAVEPOINT append_call")
            try:
                self._insert_calls(conn, start, [rows])
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK TO append_call")
                conflict = StoreConflict("A credential id or digest exists or repeats in the batch")
                conflict.__cause__ = exc
                outcomes.append((None, conflict))
            else:
                outcomes.append((list(range(start, start + len(rows.leaves))), None))
                start += len(rows.leaves)
            conn.execute("RELEASE append_call")
        return outcomes

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

    # keys

    def add_keys_if_none(self, records: Sequence[KeyRecord], entries: Sequence[LogAppend] = ()) -> list[KeyRecord]:
        if entries and len(entries) != len(records):
            raise ValueError("entries must be empty or one per key record")
        check_appends(entries)
        rows = [_key_row(r) for r in records]
        with self._write() as conn:
            if rows and conn.execute("SELECT 1 FROM signing_keys LIMIT 1").fetchone() is None:
                start = self._append_leaves(conn, [(e.leaf_hash, e.entry) for e in entries]) if entries else None
                conn.executemany(
                    f"INSERT INTO signing_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [(*row, None if start is None else start + i) for i, row in enumerate(rows)],
                )
            stored = conn.execute(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid").fetchall()
        return [_key_from_row(row) for row in stored]

    def list_keys(self) -> list[KeyRecord]:
        rows = self._read(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid")
        return [_key_from_row(row) for row in rows]

    def rotate_keys(
        self,
        new: Sequence[KeyRecord],
        retire: Sequence[str],
        added_entries: Sequence[LogAppend],
        retired_entries: Sequence[LogAppend],
        at: datetime,
    ) -> list[KeyRecord]:
        check_rotation(new, retire, added_entries, retired_entries)
        rows = [_key_row(r) for r in new]
        retired_at = _to_iso(at)
        with self._write() as conn:
            start = self._append_leaves(conn, [(e.leaf_hash, e.entry) for e in [*added_entries, *retired_entries]])
            conn.executemany(
                f"INSERT INTO signing_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [(*row, start + i) for i, row in enumerate(rows)],
            )
            for i, kid in enumerate(retire):
                cursor = conn.execute(
                    "UPDATE signing_keys SET status = 'retired', retired_at = ?, retired_log_index = ?"
                    " WHERE kid = ? AND status = 'active'",
                    (retired_at, start + len(rows) + i, kid),
                )
                if cursor.rowcount == 0:
                    raise StoreConflict("A key to retire is not an active key")  # rolls the whole unit back
            stored = conn.execute(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid").fetchall()
        return [_key_from_row(row) for row in stored]

    # tokens

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

    # trust registry

    def add_trust(self, record: TrustRecord) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO trust (credential_type, issuer, added_at) VALUES (?, ?, ?)",
                (record.credential_type, record.issuer, _to_iso(record.added_at)),
            )
            return cursor.rowcount == 1

    def remove_trust(self, issuer: str, credential_type: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM trust WHERE credential_type = ? AND issuer = ?", (credential_type, issuer))
            return cursor.rowcount == 1

    def list_trust(self) -> list[TrustRecord]:
        rows = self._read("SELECT issuer, credential_type, added_at FROM trust ORDER BY credential_type, issuer")
        return [TrustRecord(issuer, credential_type, _from_iso(added_at)) for issuer, credential_type, added_at in rows]

    # verifier tenants and API keys

    def add_tenant(self, record: TenantRecord) -> None:
        r = record
        with self._write() as conn:
            conn.execute(f"INSERT INTO tenants ({_TENANT_COLUMNS}) VALUES (?, ?, ?, ?)",
                         (r.tenant_id, r.name, r.role, _to_iso(r.created_at)))

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        rows = self._read(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE tenant_id = ?", (tenant_id,))
        return _tenant_from_row(rows[0]) if rows else None

    def list_tenants(self) -> list[TenantRecord]:
        rows = self._read(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY created_at, tenant_id")
        return [_tenant_from_row(row) for row in rows]

    def add_api_key(self, record: ApiKeyRecord) -> None:
        r = record
        row = (r.key_id, r.tenant_id, r.key_hash, _to_iso(r.created_at), _opt_iso(r.revoked_at))
        # The foreign key refuses a key for an unknown tenant with an IntegrityError, i.e. StoreConflict.
        with self._write() as conn:
            conn.execute(f"INSERT INTO api_keys ({_API_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?)", row)

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self._read(f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
        return _api_key_from_row(rows[0]) if rows else None

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        revoked_at = _to_iso(at)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?", (revoked_at, key_id)
            )
            return cursor.rowcount > 0

    def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        rows = self._read(
            f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, key_id", (tenant_id,)
        )
        return [_api_key_from_row(row) for row in rows]

    # verifier transactions

    def add_transaction(self, record: VerifierTransaction) -> None:
        r = record
        details = check_transaction(r)
        # The version is the store's to set. A taken request_id or nonce is an IntegrityError, i.e. StoreConflict.
        row = (r.request_id, *_fixed_of(r), r.status, 0, details, r.sealed, _opt_iso(r.sealed_until))
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO verifier_transactions ({_TRANSACTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def get_transaction(self, request_id: str, now: datetime) -> VerifierTransaction | None:
        rows = self._read(
            f"SELECT {_TRANSACTION_COLUMNS} FROM verifier_transactions WHERE request_id = ? AND purge_at > ?",
            (request_id, _to_iso(now)),
        )
        return _transaction_from_row(rows[0], now) if rows else None

    def swap_transaction(
        self, record: VerifierTransaction, expected_version: int, now: datetime
    ) -> VerifierTransaction | None:
        r = record
        details = check_transaction(r)
        check_version(expected_version, now)
        fixed, moment = _fixed_of(r), _to_iso(now)
        # Sealed data already past its time is not written at all.
        sealed, sealed_until = (b"", None) if sealed_is_due(r, now) else (r.sealed, _opt_iso(r.sealed_until))
        # Compare and write under the IMMEDIATE lock: no other thread or process swaps between the two.
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_TRANSACTION_COLUMNS} FROM verifier_transactions WHERE request_id = ? AND purge_at > ?",
                (r.request_id, moment),
            ).fetchone()
            if row is None:
                return None
            if tuple(row[1:8]) != fixed:
                raise ValueError("a swap may change a transaction's status, details, sealed data and sealed_until only")
            if row[9] != expected_version:
                return None
            conn.execute(
                "UPDATE verifier_transactions SET status = ?, version = ?, details = ?, sealed = ?, sealed_until = ?"
                " WHERE request_id = ?",
                (r.status, expected_version + 1, details, sealed, sealed_until, r.request_id),
            )
            row = conn.execute(
                f"SELECT {_TRANSACTION_COLUMNS} FROM verifier_transactions WHERE request_id = ?", (r.request_id,)
            ).fetchone()
        return _transaction_from_row(row, now)

    def purge_transactions(self, now: datetime, limit: int = 1000) -> int:
        moment = _to_iso(now)
        if limit <= 0:
            return 0
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM verifier_transactions WHERE request_id IN (SELECT request_id FROM verifier_transactions"
                " WHERE purge_at <= ? ORDER BY purge_at LIMIT ?)",
                (moment, clamp_int64(limit)),
            )
            return cursor.rowcount

    def drop_expired_sealed(self, now: datetime, limit: int = 1000) -> int:
        moment = _to_iso(now)
        if limit <= 0:
            return 0  # LIMIT with a negative count means "all"
        # One statement under the write lock: each row is cleared once, and its version moves with it.
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE verifier_transactions SET sealed = x'', sealed_until = NULL, version = version + 1"
                " WHERE request_id IN (SELECT request_id FROM verifier_transactions"
                f" WHERE {_SEALED_DUE} AND sealed_until <= ? ORDER BY sealed_until LIMIT ?)",
                (moment, clamp_int64(limit)),
            )
            return cursor.rowcount

    def list_transactions(self, tenant_id: str, now: datetime, limit: int = 100) -> list[VerifierTransaction]:
        moment = _to_iso(now)
        if limit <= 0:
            return []  # LIMIT with a negative count means "all"
        rows = self._read(
            f"SELECT {_TRANSACTION_COLUMNS} FROM verifier_transactions WHERE tenant_id = ? AND purge_at > ?"
            " ORDER BY created_at DESC, request_id DESC LIMIT ?",
            (tenant_id, moment, clamp_int64(limit)),
        )
        return [_transaction_from_row(row, now) for row in rows]

    # residents, enrollment codes, accounts and sessions

    def add_residents(self, records: Sequence[ResidentRecord]) -> None:
        for r in records:
            check_resident(r)
        rows = [(r.resident_id, r.sealed, r.rrn_index, _to_iso(r.created_at), r.status) for r in records]
        if not rows:
            return
        # One transaction: a taken or repeated resident_id or rrn_index is an IntegrityError (StoreConflict) that
        # rolls the whole batch back.
        with self._write() as conn:
            conn.executemany(f"INSERT INTO residents ({_RESIDENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)", rows)

    def get_resident(self, resident_id: str) -> ResidentRecord | None:
        rows = self._read(f"SELECT {_RESIDENT_COLUMNS} FROM residents WHERE resident_id = ?", (resident_id,))
        return _resident_from_row(rows[0]) if rows else None

    def find_resident_by_rrn_index(self, rrn_index: str) -> ResidentRecord | None:
        rows = self._read(f"SELECT {_RESIDENT_COLUMNS} FROM residents WHERE rrn_index = ?", (rrn_index,))
        return _resident_from_row(rows[0]) if rows else None

    def list_residents(self, limit: int = 100, after: str | None = None) -> list[ResidentRecord]:
        if limit <= 0:
            return []  # LIMIT with a negative count means "all"
        if after is None:
            rows = self._read(
                f"SELECT {_RESIDENT_COLUMNS} FROM residents ORDER BY created_at, resident_id LIMIT ?",
                (clamp_int64(limit),),
            )
        else:
            # The page starts after the (created_at, resident_id) of ``after``; an unknown ``after`` joins nothing.
            columns = ", ".join(f"r.{column}" for column in _RESIDENT_COLUMNS.split(", "))
            rows = self._read(
                f"SELECT {columns} FROM residents AS r"
                " JOIN (SELECT created_at, resident_id FROM residents WHERE resident_id = ?) AS a"
                " ON (r.created_at, r.resident_id) > (a.created_at, a.resident_id)"
                " ORDER BY r.created_at, r.resident_id LIMIT ?",
                (after, clamp_int64(limit)),
            )
        return [_resident_from_row(row) for row in rows]

    def set_resident_status(self, resident_id: str, status: str, at: datetime) -> bool:
        check_resident_status(status)
        changed_at = _to_iso(at)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM residents WHERE resident_id = ?", (resident_id,)).fetchone() is None:
                return False
            conn.execute(
                "UPDATE residents SET status = ?, status_changed_at = ? WHERE resident_id = ? AND status != ?",
                (status, changed_at, resident_id, status),
            )
            return True

    def add_enrollment_code(self, record: EnrollmentCodeRecord) -> None:
        r = record
        check_enrollment_code(r)
        row = (r.code_hash, r.resident_id, _to_iso(r.created_at), _to_iso(r.expires_at), _opt_iso(r.used_at))
        # A taken code_hash, or (through the foreign key) an unknown resident, is an IntegrityError: StoreConflict.
        with self._write() as conn:
            conn.execute(
                "INSERT INTO enrollment_codes (code_hash, resident_id, created_at, expires_at, used_at)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )

    def consume_enrollment_code(self, code_hash: str, now: datetime) -> str | None:
        moment = _to_iso(now)
        # Check and mark under the IMMEDIATE lock: no other thread or process consumes between the two.
        with self._write() as conn:
            row = conn.execute(
                "SELECT c.resident_id FROM enrollment_codes AS c JOIN residents AS r USING (resident_id)"
                " WHERE c.code_hash = ? AND c.used_at IS NULL AND c.expires_at > ? AND r.status = 'active'",
                (code_hash, moment),
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE enrollment_codes SET used_at = ? WHERE code_hash = ?", (moment, code_hash))
            return row[0]

    def add_account(self, record: AccountRecord) -> None:
        r = record
        check_account(r)
        row = (r.subject, r.password_hash, _to_iso(r.created_at), r.totp_sealed, _opt_iso(r.disabled_at))
        with self._write() as conn:
            conn.execute(f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?)", row)

    def get_account(self, subject: str) -> AccountRecord | None:
        rows = self._read(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE subject = ?", (subject,))
        return _account_from_row(rows[0]) if rows else None

    def set_password(self, subject: str, password_hash: str) -> bool:
        if not isinstance(password_hash, str):
            raise ValueError("a password hash must be a string")
        with self._write() as conn:
            cursor = conn.execute("UPDATE accounts SET password_hash = ? WHERE subject = ?", (password_hash, subject))
            return cursor.rowcount > 0

    def disable_account(self, subject: str, at: datetime) -> bool:
        disabled_at = _to_iso(at)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE accounts SET disabled_at = COALESCE(disabled_at, ?) WHERE subject = ?", (disabled_at, subject)
            )
            if cursor.rowcount == 0:
                return False
            conn.execute("DELETE FROM sessions WHERE subject = ?", (subject,))
            return True

    def add_session(self, record: SessionRecord) -> None:
        r = record
        ends_at = check_session(r)
        row = (r.session_hash, r.subject, _to_iso(r.created_at), _to_iso(r.last_seen_at), r.idle_seconds,
               _to_iso(r.absolute_expires_at), _to_iso(ends_at))
        with self._write() as conn:
            # Under the write lock: a disable_account cannot land between this check and the insert.
            disabled = conn.execute(
                "SELECT 1 FROM accounts WHERE subject = ? AND disabled_at IS NOT NULL", (r.subject,)
            ).fetchone()
            if disabled is not None:
                raise StoreConflict("The subject's account is disabled")
            conn.execute(f"INSERT INTO sessions ({_SESSION_COLUMNS}, ends_at) VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def get_session(self, session_hash: str, now: datetime) -> SessionRecord | None:
        rows = self._read(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_hash = ? AND ends_at > ?",
            (session_hash, _to_iso(now)),
        )
        return _session_from_row(rows[0]) if rows else None

    def touch_session(self, session_hash: str, now: datetime) -> bool:
        moment = _to_iso(now)
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_hash = ? AND ends_at > ?",
                (session_hash, moment),
            ).fetchone()
            if row is None:
                return False
            session = _session_from_row(row)
            if now > session.last_seen_at:  # only forward in time
                ends_at = session_ends(now, session.idle_seconds, session.absolute_expires_at)
                conn.execute(
                    "UPDATE sessions SET last_seen_at = ?, ends_at = ? WHERE session_hash = ?",
                    (moment, _to_iso(ends_at), session_hash),
                )
            return True

    def delete_session(self, session_hash: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM sessions WHERE session_hash = ?", (session_hash,)).rowcount > 0

    def delete_sessions_of(self, subject: str) -> int:
        with self._write() as conn:
            return conn.execute("DELETE FROM sessions WHERE subject = ?", (subject,)).rowcount

    def purge_sessions(self, now: datetime, limit: int = 1000) -> int:
        moment = _to_iso(now)
        if limit <= 0:
            return 0  # LIMIT with a negative count means "all"
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM sessions WHERE session_hash IN (SELECT session_hash FROM sessions"
                " WHERE ends_at <= ? ORDER BY ends_at LIMIT ?)",
                (moment, clamp_int64(limit)),
            )
            return cursor.rowcount

    # rate limiting

    def take_rate_token(self, bucket: str, limit: int, window_seconds: int, now: datetime) -> bool:
        window = rate_window(bucket, limit, window_seconds, now)
        # Read and write under the IMMEDIATE lock: no other process counts between them. A caller whose clock
        # is behind the bucket's latest window counts in that window (never resets it: fail closed).
        with self._write() as conn:
            row = conn.execute("SELECT window_index, count FROM rate_counters WHERE bucket = ?", (bucket,)).fetchone()
            if row is not None and row[0] >= window:
                window, count = row[0], row[1]
            else:
                count = 0
            if count >= limit:
                return False
            conn.execute(
                "INSERT INTO rate_counters (bucket, window_index, count, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (bucket) DO UPDATE SET window_index = excluded.window_index, count = excluded.count, "
                "expires_at = excluded.expires_at",
                (bucket, window, count + 1, (window + 1) * window_seconds),
            )
            return True

    def purge_rate_counters(self, now: datetime, limit: int = 10000) -> int:
        moment = _epoch_seconds(now)
        if limit <= 0:
            return 0
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM rate_counters WHERE bucket IN "
                "(SELECT bucket FROM rate_counters WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
                (moment, limit),
            ).rowcount

    # credentials

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        rows = self._read(
            f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials WHERE credential_id = ?", (credential_id,)
        )
        return _credential_from_row(rows[0]) if rows else None

    def get_credential_by_digest(self, digest: str) -> CredentialRecord | None:
        rows = self._read(f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials WHERE digest = ?", (digest,))
        return _credential_from_row(rows[0]) if rows else None

    # transparency log

    def append_log(self, appends: Sequence[LogAppend]) -> list[int]:
        if not appends:
            return []
        check_appends(appends)
        # Rows are built (and naive datetimes refused) in the caller's thread, before joining a group.
        rows = _AppendRows(
            [(a.leaf_hash, a.entry) for a in appends],
            [None if a.credential is None else _credential_row(a.credential) for a in appends],
        )
        return self._group().submit(rows)

    def log_size(self) -> int:
        ((size, _),) = self._read(_LOG_STATE)
        return size

    def read_leaves(self, start: int, end: int) -> list[LogLeaf]:
        if start < 0:
            raise ValueError("start must not be negative")
        rows = self._read(
            "SELECT idx, entry, leaf_hash FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
            (clamp_int64(start), clamp_int64(end)),
        )
        return [LogLeaf(idx, bytes(entry), bytes(leaf_hash)) for idx, entry, leaf_hash in rows]

    def read_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        if not ids:
            return {}
        wanted = json.dumps([[int(level), int(index)] for level, index in ids])
        rows = self._read(_READ_NODES, (wanted,))
        return {(level, index): bytes(value) for level, index, value in rows}

    def find_leaf_index(self, leaf_hash: bytes) -> int | None:
        rows = self._read("SELECT idx FROM log_leaves WHERE leaf_hash = ? ORDER BY idx LIMIT 1", (leaf_hash,))
        return rows[0][0] if rows else None

    def latest_checkpoint(self) -> CheckpointRecord | None:
        rows = self._read(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY size DESC LIMIT 1")
        return _checkpoint_from_row(rows[0]) if rows else None

    def list_checkpoints(self, after_size: int = -1, limit: int = 1000) -> list[CheckpointRecord]:
        if limit <= 0:
            return []
        rows = self._read(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE size > ? ORDER BY size LIMIT ?",
            (clamp_int64(after_size), clamp_int64(limit)),
        )
        return [_checkpoint_from_row(row) for row in rows]

    def add_checkpoint(
        self, checkpoint: CheckpointRecord, nodes: Mapping[NodeId, bytes], previous_size: int | None
    ) -> bool:
        check_checkpoint(checkpoint, nodes, previous_size)
        row = (checkpoint.size, checkpoint.root_hash, checkpoint.note, _to_iso(checkpoint.created_at))
        with self._write() as conn:
            (latest,) = conn.execute("SELECT MAX(size) FROM checkpoints").fetchone()
            size, halted = conn.execute(_LOG_STATE).fetchone()
            # A halt by any process also stops a publisher that checked before the halt landed.
            if halted or latest != previous_size or checkpoint.size > size:
                return False
            # Level 0 is the leaf hash, stored with the leaf: it is checked below, not stored twice.
            conn.executemany(
                "INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?) ON CONFLICT (level, idx) DO NOTHING",
                [(level, index, value) for (level, index), value in nodes.items() if level > 0],
            )
            if nodes:
                # Stored hashes never change: a node already stored (or a leaf) with another hash is refused, not
                # replaced, and the whole unit is rolled back.
                stored = conn.execute(_READ_NODES, (json.dumps([list(node) for node in nodes]),)).fetchall()
                if any(nodes[(level, index)] != value for level, index, value in stored):
                    raise StoreConflict("A subtree hash differs from the one stored")
            conn.execute(f"INSERT INTO checkpoints ({_CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?)", row)
        return True

    def halt_log(self, reason: str, at: datetime) -> None:
        value = json.dumps({"reason": reason, "at": _to_iso(at)})
        with self._write() as conn:
            # OR IGNORE keeps the first reason: the first failure is the one to investigate.
            conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (_HALTED, value))

    def log_halted(self) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE name = ?", (_HALTED,))
        return json.loads(rows[0][0])["reason"] if rows else None

    def resume_log(self) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM meta WHERE name = ?", (_HALTED,))

    # status lists

    def _commit_status(self, batch: list[Callable[[sqlite3.Connection], Any]]) -> list[Outcome]:
        """One transaction (one fsync) for a group of status writes, each in its own SAVEPOINT: a call that fails
        undoes its own writes only. The calls run in queue order, each seeing the writes of those before it."""
        outcomes: list[Outcome] = []
        with self._write() as conn:
            for work in batch:
                conn.execute("SAVEPOINT status_call")
                try:
                    result = work(conn)
                except sqlite3.OperationalError:
                    raise  # the database failed, not the call: the whole group fails (StoreUnavailable)
                except Exception as exc:  # noqa: BLE001 - reported to its own caller, undone alone
                    conn.execute("ROLLBACK TO status_call")
                    if isinstance(exc, sqlite3.IntegrityError):
                        conflict = StoreConflict("The status write conflicts with a stored record")
                        conflict.__cause__ = exc
                        exc = conflict
                    outcomes.append((None, exc))
                else:
                    outcomes.append((result, None))
                conn.execute("RELEASE status_call")
        return outcomes  # only now, after COMMIT

    def allocate_status(
        self, purposes: Sequence[str], list_size: int, candidates: Sequence[int]
    ) -> list[StatusAllocation]:
        check_allocation(purposes, list_size, candidates)
        purposes, candidates = list(purposes), list(candidates)

        def work(conn: sqlite3.Connection) -> list[StatusAllocation]:
            return [
                self._allocate_one(conn, purpose, list_size, share)
                for purpose, share in zip(purposes, candidate_shares(candidates, len(purposes)))
            ]

        return self._status_groups.get().submit(work)

    @staticmethod
    def _allocate_one(conn: sqlite3.Connection, purpose: str, list_size: int, candidates: list[int]) -> StatusAllocation:
        row = conn.execute(
            "SELECT l.list_id, l.size, l.allocated FROM status_open AS o JOIN status_lists AS l USING (list_id)"
            " WHERE o.purpose = ?",
            (purpose,),
        ).fetchone()
        if row is not None and row[2] < row[1]:
            list_id, size = row[0], row[1]
        else:
            # None open yet, or the open one is full: a new list, all zero bits, version 0. list_size applies to
            # new lists only; an open list keeps the size it was created with.
            list_id, size = secrets.token_hex(8), list_size
            conn.execute(
                "INSERT INTO status_lists (list_id, purpose, size, allocated, version, published, published_version)"
                " VALUES (?, ?, ?, 0, 0, NULL, -1)",
                (list_id, purpose, size),
            )
            conn.execute("INSERT INTO status_bits (list_id, bits) VALUES (?, zeroblob(?))", (list_id, size // 8))
            conn.execute(
                "INSERT INTO status_open (purpose, list_id) VALUES (?, ?)"
                " ON CONFLICT (purpose) DO UPDATE SET list_id = excluded.list_id",
                (purpose, list_id),
            )
        usable = [c for c in candidates if c < size]
        taken = {
            idx for (idx,) in conn.execute(
                "SELECT idx FROM status_allocations WHERE list_id = ? AND idx IN (SELECT value FROM json_each(?))",
                (list_id, json.dumps(usable)),
            )
        }
        index = next((c for c in usable if c not in taken), None)
        if index is None:
            # Every candidate is taken: the lowest free index (the list is not full, so there is one).
            (index,) = conn.execute(_FIRST_FREE_INDEX, {"list_id": list_id, "size": size}).fetchone()
        conn.execute("INSERT INTO status_allocations (list_id, idx) VALUES (?, ?)", (list_id, index))
        conn.execute("UPDATE status_lists SET allocated = allocated + 1 WHERE list_id = ?", (list_id,))
        return StatusAllocation(list_id, purpose, index)

    def change_status(self, list_id: str, index: int, value: int, entry: LogAppend) -> StatusChange:
        check_status_change(list_id, index, value, entry)
        leaf = (entry.leaf_hash, entry.entry)

        def work(conn: sqlite3.Connection) -> StatusChange:
            row = conn.execute(
                "SELECT l.purpose, l.size, b.bits FROM status_lists AS l JOIN status_bits AS b USING (list_id)"
                " WHERE list_id = ?",
                (list_id,),
            ).fetchone()
            if row is None:
                raise ValueError("unknown status list")
            purpose, size, bits = row
            if index >= size:
                raise ValueError("the status index is outside the list")
            current = get_bit(bits, index)
            if current == value:
                return StatusChange(False, None)
            if purpose == "revocation" and value == 0:
                raise StoreConflict("A revocation is permanent")
            leaf_index = self._append_leaves(conn, [leaf])  # LogHalted while halted; undone with the savepoint
            new_bits = bytearray(bits)
            set_bit(new_bits, index, value)
            conn.execute("UPDATE status_bits SET bits = ? WHERE list_id = ?", (bytes(new_bits), list_id))
            conn.execute("UPDATE status_lists SET version = version + 1 WHERE list_id = ?", (list_id,))
            conn.execute(
                "INSERT INTO status_history (list_id, idx, leaf_index) VALUES (?, ?, ?)", (list_id, index, leaf_index)
            )
            return StatusChange(True, leaf_index)

        return self._status_groups.get().submit(work)

    def get_status_list(self, list_id: str) -> StatusListRecord | None:
        rows = self._read(
            "SELECT l.list_id, l.purpose, l.size, b.bits, l.version, l.published, l.published_version"
            " FROM status_lists AS l JOIN status_bits AS b USING (list_id) WHERE list_id = ?",
            (list_id,),
        )
        if not rows:
            return None
        list_id, purpose, size, bits, version, published, published_version = rows[0]
        return StatusListRecord(list_id, purpose, size, bytes(bits), version, published, published_version)

    def publish_status_list(self, list_id: str, version: int, credential: str) -> bool:
        if not isinstance(credential, str) or isinstance(version, bool) or not isinstance(version, int):
            raise ValueError("publishing needs an integer version and the credential as text")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE status_lists SET published = ?, published_version = ?"
                " WHERE list_id = ? AND published_version < ? AND version >= ?",
                (credential, clamp_int64(version), list_id, clamp_int64(version), clamp_int64(version)),
            )
            return cursor.rowcount > 0

    def status_history(self, list_id: str, index: int) -> list[int]:
        rows = self._read(
            "SELECT leaf_index FROM status_history WHERE list_id = ? AND idx = ? ORDER BY leaf_index",
            (list_id, clamp_int64(index)),
        )
        return [leaf_index for (leaf_index,) in rows]
