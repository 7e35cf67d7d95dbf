"""Verifier tenants and their API keys, against both stores (the `store` fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from did_service.errors import NotFound, RateLimited, StoreUnavailable, Unauthorized, Unprocessable
from did_service.services import tenants
from did_service.storage import Store
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore

NOW = datetime(2026, 3, 2, 9, 30, 15, tzinfo=timezone.utc)


def bearer(key: str) -> str:
    return f"Bearer {key}"


def test_create_tenant_stores_only_the_hash_of_its_first_key(store: Store, tmp_path: Path) -> None:
    tenant, key = tenants.create_tenant(store, "Jeju Bank", "financial-institution", NOW)
    assert store.get_tenant(tenant.tenant_id) == tenant
    assert (tenant.name, tenant.role, tenant.created_at) == ("Jeju Bank", "financial-institution", NOW)
    prefix, key_id, secret = key.split(".")
    assert prefix == "dsvk1" and len(secret) >= 43
    [record] = store.list_api_keys(tenant.tenant_id)
    assert record.key_id == key_id and record.key_hash == tenants.key_hash(key) and record.revoked_at is None
    if isinstance(store, SqliteStore):
        assert not any(secret.encode() in p.read_bytes() for p in (tmp_path / "store").iterdir())
    assert tenants.authenticate_tenant(store, bearer(key), NOW, 10) == (tenant, record)


def test_each_key_authenticates_as_its_own_tenant(store: Store) -> None:
    bank, bank_key = tenants.create_tenant(store, "Bank", "financial-institution", NOW)
    other, other_key = tenants.create_tenant(store, "Embassy", "general", NOW)
    second, second_key = tenants.create_api_key(store, bank.tenant_id, NOW)
    assert bank.tenant_id != other.tenant_id and bank_key != second_key
    assert tenants.authenticate_tenant(store, bearer(bank_key), NOW, 10)[0] == bank
    assert tenants.authenticate_tenant(store, bearer(second_key), NOW, 10) == (bank, second)
    assert tenants.authenticate_tenant(store, "bearer " + other_key, NOW, 10)[0] == other  # scheme is case-insensitive
    assert [k.key_id for k in store.list_api_keys(bank.tenant_id)] == sorted(
        [tenants.key_id_of(bank_key), second.key_id])  # same created_at: by key id
    assert [k.key_id for k in store.list_api_keys(other.tenant_id)] == [tenants.key_id_of(other_key)]


def test_a_key_for_an_unknown_tenant_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as info:
        tenants.create_api_key(store, "no-such-tenant", NOW)
    assert info.value.code == "tenant_not_found" and info.value.status == 404


@pytest.mark.parametrize("by", ["key", "id"])
def test_a_revoked_key_is_refused_and_others_still_work(store: Store, by: str) -> None:
    tenant, key = tenants.create_tenant(store, "Bank", "general", NOW)
    _, spare = tenants.create_api_key(store, tenant.tenant_id, NOW)
    tenants.revoke_api_key(store, key if by == "key" else tenants.key_id_of(key), NOW)
    with pytest.raises(Unauthorized) as info:
        tenants.authenticate_tenant(store, bearer(key), NOW, 10)
    assert (info.value.code, info.value.status) == ("revoked_api_key", 401)
    assert tenants.authenticate_tenant(store, bearer(spare), NOW, 10)[0] == tenant
    with pytest.raises(NotFound) as missing:
        tenants.revoke_api_key(store, "0123456789abcdef", NOW)
    assert missing.value.code == "api_key_not_found"


@pytest.mark.parametrize("header, code", [
    (None, "missing_api_key"),
    ("", "missing_api_key"),
    ("Bearer", "invalid_api_key"),
    ("Bearer ", "invalid_api_key"),
    ("Basic dXNlcjpwYXNz", "invalid_api_key"),
    ("Bearer dsvk1.a.b", "invalid_api_key"),
    ("Bearer " + "x" * 5000, "invalid_api_key"),
    ("Bearer dsvk1.0123456789abcdef." + "A" * 43, "invalid_api_key"),  # well formed, unknown
])
def test_missing_and_malformed_keys(store: Store, header: str | None, code: str) -> None:
    tenants.create_tenant(store, "Bank", "general", NOW)
    with pytest.raises(Unauthorized) as info:
        tenants.authenticate_tenant(store, header, NOW, 10)
    assert (info.value.code, info.value.status) == (code, 401)


def test_an_operator_token_is_not_an_api_key(store: Store) -> None:
    from did_service.services import tokens

    token, _ = tokens.create_token(store, "admin", NOW)
    with pytest.raises(Unauthorized) as info:
        tenants.authenticate_tenant(store, bearer(token), NOW, 10)
    assert info.value.code == "invalid_api_key"


def test_a_tampered_key_is_refused(store: Store) -> None:
    _, key = tenants.create_tenant(store, "Bank", "general", NOW)
    last = key[-1]
    tampered = key[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(Unauthorized) as info:
        tenants.authenticate_tenant(store, bearer(tampered), NOW, 10)
    assert info.value.code == "invalid_api_key"


def test_the_rate_limit_is_per_key_and_resets_each_minute(store: Store) -> None:
    tenant, key = tenants.create_tenant(store, "Bank", "general", NOW)
    _, other = tenants.create_api_key(store, tenant.tenant_id, NOW)
    for _ in range(3):
        tenants.authenticate_tenant(store, bearer(key), NOW, 3)
    with pytest.raises(RateLimited) as info:
        tenants.authenticate_tenant(store, bearer(key), NOW + timedelta(seconds=40), 3)
    assert (info.value.code, info.value.status) == ("rate_limited", 429)
    assert info.value.retry_after == 5  # NOW + 40 s is 9:30:55; the window ends at 9:31:00
    assert tenants.authenticate_tenant(store, bearer(other), NOW, 3)[0] == tenant  # its own bucket
    assert tenants.authenticate_tenant(store, bearer(key), NOW + timedelta(seconds=45), 3)[0] == tenant


def test_refused_keys_are_not_counted(store: Store) -> None:
    tenant, key = tenants.create_tenant(store, "Bank", "general", NOW)
    tenants.revoke_api_key(store, key, NOW)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            tenants.authenticate_tenant(store, bearer(key), NOW, 1)
    # Nothing was taken from the revoked key's bucket by the refusals.
    record = store.find_api_key(tenants.key_hash(key))
    assert store.take_rate_token(f"api_key:{record.key_id}", 1, 60, NOW) is True


class _LimiterDown:
    """A store whose limiter cannot count, everything else working."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def take_rate_token(self, *args, **kwargs) -> bool:
        raise StoreUnavailable()


