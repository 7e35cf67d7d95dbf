"""Verifier tenants (banks and other relying parties) and their API keys, with a per-key rate limit.

A key is `dsvk1.<key_id>.<secret>`; only the SHA-256 of the whole key is stored and a request's key is found by
looking its hash up. Keys are sent only as `Authorization: Bearer <key>`.

The rate limit is counted in the store (shared by every worker and process): fixed one-minute windows aligned
to the epoch, per key. When the store cannot count, StoreUnavailable (503) propagates: the request is refused,
never let through unlimited.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
from datetime import datetime, timedelta, timezone

from did_service.errors import NotFound, RateLimited, Unauthorized, Unprocessable
from did_service.services.tokens import token_hash, token_id_of
from did_service.storage.base import TENANT_ROLES, ApiKeyRecord, Store, TenantRecord

ROLES = TENANT_ROLES
PREFIX = "dsvk1"
NAME_MAX = 200
RATE_WINDOW_SECONDS = 60
_KEY_ID_BYTES = 8
_SECRET_BYTES = 32
# dsvk1.<16 hex>.<43 base64url>: anything else is refused before a store lookup.
_KEY_FORMAT = re.compile(rf"{PREFIX}\.([0-9a-f]{{{2 * _KEY_ID_BYTES}}})\.[A-Za-z0-9_-]{{43}}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# Keys are hashed and read like the operators' tokens; only the prefix differs.
key_hash = token_hash


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX or _CONTROL.search(name):
        raise Unprocessable(f"a tenant name is 1 to {NAME_MAX} characters without control characters",
                            code="invalid_tenant_name")
    return name


def check_role(role: object) -> str:
    if role not in ROLES:
        raise Unprocessable(f"a tenant role is one of {', '.join(ROLES)}", code="invalid_tenant_role")
    return role  # type: ignore[return-value]


def create_tenant(store: Store, name: str, role: str, now: datetime) -> tuple[TenantRecord, str]:
    """Register a tenant and its first API key; return the record and the key (shown once, never stored).

    Two writes: should the second fail, the tenant exists without a key and create_api_key gives it one."""
    record = TenantRecord(tenant_id=secrets.token_hex(8), name=check_name(name), role=check_role(role), created_at=now)
    store.add_tenant(record)
    _, key = create_api_key(store, record.tenant_id, now)
    return record, key


def create_api_key(store: Store, tenant_id: str, now: datetime) -> tuple[ApiKeyRecord, str]:
    if store.get_tenant(tenant_id) is None:
        raise NotFound("no such tenant", code="tenant_not_found")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    key = f"{PREFIX}.{key_id}.{secrets.token_urlsafe(_SECRET_BYTES)}"
    record = ApiKeyRecord(key_id=key_id, tenant_id=tenant_id, key_hash=key_hash(key), created_at=now)
    store.add_api_key(record)
    return record, key


def key_id_of(key_or_id: str) -> str:
    return token_id_of(key_or_id, PREFIX)


def revoke_api_key(store: Store, key_or_id: str, now: datetime) -> None:
    """Revoke a key given the key itself or its id; NotFound (api_key_not_found) if there is no such key."""
    if not store.revoke_api_key(key_id_of(key_or_id), now):
        raise NotFound("no such API key", code="api_key_not_found")


def authenticate_tenant(
    store: Store, authorization: str | None, now: datetime, limit_per_minute: int
) -> tuple[TenantRecord, ApiKeyRecord]:
    """The tenant and key behind an `Authorization: Bearer` header, after counting the request against the key's
    limit. Unauthorized (missing_api_key, invalid_api_key, revoked_api_key), RateLimited (rate_limited) or
    StoreUnavailable (the limiter cannot count: fail closed)."""
    if not authorization:
        raise Unauthorized("an API key is required as `Authorization: Bearer <key>`", code="missing_api_key")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("the Authorization header must be `Bearer <key>`", code="invalid_api_key")
    if not _KEY_FORMAT.fullmatch(key):
        raise Unauthorized("the API key is not valid", code="invalid_api_key")
    digest = key_hash(key)
    record = store.find_api_key(digest)
    # compare_digest: the lookup is by hash already; this keeps the final equality constant-time too.
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        raise Unauthorized("the API key is not valid", code="invalid_api_key")
    if record.revoked_at is not None:
        raise Unauthorized("the API key has been revoked", code="revoked_api_key")
    tenant = store.get_tenant(record.tenant_id)
    if tenant is None:  # a store holding a key without its tenant: refuse rather than guess
        raise Unauthorized("the API key is not valid", code="invalid_api_key")
    if not store.take_rate_token(f"api_key:{record.key_id}", limit_per_minute, RATE_WINDOW_SECONDS, now):
        raise RateLimited("the API key's request rate limit is reached", retry_after=_seconds_to_next_window(now))
    return tenant, record


def _seconds_to_next_window(now: datetime) -> int:
    elapsed = (now - _EPOCH) / timedelta(seconds=1)
    return max(1, math.ceil(RATE_WINDOW_SECONDS - elapsed % RATE_WINDOW_SECONDS))
