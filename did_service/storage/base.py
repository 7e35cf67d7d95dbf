"""The storage contract.

Every write method is one atomic unit of work: it either writes everything it was given or nothing
(Redis has no rollback, so the Redis store does its multi-key writes in Lua scripts). Implementations raise
``StoreUnavailable`` when the backend cannot be reached and ``StoreConflict`` when a write would break a
uniqueness rule; they never return half-written state.

Datetimes must be timezone-aware (a naive one raises ValueError before anything is written); they come back
as timezone-aware UTC datetimes equal to the instants stored, with microsecond precision.

Records hold identifiers, digests and public material only; personal data never reaches the store through
these records, except as ``VerifierTransaction.sealed`` and ``ResidentRecord.sealed`` (and an account's
``totp_sealed``), which the service encrypts before they reach the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Mapping, Protocol, Sequence, runtime_checkable

NodeId = tuple[int, int]  # (level, index): the hash of leaves [index * 2**level, (index + 1) * 2**level)


@dataclass(frozen=True)
class KeyRecord:
    """An issuer signing key. The private key is stored only encrypted (see core.keys)."""

    kid: str  # verification method fragment, e.g. "key-ed25519-1"
    alg: str  # "EdDSA" | "ES256"
    public_jwk: dict
    encrypted_private_key: bytes
    created_at: datetime
    status: str = "active"  # "active" | "retired"
    purpose: str = "issuer"  # "issuer" (signs credentials) | "log" (signs checkpoints)
    retired_at: datetime | None = None
    # Set by the store: leaf indexes of the key's "added" and "retired" log entries (None when not logged).
    log_index: int | None = None
    retired_log_index: int | None = None


@dataclass(frozen=True)
class TokenRecord:
    """An API bearer token. Only the SHA-256 of the token is stored."""

    token_id: str
    token_hash: str  # hex SHA-256 of the token string
    role: str  # "issuer" | "admin"
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class CredentialRecord:
    """What the issuer remembers about a credential it issued: no claims, only ids and a digest."""

    credential_id: str
    credential_type: str
    format: str  # "vc+jwt"
    digest: str  # hex SHA-256 of the secured credential exactly as returned
    issuer_kid: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None = None
    extra: dict = field(default_factory=dict)
    leaf_index: int | None = None  # set by the store: the leaf of its "issued" log entry


@dataclass(frozen=True)
class LogAppend:
    """One log entry to append; a credential record, when given, is written in the same unit of work."""

    entry: bytes  # canonical (RFC 8785) entry bytes
    leaf_hash: bytes  # RFC 9162 leaf hash of ``entry``, computed by the caller (Lua cannot hash SHA-256)
    credential: CredentialRecord | None = None


@dataclass(frozen=True)
class LogLeaf:
    index: int
    entry: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class CheckpointRecord:
    size: int
    root_hash: bytes
    note: str  # the signed note exactly as published
    created_at: datetime


@dataclass(frozen=True)
class StatusAllocation:
    """A reserved position in a Bitstring Status List."""

    list_id: str  # short id; the list credential is served at /status/<list_id>
    purpose: str  # "revocation" | "suspension"
    index: int


@dataclass(frozen=True)
class StatusListRecord:
    list_id: str
    purpose: str
    size: int  # number of entries (bits)
    bits: bytes  # size / 8 bytes, most significant bit first (bit i = byte i // 8, mask 0x80 >> i % 8)
    version: int  # incremented by every change of a bit
    published: str | None = None  # the signed list credential for ``published_version``
    published_version: int = -1


@dataclass(frozen=True)
class StatusChange:
    changed: bool  # False: the bit already had the value; nothing was written
    leaf_index: int | None  # the log leaf of the status entry when changed


@dataclass(frozen=True)
class TrustRecord:
    """A verifier's decision to trust an issuer (a DID) for one credential type."""

    issuer: str
    credential_type: str
    added_at: datetime


