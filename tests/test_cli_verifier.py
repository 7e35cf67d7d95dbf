"""`did-service verifier ...`: tenants and their API keys from the command line, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone

import pytest

from did_service.services import tenants
from did_service.storage import open_store
from tests.e2e.conftest import DID_SERVICE


@pytest.fixture
def run(tmp_path):
    env = {**os.environ, "DID_SERVICE_INSTANCE_DIR": str(tmp_path / "instance"),
           "DID_SERVICE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DID_SERVICE, *args], env=env, capture_output=True, text=True, timeout=60)

    assert run("init").returncode == 0
    run.store_url = env["DID_SERVICE_STORE_URL"]
    return run


def test_create_key_revoke_and_list(run):
    created = run("verifier", "create", "--name", "Jeju Bank", "--role", "financial-institution")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    tenant_id, first_key = lines[0], lines[-1]
    assert first_key.startswith("dsvk1.") and first_key.count(".") == 2 and " " not in first_key

    added = run("verifier", "key", "create", "--tenant", tenant_id)
    assert added.returncode == 0, added.stderr
    assert added.stdout.count("\n") == 1 and added.stdout.startswith("dsvk1.")
    second_key = added.stdout.strip()

    # The keys printed are the ones the service accepts, for that tenant.
    store = open_store(run.store_url)
    now = datetime.now(timezone.utc)
    assert tenants.authenticate_tenant(store, f"Bearer {first_key}", now, 100)[0].tenant_id == tenant_id
    assert tenants.authenticate_tenant(store, f"Bearer {second_key}", now, 100)[0].name == "Jeju Bank"

    revoked = run("verifier", "key", "revoke", tenants.key_id_of(first_key))
    assert revoked.returncode == 0, revoked.stderr
    assert store.find_api_key(tenants.key_hash(first_key)).revoked_at is not None
    assert store.find_api_key(tenants.key_hash(second_key)).revoked_at is None

    listed = run("verifier", "list")
    assert listed.returncode == 0
    [entry] = json.loads(listed.stdout)
    assert (entry["tenant_id"], entry["name"], entry["role"]) == (tenant_id, "Jeju Bank", "financial-institution")
    states = {k["key_id"]: k["revoked_at"] is not None for k in entry["api_keys"]}
    assert states == {tenants.key_id_of(first_key): True, tenants.key_id_of(second_key): False}
    # No secret and no hash leaves through the listing.
    for key in (first_key, second_key):
        assert key.split(".")[2] not in listed.stdout and tenants.key_hash(key) not in listed.stdout
    store.close()


def test_refusals_exit_2_and_write_nothing(run):
    bad_name = run("verifier", "create", "--name", "", "--role", "general")
    assert bad_name.returncode == 2 and "invalid_tenant_name" in bad_name.stderr and bad_name.stdout == ""
    bad_role = run("verifier", "create", "--name", "Bank", "--role", "admin")
    assert bad_role.returncode == 2 and bad_role.stdout == ""  # argparse refuses the choice
    unknown = run("verifier", "key", "create", "--tenant", "no-such-tenant")
    assert unknown.returncode == 2 and "tenant_not_found" in unknown.stderr and unknown.stdout == ""
    missing = run("verifier", "key", "revoke", "0123456789abcdef")
    assert missing.returncode == 2 and "api_key_not_found" in missing.stderr
    assert json.loads(run("verifier", "list").stdout) == []
