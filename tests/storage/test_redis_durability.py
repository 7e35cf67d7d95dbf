"""Redis durability: the store reports a Redis that does not fsync every write, and acknowledged writes survive
a kill -9 of a Redis that does. Each test starts its own redis-server; the shared one is never touched."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from did_service.clock import utcnow
from did_service.errors import ConfigurationError, StoreUnavailable
from did_service.services.container import build_services
from did_service.storage.base import CredentialRecord, LogAppend
from did_service.storage.redis import RedisStore
from tests.support import issue_body, make_settings


def test_non_durable_redis_is_reported_and_refused_in_production(own_redis, tmp_path):
    server = own_redis("--appendonly", "no")
    store = RedisStore(server.url)
    assert "appendfsync always" in store.durability_problem()
    settings = make_settings(tmp_path / "i", env="production", store_url=server.url, kek_b64="A" * 43)
    with pytest.raises(ConfigurationError):
        build_services(settings, store=store)
    # Development warns and carries on.
    assert build_services(make_settings(tmp_path / "d", store_url=server.url), store=store).issuer_did


def test_acknowledged_writes_survive_kill_9(own_redis, tmp_path):
    server = own_redis("--appendonly", "yes", "--appendfsync", "always")
    store = RedisStore(server.url)
    assert store.durability_problem() is None
    svc = build_services(make_settings(tmp_path / "i", store_url=server.url), store=store)
    issued = svc.issuance.issue_many([issue_body(), issue_body("DiplomaCredential")], utcnow())
    server.kill()
    server.start()
    reopened = RedisStore(server.url)
    for item in issued:
        stored = reopened.get_credential(item.record.credential_id)
        # The store assigns the leaf index when it anchors the credential; the rest is what issuance built.
        assert stored.leaf_index is not None
        assert replace(stored, leaf_index=None) == replace(item.record, leaf_index=None)
    assert [k.kid for k in reopened.list_keys()] == [k.kid for k in store.list_keys()]
    # The service restarts on the same store with the same keys, and what it issued before still verifies.
    again = build_services(make_settings(tmp_path / "i", store_url=server.url), store=reopened)
    assert again.verify_credential(issued[0].secured).verified


def test_unreachable_redis_is_unavailable_not_a_crash(own_redis):
    server = own_redis("--appendonly", "no")
    store = RedisStore(server.url)
    server.kill()

    record = CredentialRecord("urn:uuid:x", "T", "vc+jwt", "0" * 64, "k", utcnow(), utcnow())
    entry = b'{"kind":"issued"}'
    with pytest.raises(StoreUnavailable):
        store.append_log([LogAppend(entry, hashlib.sha256(b"\x00" + entry).digest(), record)])
    with pytest.raises(StoreUnavailable):
        store.durability_problem()
