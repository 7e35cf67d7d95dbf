"""The storage contract.

Every write method is one atomic unit of work: it either writes everything it was given or nothing
(Redis has no rollback, so the Redis store does its multi-key writes in Lua scripts). Implementations raise
``StoreUnavailable`` when the backend cannot be reached and ``StoreConflict`` when a write would break a
uniqueness rule; they never return half-written state.

Datetimes must be timezone-aware (a naive one raises ValueError before anything is written); they come back
as timezone-aware UTC datetimes equal to the instants stored, with microsecond precision.

Records hold identifiers, digests and public material only; personal data never reaches the store through
these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class KeyRecord:
    """An issuer signing key. The private key is stored only encrypted (see core.keys)."""

    kid: str  # verification method fragment, e.g. "key-ed25519-1"
    alg: str  # "EdDSA" | "ES256"
    public_jwk: dict
    encrypted_private_key: bytes
    created_at: datetime
    status: str = "active"  # "active" | "retired"


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


@runtime_checkable
class Store(Protocol):
    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers."""

    def close(self) -> None: ...

    def durability_problem(self) -> str | None:
        """Why an acknowledged write might not survive a crash of the backend; None when it will."""

    # keys
    def add_keys_if_none(self, records: Sequence[KeyRecord]) -> list[KeyRecord]:
        """Atomically store ``records`` if the store holds no key yet; return the keys now stored.

        Several processes starting at once all get the same key set back. A batch that would be written but
        repeats a kid raises StoreConflict.
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

    # credentials
    def add_credentials(self, records: Sequence[CredentialRecord]) -> None:
        """Store all records or none; StoreConflict if any credential_id exists or repeats. Empty is a no-op."""

    def get_credential(self, credential_id: str) -> CredentialRecord | None: ...