TENANT_ROLES = ("financial-institution", "general")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def rate_window(bucket: str, limit: int, window_seconds: int, now: datetime) -> int:
    """The fixed window ``now`` falls in, after checking take_rate_token's arguments (ValueError)."""
    if not isinstance(bucket, str) or not bucket:
        raise ValueError("a rate bucket must be a non-empty string")
    for value in (limit, window_seconds):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("limit and window_seconds must be positive integers")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime: the store needs timezone-aware times")
    return ((now - _EPOCH) // timedelta(seconds=1)) // window_seconds


@dataclass(frozen=True)
class TenantRecord:
    """A verifier tenant: a bank or other relying party that calls the verifier API with its own API keys."""

    tenant_id: str
    name: str  # an organisation's display name, not personal data
    role: str  # "financial-institution" | "general" (what the tenant may be shown)
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    """A tenant's API key. Only the SHA-256 of the key string is stored."""

    key_id: str
    tenant_id: str
    key_hash: str  # hex SHA-256 of the key string
    created_at: datetime
    revoked_at: datetime | None = None


TRANSACTION_STATUSES = ("pending", "responded")


@dataclass(frozen=True)
class VerifierTransaction:
    """One presentation request of a verifier tenant (OpenID4VP), from creation to decision.

    ``details`` is a JSON object the service owns (requested claim names, evidence, the decision record and its
    receipt): the store keeps it as given and never reads it. ``sealed`` is personal data encrypted by the service
    (AES-GCM), opaque bytes to the store. The record is deleted once ``purge_at`` has passed (retention).

    ``sealed_until``, when set, is when the sealed data stops existing: from that instant on (sealed_until <= now)
    the store hands out ``sealed`` as b"" and ``sealed_until`` as None, and drop_expired_sealed erases the stored
    bytes. A swap may set, move or clear it. A record with empty ``sealed`` may carry any sealed_until.
    """

    request_id: str
    tenant_id: str
    policy: str
    nonce: str
    state: str
    created_at: datetime
    expires_at: datetime  # the wallet must answer before this
    purge_at: datetime  # the record is gone after this
    status: str = "pending"  # "pending" | "responded"
    version: int = 0  # set by the store: 0 when added, +1 per successful swap
    details: dict = field(default_factory=dict)
    sealed: bytes = b""
    sealed_until: datetime | None = None  # the sealed data is gone from this instant on; None: kept until purge_at


def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: the store needs timezone-aware times")
    return value


def check_transaction(record: VerifierTransaction) -> str:
    """The record's details as canonical JSON text, after checking what add_transaction and swap_transaction
    refuse (ValueError, raised before anything is written)."""
    for value in (record.request_id, record.tenant_id, record.policy, record.nonce, record.state):
        if not isinstance(value, str):
            raise ValueError("a transaction's ids, policy, nonce and state must be strings")
    for value in (record.created_at, record.expires_at, record.purge_at):
        _aware(value)
    if record.sealed_until is not None:
        _aware(record.sealed_until)
    if record.status not in TRANSACTION_STATUSES:
        raise ValueError(f"a transaction's status must be one of {', '.join(TRANSACTION_STATUSES)}")
    if not isinstance(record.sealed, bytes):
        raise ValueError("a transaction's sealed data must be bytes")
    if not isinstance(record.details, dict):
        raise ValueError("a transaction's details must be a JSON object (a dict)")
    try:
        text = json.dumps(record.details, separators=(",", ":"), sort_keys=True, allow_nan=False)
        exact = json.loads(text) == record.details
    except (TypeError, ValueError, RecursionError):
        exact = False
    # A tuple, a non-string key, NaN, or an object json cannot encode would come back as something else.
    if not exact:
        raise ValueError("a transaction's details must round-trip through JSON exactly")
    return text


def sealed_is_due(record: VerifierTransaction, now: datetime) -> bool:
    """Whether the record's sealed data is gone at ``now`` (sealed_until <= now)."""
    return record.sealed_until is not None and record.sealed_until <= _aware(now)


def without_due_sealed(record: VerifierTransaction, now: datetime) -> VerifierTransaction:
    """The record as the store hands it out at ``now``: once sealed_until <= now, with sealed b"" and
    sealed_until None, whatever bytes are still stored until drop_expired_sealed erases them."""
    if sealed_is_due(record, now):
        return replace(record, sealed=b"", sealed_until=None)
    return record


def check_version(expected_version: int, now: datetime) -> None:
    """swap_transaction's other arguments (ValueError)."""
    if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
        raise ValueError("the expected version must be a non-negative integer")
    _aware(now)


RESIDENT_STATUSES = ("active", "disabled")


@dataclass(frozen=True)
class ResidentRecord:
    """A resident imported from the registry. Personal data lives only in ``sealed`` (AES-GCM by the service)."""

    resident_id: str
    sealed: bytes  # opaque to the store
    rrn_index: str  # keyed HMAC of the RRN (by the service): finds a resident imported twice; unique
    created_at: datetime
    status: str = "active"  # "active" | "disabled"


@dataclass(frozen=True)
class EnrollmentCodeRecord:
    """A one-time code on a resident's enrollment letter. Only the SHA-256 of the code is stored."""

    code_hash: str  # hex SHA-256 of the one-time code
    resident_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class AccountRecord:
    """A resident's (or operator's) login. ``subject`` is "resident:<id>" or "operator:<id>"."""

    subject: str
    password_hash: str  # argon2id encoded string
    created_at: datetime
    totp_sealed: bytes = b""  # the TOTP secret, sealed by the service; b"" when none is set up
    disabled_at: datetime | None = None


@dataclass(frozen=True)
class SessionRecord:
    """A login session. The cookie holds the session id; the store only its hash."""

    session_hash: str  # hex SHA-256 of the session id
    subject: str
    created_at: datetime
    last_seen_at: datetime
    idle_seconds: int  # the session ends after this long without use
    absolute_expires_at: datetime


def _check_strings(what: str, *values: object) -> None:
    if any(not isinstance(value, str) for value in values):
        raise ValueError(f"{what} must be strings")


def check_resident(record: ResidentRecord) -> None:
    """What add_residents refuses (ValueError, raised before anything is written)."""
    _check_strings("a resident's id and RRN index", record.resident_id, record.rrn_index)
    if not isinstance(record.sealed, bytes):
        raise ValueError("a resident's sealed data must be bytes")
    check_resident_status(record.status)
    _aware(record.created_at)


def check_resident_status(status: str) -> None:
    if status not in RESIDENT_STATUSES:
        raise ValueError(f"a resident's status must be one of {', '.join(RESIDENT_STATUSES)}")


def check_enrollment_code(record: EnrollmentCodeRecord) -> None:
    """What add_enrollment_code refuses (ValueError, raised before anything is written)."""
    _check_strings("an enrollment code's hash and resident id", record.code_hash, record.resident_id)
    _aware(record.created_at)
    _aware(record.expires_at)
    if record.used_at is not None:
        _aware(record.used_at)


def check_account(record: AccountRecord) -> None:
    """What add_account refuses (ValueError, raised before anything is written)."""
    _check_strings("an account's subject and password hash", record.subject, record.password_hash)
    if not isinstance(record.totp_sealed, bytes):
        raise ValueError("an account's sealed TOTP secret must be bytes")
    _aware(record.created_at)
    if record.disabled_at is not None:
        _aware(record.disabled_at)


def check_session(record: SessionRecord) -> datetime:
    """When the session ends (session_ends), after checking what add_session refuses (ValueError, raised before
    anything is written)."""
    _check_strings("a session's hash and subject", record.session_hash, record.subject)
    idle = record.idle_seconds
    if isinstance(idle, bool) or not isinstance(idle, int) or idle < 1:
        raise ValueError("a session's idle_seconds must be a positive integer")
    _aware(record.created_at)
    return session_ends(record.last_seen_at, idle, record.absolute_expires_at)


def session_ends(last_seen_at: datetime, idle_seconds: int, absolute_expires_at: datetime) -> datetime:
    """The first instant at which the session is over: the earlier of its absolute expiry and ``idle_seconds``
    after it was last seen. A session is live at ``now`` exactly when now < session_ends(...)."""
    _aware(last_seen_at)
    _aware(absolute_expires_at)
    try:
        idle_end = last_seen_at + timedelta(seconds=idle_seconds)
    except OverflowError:  # past year 9999: the absolute expiry comes first
        return absolute_expires_at
    return min(idle_end, absolute_expires_at)


@runtime_checkable
class Store(Protocol):
    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers."""

    def close(self) -> None: ...

    def durability_problem(self) -> str | None:
        """Why an acknowledged write might not survive a crash of the backend; None when it will."""

    # keys
    def add_keys_if_none(self, records: Sequence[KeyRecord], entries: Sequence[LogAppend] = ()) -> list[KeyRecord]:
        """Atomically store ``records`` if the store holds no key yet, appending ``entries`` (one per record, same
        order; each record's log_index is its entry's index); return the keys now stored.

        Several processes starting at once all get the same key set back. A batch that would be written but
        repeats a kid raises StoreConflict. ``entries`` must be empty or as long as ``records`` (ValueError). A batch
        that would append entries while the log is halted raises LogHalted; without entries the halt does not
        apply. The records' own log_index / retired_log_index values are ignored: the store sets them.
        """

    def list_keys(self) -> list[KeyRecord]:
        """All keys, oldest first (created_at, then kid)."""

    # tokens
    def add_token(self, record: TokenRecord) -> None:
        """StoreConflict if the token_id or token_hash exists."""

    def find_token(self, token_hash: str) -> TokenRecord | None: ...

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Mark revoked (keeping the first revocation time); False if no such token."""

    def list_tokens(self) -> list[TokenRecord]:
        """All tokens, oldest first (created_at, then token_id)."""

    # trust registry
    def add_trust(self, record: TrustRecord) -> bool:
        """Trust ``record.issuer`` for ``record.credential_type``; False (nothing written) if it already is."""

    def remove_trust(self, issuer: str, credential_type: str) -> bool:
        """False if the issuer was not trusted for the type."""

    def list_trust(self) -> list[TrustRecord]:
        """Every entry, by credential type, then issuer."""

    # verifier tenants and their API keys
    def add_tenant(self, record: TenantRecord) -> None:
        """StoreConflict if the tenant_id exists."""

    def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...

    def list_tenants(self) -> list[TenantRecord]:
        """All tenants, oldest first (created_at, then tenant_id)."""

    def add_api_key(self, record: ApiKeyRecord) -> None:
        """StoreConflict (nothing written) if the key_id or key_hash exists, or if the tenant does not exist."""

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        """Mark revoked (keeping the first revocation time); False if no such key."""

    def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        """The tenant's keys, oldest first (created_at, then key_id); [] for an unknown tenant."""

    # verifier transactions (OpenID4VP presentation requests)
    def add_transaction(self, record: VerifierTransaction) -> None:
        """StoreConflict (nothing written) if the request_id exists, or if the nonce is already used by another
        stored transaction (nonces are unique across all transactions and tenants). The stored version is 0 whatever
        the record says; sealed and sealed_until are stored as given. ValueError (nothing written) for a naive
        datetime (sealed_until included, unless None), a status other than "pending" / "responded", details that
        are not a dict round-tripping through JSON exactly (nested dicts, lists, str, int, finite float, bool,
        None), sealed data that is not bytes, or ids, policy, nonce or state that are not strings. Redis also
        deletes the record by itself once purge_at has passed by its own clock (key expiry)."""

    def get_transaction(self, request_id: str, now: datetime) -> VerifierTransaction | None:
        """None if unknown or if purge_at <= now: a record past its retention is never returned, even while it
        is not deleted yet. Once sealed_until <= now, the record comes back with sealed b"" and sealed_until None,
        even while drop_expired_sealed has not erased the stored bytes yet."""

    def swap_transaction(
        self, record: VerifierTransaction, expected_version: int, now: datetime
    ) -> VerifierTransaction | None:
        """Compare and swap: replace the stored transaction's status, details, sealed data and sealed_until with
        ``record``'s only if its stored version is ``expected_version`` and purge_at > now; return the stored
        record, whose version is then expected_version + 1 (as get_transaction would at ``now``: without sealed
        data once sealed_until <= now; a record whose sealed_until <= now is stored with sealed b"" and
        sealed_until None). Otherwise (unknown, purged, or another version) return None and write nothing. Of
        concurrent swaps from one version, in any threads or processes, exactly one succeeds: that is what makes
        a nonce single-use.

        request_id names the record; tenant_id, policy, nonce, state, created_at, expires_at and purge_at never
        change: a stored, unpurged record whose values differ raises ValueError (nothing written), whatever its
        version. The record's own version is ignored. ValueError also as add_transaction checks the record, and
        unless expected_version is a non-negative int."""

    def purge_transactions(self, now: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` transactions with purge_at <= now (earliest first); return how many were
        deleted. Redis counts a transaction whose key it already expired by itself: this removes what is left of
        it (its index entries)."""

    def drop_expired_sealed(self, now: datetime, limit: int = 1000) -> int:
        """Erase the sealed data of up to ``limit`` transactions with sealed_until <= now and non-empty sealed
        data (earliest sealed_until first), whether or not they are past purge_at: each becomes sealed b"" and
        sealed_until None, and its version goes up by one, so that a swap from the version read before fails
        (returns None) instead of writing the old sealed data back. Each record is cleared atomically; of
        concurrent calls, each record is cleared and counted once. Return how many were cleared (0 when none is
        due, or when limit <= 0). Nothing else is changed: a record with empty sealed data keeps its
        sealed_until and version. ValueError for a naive ``now``. Redis also removes, uncounted, the index
        entries of transactions whose keys it already expired by itself."""

    def list_transactions(self, tenant_id: str, now: datetime, limit: int = 100) -> list[VerifierTransaction]:
        """The tenant's transactions with purge_at > now, newest first (created_at, then request_id, both
        descending), at most ``limit``; without sealed data once sealed_until <= now, as get_transaction."""

    # rate limiting
    def take_rate_token(self, bucket: str, limit: int, window_seconds: int, now: datetime) -> bool:
        """Count one request against ``bucket``; False (nothing counted) when the window already holds ``limit``.

        Fixed windows: ``now`` falls in window floor(epoch seconds / window_seconds), so a bucket allows at most
        ``limit`` takes per aligned window of ``window_seconds`` (a burst across a window boundary can reach
        2 * limit within one window's length). The check and the count are one atomic unit across threads and
        processes: of N concurrent takes in one window, exactly min(N, limit) succeed. Buckets are independent.
        A backend that cannot count raises StoreUnavailable; callers must then refuse the request (fail closed).
        Counters may be counted high, never low (a retried call after a lost reply may count twice).
        ValueError unless ``limit`` and ``window_seconds`` are positive ints and ``bucket`` is non-empty."""

    def purge_rate_counters(self, now: datetime, limit: int = 10000) -> int:
        """Delete up to ``limit`` counters whose window ended at or before ``now``; return how many. Counters carry
        keyed hashes, not what was counted, but every spent nonce and every login ID tried leaves one, so they
        must not pile up. Redis expires each counter with its window by itself and answers 0. ValueError for a
        naive ``now``."""

    # credentials (written only through append_log, so every credential is anchored)

    def get_credential(self, credential_id: str) -> CredentialRecord | None: ...

    def get_credential_by_digest(self, digest: str) -> CredentialRecord | None: ...

    # transparency log
    def append_log(self, appends: Sequence[LogAppend]) -> list[int]:
        """Append the entries at contiguous leaf indexes, in order, with their credential records; return the indexes.

        One atomic unit across processes: no gaps, no duplicate indexes. LogHalted (nothing written) while the log
        is halted; StoreConflict (nothing written) if a credential id or digest exists or repeats. Empty: [].
        ValueError (nothing written) if a leaf hash is not 32 bytes. A credential's leaf_index is set by the store.
        Returns only once the unit is durable; concurrent calls may share one commit (group commit), each call
        still all-or-nothing on its own.
        """

    def log_size(self) -> int: ...

    def read_leaves(self, start: int, end: int) -> list[LogLeaf]:
        """Leaves [start, min(end, size)) in index order ([] when end <= start); ValueError if start < 0."""

    def read_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """One batched read of stored hashes. Level 0 is the leaf hash; levels >= 1 exist for complete subtrees
        sealed by add_checkpoint. Ids not stored are absent from the result."""

    def find_leaf_index(self, leaf_hash: bytes) -> int | None:
        """The first leaf with this leaf hash."""

    def latest_checkpoint(self) -> CheckpointRecord | None: ...

    def list_checkpoints(self, after_size: int = -1, limit: int = 1000) -> list[CheckpointRecord]:
        """Checkpoints with size > after_size, ascending by size, at most ``limit``."""

    def add_checkpoint(
        self, checkpoint: CheckpointRecord, nodes: Mapping[NodeId, bytes], previous_size: int | None
    ) -> bool:
        """Store the newly complete subtree nodes and the checkpoint in one unit, only if the log is not halted, the
        latest checkpoint's size is ``previous_size`` (None: there is none yet) and checkpoint.size <= log_size();
        otherwise write nothing and return False (another writer sealed first, or the log was halted). Checkpoint sizes strictly increase.

        ValueError (nothing written) if checkpoint.size <= previous_size or a node is not a complete subtree within
        checkpoint.size ((index + 1) * 2**level <= size). Level-0 items (leaf hashes, as core.tlog's
        complete_new_nodes returns them) are checked against the stored leaves, not stored twice. Stored hashes
        never change: a node or leaf stored with a different hash raises StoreConflict (nothing written)."""

    def halt_log(self, reason: str, at: datetime) -> None:
        """Stop appends (append_log, rotate_keys raise LogHalted) until resume_log; the first reason is kept."""

    def log_halted(self) -> str | None: ...

    def resume_log(self) -> None: ...

    def rotate_keys(
        self,
        new: Sequence[KeyRecord],
        retire: Sequence[str],
        added_entries: Sequence[LogAppend],
        retired_entries: Sequence[LogAppend],
        at: datetime,
    ) -> list[KeyRecord]:
        """In one unit: add ``new`` keys and append one entry per new key (in order), then mark each kid in ``retire``
        retired at ``at`` and append one entry per retired kid; set log_index / retired_log_index. StoreConflict if a
        new kid exists or a retired kid is not an active key (a kid added by the same call may be retired by it; one
        retired twice conflicts); LogHalted while halted; nothing written in either case. ValueError unless there is
        exactly one entry per new key and per retired kid. Returns all keys."""

    # status lists (W3C Bitstring Status List)
    def allocate_status(
        self, purposes: Sequence[str], list_size: int, candidates: Sequence[int]
    ) -> list[StatusAllocation]:
        """Reserve one unused index per purpose, atomically, in that purpose's open list (a new list is opened,
        with a fresh random list_id, when it is full). ``candidates`` are random indexes chosen by the caller from
        ``secrets``, split evenly among the allocations in order (shared.candidate_shares): each takes the first of
        its share unused in the list, and only if none is, any unused index (the lowest). Two callers, in any threads or processes, never get the same (list, index). One allocation per
        purpose, in the order given. ``list_size`` is the size of lists opened by this call; an open list keeps the
        size it was created with (a candidate beyond it is skipped). A new list has all bits 0, version 0 and
        nothing published. Allocation writes no log entry. ValueError (nothing written) unless ``purposes`` are
        distinct values of "revocation" / "suspension" (at least one), ``list_size`` is a multiple of 8 in
        [8, 2**27], and ``candidates`` is a non-empty sequence of ints in [0, list_size)."""

    def change_status(self, list_id: str, index: int, value: int, entry: LogAppend) -> StatusChange:
        """Set bit ``index`` of the list to ``value`` (0 or 1) and append ``entry`` to the log in one unit, bumping
        the list's version. Already ``value``: StatusChange(False, None) and nothing is written. Clearing a set bit of
        a ``revocation`` list: StoreConflict (revocation is permanent). An unknown list or an index outside it:
        ValueError, nothing written. LogHalted while the log is halted. Checked in that order: a call that would
        change nothing answers StatusChange(False, None) even while the log is halted.

        ``entry`` is appended exactly as append_log would (next contiguous leaf index, the same halted check); it
        carries no credential record (ValueError otherwise, as for a leaf hash that is not 32 bytes). Its leaf index
        is returned and recorded in the position's history (status_history). Concurrent calls on one list never
        lose an update."""

    def get_status_list(self, list_id: str) -> StatusListRecord | None: ...

    def publish_status_list(self, list_id: str, version: int, credential: str) -> bool:
        """Store ``credential`` (the list credential signed over the bits of ``version``) if ``version`` is newer than
        the published one and not newer than the list's current version; False (nothing written) otherwise, and
        for an unknown list."""

    def status_history(self, list_id: str, index: int) -> list[int]:
        """Leaf indexes of the status entries appended for this position, oldest first ([] when there are none or
        the list is unknown)."""

    # residents (the registry), enrollment codes, accounts and sessions of the resident portal
    def add_residents(self, records: Sequence[ResidentRecord]) -> None:
        """Store the residents, all or nothing. StoreConflict (nothing written) if a resident_id or rrn_index is
        already stored or repeats within the batch. ValueError (nothing written) for a status other than
        "active" / "disabled", a naive datetime, sealed data that is not bytes, or ids that are not strings.
        An empty batch writes nothing."""

    def get_resident(self, resident_id: str) -> ResidentRecord | None: ...

    def find_resident_by_rrn_index(self, rrn_index: str) -> ResidentRecord | None: ...

    def list_residents(self, limit: int = 100, after: str | None = None) -> list[ResidentRecord]:
        """Residents oldest first (created_at, then resident_id), at most ``limit`` ([] when limit <= 0).
        Keyset pagination: ``after`` is the resident_id of the last resident of the previous page, and the page
        starts right after it; an ``after`` naming no stored resident gives []."""

    def set_resident_status(self, resident_id: str, status: str, at: datetime) -> bool:
        """Set the resident's status ("active" / "disabled"); False (nothing written) if there is no such
        resident. ``at`` is when the change was made (kept with the status, not part of the record). A disabled
        resident's enrollment codes cannot be consumed; the resident's account and sessions are the service's to
        end. ValueError for another status or a naive ``at``."""

    def add_enrollment_code(self, record: EnrollmentCodeRecord) -> None:
        """StoreConflict (nothing written) if the code_hash exists or the resident is unknown. A resident may hold
        several codes (a re-issued letter): adding one leaves the older ones as they are. ValueError for a naive
        datetime or ids that are not strings. Redis also deletes the code by itself once expires_at has passed by
        its own clock (key expiry)."""

    def consume_enrollment_code(self, code_hash: str, now: datetime) -> str | None:
        """Mark the code used at ``now`` and return its resident_id, only if the code exists, is unused,
        expires_at > now and the resident's status is "active"; otherwise return None and write nothing. Of
        concurrent consumers of one code, in any threads or processes, exactly one gets the resident_id."""

    def add_account(self, record: AccountRecord) -> None:
        """StoreConflict (nothing written) if the subject has an account. ValueError for a naive datetime, a
        sealed TOTP secret that is not bytes, or a subject or password hash that is not a string."""

    def get_account(self, subject: str) -> AccountRecord | None:
        """The account, disabled or not."""

    def set_password(self, subject: str, password_hash: str) -> bool:
        """Replace the password hash; False (nothing written) if the subject has no account. Sessions are kept (the
        service ends them with delete_sessions_of if it should). ValueError unless the hash is a string."""

    def disable_account(self, subject: str, at: datetime) -> bool:
        """Mark the account disabled (keeping the first disabled_at) and delete all the subject's sessions, in one
        unit; False (nothing written) if the subject has no account. A disabled account gets no new session
        (add_session), so no session can outlive the disabling."""

    def add_session(self, record: SessionRecord) -> None:
        """StoreConflict (nothing written) if the session_hash exists, or if the subject's account is disabled (a
        subject without an account may hold sessions). ValueError for a naive datetime, idle_seconds that is not
        a positive int, or a hash or subject that is not a string. Redis also deletes the session by itself once
        it has ended by its own clock (key expiry)."""

    def get_session(self, session_hash: str, now: datetime) -> SessionRecord | None:
        """None if unknown or ended at ``now``: now >= absolute_expires_at, or now - last_seen_at >= idle_seconds.
        An ended session is never returned, even while it is not deleted yet."""

    def touch_session(self, session_hash: str, now: datetime) -> bool:
        """Record a use at ``now``: last_seen_at becomes ``now`` if that is later (it never moves back), which
        pushes the idle timeout; never the absolute one. False (nothing written) if the session is unknown or has
        ended at ``now`` by either timeout: an ended session cannot be revived."""

    def delete_session(self, session_hash: str) -> bool:
        """False if there was no such session."""

    def delete_sessions_of(self, subject: str) -> int:
        """Delete all the subject's sessions in one unit; return how many were deleted. Ended sessions not purged
        yet count too (Redis does not count those it already deleted by itself)."""

    def purge_sessions(self, now: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` sessions that have ended at ``now`` (earliest end first); return how many (0 when
        limit <= 0). Redis counts a session whose key it already expired by itself: this removes what is left of
        it (its index entries). Of concurrent purges, each session is deleted and counted once."""
