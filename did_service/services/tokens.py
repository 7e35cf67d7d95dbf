"""API bearer tokens: `dsv1.<id>.<secret>`; only the SHA-256 of the whole token is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from did_service.errors import Forbidden, NotFound, Unauthorized
from did_service.storage.base import Store, TokenRecord

ROLES = ("issuer", "admin")
# Which roles satisfy a required role: an admin may do what an issuer may.
_GRANTS = {"issuer": {"issuer", "admin"}, "admin": {"admin"}}
PREFIX = "dsv1"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(store: Store, role: str, now: datetime) -> tuple[str, TokenRecord]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}.{token_id}.{secrets.token_urlsafe(32)}"
    record = TokenRecord(token_id=token_id, token_hash=token_hash(token), role=role, created_at=now)
    store.add_token(record)
    return token, record


def token_id_of(token_or_id: str, prefix: str = PREFIX) -> str:
    """The id inside `<prefix>.<id>.<secret>`, or the argument itself when it is already an id."""
    parts = token_or_id.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == prefix else token_or_id


def revoke_token(store: Store, token_or_id: str, now: datetime) -> None:
    if not store.revoke_token(token_id_of(token_or_id), now):
        raise NotFound("no such token", code="token_not_found")


def authenticate(store: Store, authorization: str | None, required_role: str) -> TokenRecord:
    """The token record behind an `Authorization: Bearer` header, or Unauthorized/Forbidden."""
    if not authorization:
        raise Unauthorized("a bearer token is required", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise Unauthorized("the Authorization header must be `Bearer <token>`", code="invalid_token")
    record = store.find_token(token_hash(token))
    # compare_digest: the lookup is by hash already; this keeps the final equality constant-time too.
    if record is None or not hmac.compare_digest(record.token_hash, token_hash(token)):
        raise Unauthorized("the token is not valid", code="invalid_token")
    if record.revoked_at is not None:
        raise Unauthorized("the token has been revoked", code="token_revoked")
    if record.role not in _GRANTS[required_role]:
        raise Forbidden(f"this action needs the {required_role} role", code="insufficient_role")
    return record
