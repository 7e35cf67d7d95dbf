"""Revocation and suspension over HTTP, as an operator and a verifier would use them."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from joserfc import jws as rfc_jws
from joserfc.jwk import OKPKey

from did_service.core import tlog
from did_service.core.tlog.receipt import Receipt
from tests.support import issue_body, jwt_of
from tests.web.test_vc_api import assert_problem


def issue(client, auth) -> tuple[dict, str]:
    body = client.post("/credentials/issue", json=issue_body(), headers=auth).get_json()
    token = jwt_of(body["verifiableCredential"])
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return claims, token


def verify(client, token) -> dict:
    return client.post("/credentials/verify", json={"verifiableCredential": token}).get_json()


def set_status(client, auth, credential_id, status):
    return client.post("/credentials/status", headers=auth, json={
        "credentialId": credential_id,
        "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}],
    })


def test_issued_credentials_carry_random_status_positions(client, auth):
    positions = []
    for _ in range(6):
        claims, _ = issue(client, auth)
        entries = claims["credentialStatus"]
        assert [e["statusPurpose"] for e in entries] == ["revocation", "suspension"]
        for entry in entries:
            assert entry["type"] == "BitstringStatusListEntry"
            assert entry["id"] == f"{entry['statusListCredential']}#{entry['statusListIndex']}"
            assert entry["statusListCredential"].startswith("http://127.0.0.1:5000/status/")
        positions.append(int(entries[0]["statusListIndex"]))
    assert len(set(positions)) == 6
    # Not handed out in issuance order: consecutive positions would let anyone who sees two credentials guess
    # how many were issued in between (random positions make a run of six consecutive ones ~1e-30 likely).
    assert any(b != a + 1 for a, b in zip(positions, positions[1:]))


def test_revoke_journey(client, auth):
    claims, token = issue(client, auth)
    assert verify(client, token)["verified"] is True
    response = set_status(client, auth, claims["id"], "revoked")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["results"][0]["changed"] is True
    report = verify(client, token)
    assert report["verified"] is False
    assert {"id": "status", "status": "failed", "code": "revoked"} in report["checks"]
    # Revoking twice is idempotent; revocation is permanent.
    again = set_status(client, auth, claims["id"], "revoked").get_json()["results"][0]
    assert again["changed"] is False
    assert_problem(set_status(client, auth, claims["id"], "active"), 409, "revocation_permanent")
    # The change is in the log: the last published entry is the status entry for that position.
    size = client.get("/log/v1/get-sth").get_json()["tree_size"]
    last = client.get(f"/log/v1/get-entries?start={size - 1}&end={size - 1}").get_json()["entries"][0]
    entry = tlog.decode_entry(base64.b64decode(last["leaf_input"]))
    revocation = claims["credentialStatus"][0]
    assert (entry.kind, entry.list, entry.index, entry.purpose, entry.value) == (
        "status", revocation["statusListCredential"], int(revocation["statusListIndex"]), "revocation", 1)


def test_suspend_and_unsuspend(client, auth):
    claims, token = issue(client, auth)
    assert set_status(client, auth, claims["id"], "suspended").status_code == 200
    report = verify(client, token)
    assert not report["verified"] and {"id": "status", "status": "failed", "code": "suspended"} in report["checks"]
    assert set_status(client, auth, claims["id"], "active").status_code == 200
    assert verify(client, token)["verified"] is True
    suspension = claims["credentialStatus"][1]
    list_id = suspension["statusListCredential"].rsplit("/", 1)[1]
    history = client.get(f"/status/{list_id}/history/{suspension['statusListIndex']}").get_json()
    assert [c["value"] for c in history["changes"]] == [1, 0]
    for change in history["changes"]:
        receipt = Receipt.from_json(change["receipt"])
        checkpoint = tlog.parse_and_verify_checkpoint(receipt.checkpoint, client.get("/log/v1/key").get_data(as_text=True).strip())
        tlog.verify_inclusion(tlog.leaf_hash(receipt.entry), receipt.leaf_index, checkpoint.size, list(receipt.audit_path), checkpoint.root_hash)


def test_status_list_verifies_independently_and_is_cacheable(client, auth):
    claims, _ = issue(client, auth)
    revocation = claims["credentialStatus"][0]
    path = "/status/" + revocation["statusListCredential"].rsplit("/", 1)[1]
    first = client.get(path)
    assert first.status_code == 200 and first.mimetype == "application/vc+jwt"
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    set_status(client, auth, claims["id"], "revoked")
    second = client.get(path)
    assert second.headers["ETag"] != first.headers["ETag"]

    # Independent check: joserfc with the key from the DID document, then plain base64 + gzip.
    token = second.get_data(as_text=True)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    document = client.get("/.well-known/did.json").get_json()
    method = next(m for m in document["verificationMethod"] if m["id"] == header["kid"])
    key = OKPKey.import_key({k: v for k, v in method["publicKeyJwk"].items() if k != "kid"})
    payload = json.loads(rfc_jws.deserialize_compact(token, key, algorithms=["EdDSA"]).payload)
    assert payload["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = payload["credentialSubject"]
    assert subject["statusPurpose"] == "revocation" and subject["type"] == "BitstringStatusList"
    encoded = subject["encodedList"]
    assert encoded[0] == "u"
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(bits) * 8 >= 131072
    index = int(revocation["statusListIndex"])
    assert bits[index // 8] & (0x80 >> (index % 8))
    assert sum(bin(b).count("1") for b in bits) == 1


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"credentialId": "urn:uuid:nope", "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}, 404, "credential_not_found"),
        ({"credentialId": "x", "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "deleted"}]}, 422, "invalid_status_request"),
        ({"credentialId": 1, "credentialStatus": []}, 422, "invalid_status_request"),
        ({"credentialId": "x"}, 422, "invalid_status_request"),
        ({"credentialId": "x", "credentialStatus": [{"type": "Other", "status": "revoked"}]}, 422, "invalid_status_request"),
    ],
)
def test_bad_status_requests(client, auth, body, status, code):
    assert_problem(client.post("/credentials/status", json=body, headers=auth), status, code)


def test_status_update_needs_a_token(client):
    assert_problem(client.post("/credentials/status", json={"credentialId": "x", "credentialStatus": []}), 401, "missing_token")


def test_unknown_list_and_bad_ids(client):
    assert_problem(client.get("/status/doesnotexist"), 404, "status_list_not_found")
    assert_problem(client.get("/status/bad.id"), 400, "invalid_parameter")
    assert_problem(client.get("/status/doesnotexist/history/x"), 400, "invalid_parameter")