def test_fails_closed_when_the_limiter_cannot_count(store: Store) -> None:
    _, key = tenants.create_tenant(store, "Bank", "general", NOW)
    with pytest.raises(StoreUnavailable) as info:
        tenants.authenticate_tenant(_LimiterDown(store), bearer(key), NOW, 1000)
    assert info.value.status == 503


def test_fails_closed_when_redis_is_down(redis_url: str, redis_namespace: str) -> None:
    live = RedisStore(redis_url, namespace=redis_namespace)
    _, key = tenants.create_tenant(live, "Bank", "general", NOW)
    live.close()
    dead = RedisStore("redis://127.0.0.1:1/0", namespace=redis_namespace)  # nothing listens on port 1
    with pytest.raises(StoreUnavailable) as info:
        tenants.authenticate_tenant(dead, bearer(key), NOW, 1000)
    assert info.value.status == 503


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Bank\nInjected: yes", "Bank\x00", "Bank\u2028"])
def test_bad_names_are_refused_before_anything_is_stored(store: Store, name: str) -> None:
    with pytest.raises(Unprocessable) as info:
        tenants.create_tenant(store, name, "general", NOW)
    assert (info.value.code, info.value.status) == ("invalid_tenant_name", 422)
    assert store.list_tenants() == []


@pytest.mark.parametrize("role", ["", "bank", "admin", "Financial-Institution", None])
def test_bad_roles_are_refused(store: Store, role) -> None:
    with pytest.raises(Unprocessable) as info:
        tenants.create_tenant(store, "Bank", role, NOW)
    assert info.value.code == "invalid_tenant_role"
    assert store.list_tenants() == []


def test_names_at_the_limits_and_in_any_script_are_kept(store: Store) -> None:
    for name in ("B", "x" * 200, "제주은행 비대면 계좌개설"):
        tenant, _ = tenants.create_tenant(store, name, "general", NOW)
        assert store.get_tenant(tenant.tenant_id).name == name
