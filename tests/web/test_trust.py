"""The trust registry: per-type trust in other issuers, managed by operators through the admin API and CLI."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from did_service.clock import utcnow
from did_service.core.credential import CONTEXTS
from did_service.core.proofs import data_integrity
from did_service.core.trust import TrustRegistry, check_trusted_issuer
from did_service.errors import Unprocessable
from did_service.services import tokens
from tests.support import load_subject
from tests.web.test_formats import Holder, failed

AGENCY = Holder()  # another agency's issuer, a did:key


def agency_credential(credential_type: str) -> dict:
    credential = {"@context": CONTEXTS, "type": ["VerifiableCredential", credential_type], "issuer": AGENCY.did,
                  "validFrom": "2026-01-01T00:00:00Z", "credentialSubject": load_subject(credential_type)}
    return data_integrity.add_proof(credential, AGENCY.key.private_key, AGENCY.method, cryptosuite="eddsa-rdfc-2022")


@pytest.fixture
def admin(services):
    token, _ = tokens.create_token(services.store, "admin", utcnow())
    return {"Authorization": f"Bearer {token}"}


def verify(client, credential) -> dict:
    return client.post("/credentials/verify", json={"verifiableCredential": credential}).get_json()


def test_trust_is_per_type_and_takes_effect_at_once(client, admin, services):
    diploma, identity = agency_credential("DiplomaCredential"), agency_credential("ResidentIdentityCredential")
    assert failed(verify(client, diploma)) == {"trusted_issuer": "untrusted_issuer"}

    response = client.post("/admin/v1/trust", json={"issuer": AGENCY.did, "type": "DiplomaCredential"}, headers=admin)
    assert response.status_code == 201 and response.get_json()["added"] is True
    assert client.post("/admin/v1/trust", json={"issuer": AGENCY.did, "type": "DiplomaCredential"},
                       headers=admin).status_code == 200  # already trusted: nothing changes
    assert verify(client, diploma)["verified"] is True
    # Trusted for diplomas is not trusted for identity.
    assert failed(verify(client, identity)) == {"trusted_issuer": "untrusted_issuer"}

    entries = client.get("/admin/v1/trust", headers=admin).get_json()["entries"]
    assert {"issuer": services.issuer_did, "type": "ResidentIdentityCredential", "source": "built-in"} in entries
    assert [e["type"] for e in entries if e["issuer"] == AGENCY.did] == ["DiplomaCredential"]

    response = client.delete("/admin/v1/trust", query_string={"issuer": AGENCY.did, "type": "DiplomaCredential"},
                             headers=admin)
    assert response.status_code == 200
    assert failed(verify(client, diploma)) == {"trusted_issuer": "untrusted_issuer"}


def test_only_admins_manage_trust_and_bad_entries_are_refused(client, admin, auth, services):
    body = {"issuer": AGENCY.did, "type": "DiplomaCredential"}
    assert client.post("/admin/v1/trust", json=body).status_code == 401
    response = client.post("/admin/v1/trust", json=body, headers=auth)  # an issuer token
    assert response.status_code == 403 and response.get_json()["code"] == "insufficient_role"
    for bad, code in (({"issuer": "https://agency.example", "type": "DiplomaCredential"}, "invalid_issuer"),
                      ({"issuer": AGENCY.did + "#key-1", "type": "DiplomaCredential"}, "invalid_issuer"),
                      ({"issuer": AGENCY.did, "type": "PassportCredential"}, "unknown_credential_type"),
                      ({"issuer": AGENCY.did}, "invalid_trust_entry")):
        response = client.post("/admin/v1/trust", json=bad, headers=admin)
        assert response.status_code == 422 and response.get_json()["code"] == code, bad
    assert services.store.list_trust() == []
    # The service's own issuer is built in and cannot be removed.
    response = client.delete("/admin/v1/trust", query_string={"issuer": services.issuer_did,
                                                              "type": "DiplomaCredential"}, headers=admin)
    assert response.status_code == 404 and response.get_json()["code"] == "trust_entry_not_found"


def test_registry_and_issuer_checks():
    registry = TrustRegistry.of([("did:web:a.example", "DiplomaCredential"), ("did:key:z6Mk1", "DiplomaCredential")])
    assert registry.trusts("did:web:a.example", "DiplomaCredential")
    assert not registry.trusts("did:web:a.example", "ResidentIdentityCredential")
    assert not registry.trusts(None, "DiplomaCredential")
    assert check_trusted_issuer("did:web:a.example") == "did:web:a.example"
    for bad in ("did:web:a.example#k", "did:web:a.example/path", "web:a.example", "", None, "did:" + "a" * 3000):
        with pytest.raises(Unprocessable):
            check_trusted_issuer(bad)


def test_cli_manages_trust_for_running_servers(tmp_path):
    from tests.e2e.conftest import DID_SERVICE

    env = {**os.environ, "DID_SERVICE_INSTANCE_DIR": str(tmp_path / "instance")}
    env.pop("DID_SERVICE_STORE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DID_SERVICE, *args], env=env, capture_output=True, text=True, timeout=60)

    assert run("init").returncode == 0
    assert run("trust", "add", "--issuer", AGENCY.did, "--type", "DiplomaCredential").returncode == 0
    listed = json.loads(run("trust", "list").stdout)
    assert {"issuer": AGENCY.did, "type": "DiplomaCredential"}.items() <= next(
        e for e in listed if e["issuer"] == AGENCY.did).items()
    assert run("trust", "add", "--issuer", "not-a-did", "--type", "DiplomaCredential").returncode == 2
    assert run("trust", "remove", "--issuer", AGENCY.did, "--type", "DiplomaCredential").returncode == 0
    assert run("trust", "remove", "--issuer", AGENCY.did, "--type", "DiplomaCredential").returncode == 2


def test_another_process_sees_a_change_within_max_age(services):
    from did_service.services.trust import TrustService

    now = [0.0]
    reader = TrustService(services.store, services.registry, services.issuer_did, clock=lambda: now[0])
    writer = TrustService(services.store, services.registry, services.issuer_did)
    assert not reader.current().trusts(AGENCY.did, "DiplomaCredential")
    writer.add(AGENCY.did, "DiplomaCredential", utcnow())
    now[0] = 0.5
    assert not reader.current().trusts(AGENCY.did, "DiplomaCredential")  # a cached snapshot, no store read
    now[0] = 1.5
    assert reader.current().trusts(AGENCY.did, "DiplomaCredential")
    assert reader.current().trusts(services.issuer_did, "ResidentIdentityCredential")  # built in
