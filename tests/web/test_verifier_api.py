"""The verifier API for banks: OpenID4VP requests, the wallet's answer, evidence, decisions and receipts.

The holder here uses the project's own SD-JWT presenter; tests/e2e/test_bank_journey.py plays the same journey
with a wallet written from the OpenID4VP specification alone.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from joserfc import jws
from PIL import Image
from joserfc.jwk import ECKey

from did_service.clock import utcnow
from did_service.core import keys as keylib
from did_service.core.did import did_jwk_from_public_jwk, public_key_from_jwk
from did_service.core.proofs import jose, sd_jwt
from did_service.core.receipt_jws import verify_receipt_jws
from did_service.services.tenants import create_tenant
from tests.support import issue_body, load_subject

RRN = "900101-1234567"
APPLICATION = {"familyName": "김", "givenName": "민준", "birthDate": "1990-01-01"}
IDENTITY_CLAIMS = ["familyName", "givenName", "birthDate"]
BANK_CLAIMS = IDENTITY_CLAIMS + ["residentRegistrationNumber"]


@pytest.fixture
def bank(services):
    tenant, key = create_tenant(services.store, "Jeju Bank", "financial-institution", utcnow())
    return tenant, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def shop(services):
    tenant, key = create_tenant(services.store, "Hallasan Mobile", "general", utcnow())
    return tenant, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def holder():
    key = keylib.signing_key_from_private(keylib.generate_private_key("ES256"))
    return key


@pytest.fixture
def identity(client, auth, holder):
    subject = {**load_subject("ResidentIdentityCredential"), "familyName": "김", "givenName": "민준",
               "birthDate": "1990-01-01", "residentRegistrationNumber": RRN}
    subject["id"] = did_jwk_from_public_jwk(holder.public_jwk)
    response = client.post("/credentials/issue", headers=auth,
                           json=issue_body("ResidentIdentityCredential", subject, format="dc+sd-jwt"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["verifiableCredential"]


def sd_text(vc) -> str:
    return vc["id"].split(",", 1)[1] if isinstance(vc, dict) else vc


def create(client, headers, policy="account_opening", **body):
    response = client.post("/verifier/v1/requests", headers=headers, json={"policy": policy, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch_request_object(client, created) -> dict:
    link = parse_qs(urlsplit(created["deep_link"]).query)
    path = urlsplit(link["request_uri"][0]).path
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/oauth-authz-req+jwt"
    return jose.parse_compact(response.get_data(as_text=True)).payload


def answer(client, request, vc, holder, reveal, *, nonce=None, audience=None, state=None, query_id=None):
    presentation = sd_jwt.present(sd_text(vc), reveal=[(name,) for name in reveal], holder_key=holder,
                                  audience=audience or request["client_id"], nonce=nonce or request["nonce"],
                                  now=datetime.now(timezone.utc))
    qid = query_id or request["dcql_query"]["credentials"][0]["id"]
    return client.post(urlsplit(request["response_uri"]).path,
                       data={"vp_token": json.dumps({qid: [presentation]}), "state": state or request["state"]})


def evidence(client, headers, request_id, method, succeeded=True):
    response = client.post(f"/verifier/v1/requests/{request_id}/evidence", headers=headers, json={
        "method": method, "performedAt": utcnow().isoformat(), "source": "bank-ekyc", "succeeded": succeeded})
    return response


def result(client, headers, request_id) -> dict:
    response = client.get(f"/verifier/v1/requests/{request_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_request_object_is_signed_by_the_tenants_client_identity(client, bank, services):
    tenant, headers = bank
    created = create(client, headers)
    assert created["client_id"] == f"decentralized_identifier:{services.issuer_did}:verifiers:{tenant.tenant_id}"
    token = client.get(urlsplit(created["request_uri"]).path).get_data(as_text=True)
    header = jose.parse_compact(token).header
    assert header["typ"] == "oauth-authz-req+jwt"
    did = created["client_id"].split(":", 1)[1]
    assert header["kid"].startswith(did + "#")
    document = client.get(f"/verifiers/{tenant.tenant_id}/did.json").get_json()
    method = next(m for m in document["verificationMethod"] if m["id"] == header["kid"])
    payload = jws.deserialize_compact(token, ECKey.import_key(method["publicKeyJwk"]), algorithms=["ES256"]).payload
    request = json.loads(payload)
    assert request["response_mode"] == "direct_post" and request["response_type"] == "vp_token"
    assert request["client_id"] == created["client_id"] and request["aud"] == "https://self-issued.me/v2"
    claims = [c["path"] for c in request["dcql_query"]["credentials"][0]["claims"]]
    assert claims == [[n] for n in IDENTITY_CLAIMS] + [["residentRegistrationNumber"]]
    png = client.get(urlsplit(created["qr_png_url"]).path)
    assert png.status_code == 200 and png.mimetype == "image/png"
    # Read back as a phone camera would: the code holds the deep link and nothing else.
    decoded = [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))]
    assert decoded == [created["deep_link"]]


def test_a_general_tenant_is_never_asked_for_nor_given_the_rrn(client, shop, identity, holder):
    _, headers = shop
    created = create(client, headers)
    request = fetch_request_object(client, created)
    assert [c["path"] for c in request["dcql_query"]["credentials"][0]["claims"]] == [[n] for n in IDENTITY_CLAIMS]
    response = answer(client, request, identity, holder, IDENTITY_CLAIMS + ["residentRegistrationNumber"])
    assert response.status_code == 422 and response.get_json()["code"] == "over_disclosure"
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is False
    assert "residentRegistrationNumber" not in decided["decision"]["returnedClaims"]
    assert RRN not in json.dumps(decided)


def test_two_methods_approve_and_the_receipt_verifies(client, bank, identity, holder, services):
    tenant, headers = bank
    created = create(client, headers, application=APPLICATION)
    request = fetch_request_object(client, created)
    response = answer(client, request, identity, holder, IDENTITY_CLAIMS + ["residentRegistrationNumber"])
    assert response.status_code == 200, response.get_json()
    decided = result(client, headers, created["id"])
    assert decided["status"] == "decided" and decided["decision"]["approved"] is False
    assert decided["decision"]["reasons"] == ["insufficient_methods"]
    assert decided["decision"]["returnedClaims"] == {**APPLICATION, "residentRegistrationNumber": RRN}

    assert evidence(client, headers, created["id"], "video_call").status_code == 200
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is True, decided["decision"]
    assert decided["decision"]["methods"] == ["did_presentation", "video_call"]
    keys = client.get("/verifier/v1/keys").get_json()["keys"]
    header = jose.parse_compact(decided["receipt"]).header
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    payload = json.loads(jws.deserialize_compact(decided["receipt"], ECKey.import_key(jwk), algorithms=["ES256"]).payload)
    assert payload["decision"] == "approved" and payload["jti"] == created["id"] and payload["sub"] == tenant.tenant_id
    assert payload["checkpoint"]["size"] >= 1
    receipt = verify_receipt_jws(decided["receipt"], _pyca(jwk), issuer=services.verifier.did)
    assert receipt.approved
    # Nothing personal is kept: neither in the record's details nor anywhere else in clear.
    record = services.store.get_transaction(created["id"], utcnow())
    stored = json.dumps(record.details, ensure_ascii=False)
    assert RRN not in stored and "민준" not in stored and RRN.encode() not in record.sealed


def _pyca(jwk):
    return public_key_from_jwk({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")})


def test_replay_and_wrong_state_and_other_tenants(client, bank, shop, identity, holder):
    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    wrong_state = answer(client, request, identity, holder, BANK_CLAIMS, state="x" * 22)
    assert wrong_state.status_code == 422 and wrong_state.get_json()["code"] == "state_mismatch"
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    replay = answer(client, request, identity, holder, BANK_CLAIMS)
    assert replay.status_code == 409 and replay.get_json()["code"] == "transaction_already_used"
    # The bank's page may still be loading its QR image: it is served, the request object no longer is.
    assert client.get(urlsplit(created["qr_png_url"]).path).status_code == 200
    assert client.get(urlsplit(created["request_uri"]).path).status_code == 409
    other = client.get(f"/verifier/v1/requests/{created['id']}", headers=shop[1])
    assert other.status_code == 403 and other.get_json()["code"] == "request_of_another_tenant"
    assert client.get(f"/verifier/v1/requests/{created['id']}").status_code == 401
    key = headers["Authorization"].split()[1]
    in_query = client.get(f"/verifier/v1/requests/{created['id']}?api_key={key}", headers=headers)
    assert in_query.status_code == 401 and in_query.get_json()["code"] == "api_key_in_query"


def test_a_presentation_for_another_request_or_bank_is_rejected(client, bank, identity, holder):
    _, headers = bank
    first = fetch_request_object(client, create(client, headers))
    created = create(client, headers)
    second = fetch_request_object(client, created)
    response = answer(client, second, identity, holder, BANK_CLAIMS, nonce=first["nonce"])
    assert response.status_code == 422 and response.get_json()["code"] == "kb_nonce_mismatch"
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is False and decided["decision"]["returnedClaims"] == {}
    third = fetch_request_object(client, create(client, headers))
    response = answer(client, third, identity, holder, BANK_CLAIMS, audience="decentralized_identifier:did:web:other.bank")
    assert response.status_code == 422 and response.get_json()["code"] == "kb_audience_mismatch"


def test_concurrent_answers_are_taken_once(app, services, bank, identity, holder):
    _, headers = bank
    client = app.test_client()
    request = fetch_request_object(client, create(client, headers))
    statuses = []
    barrier = threading.Barrier(4)

    def go():
        own = app.test_client()
        barrier.wait()
        statuses.append(answer(own, request, identity, holder, BANK_CLAIMS).status_code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409, 409, 409]


def test_expired_requests_refuse_answers(client, bank, identity, holder, services):
    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    services.clock = lambda: utcnow() + timedelta(minutes=6)
    response = answer(client, request, identity, holder, BANK_CLAIMS)
    assert response.status_code == 404 and response.get_json()["code"] == "transaction_expired"
    assert result(client, headers, created["id"])["status"] == "expired"


def test_evidence_is_checked_and_only_successful_account_opening_methods_count(client, bank, identity, holder):
    _, headers = bank
    created = create(client, headers)
    bad = client.post(f"/verifier/v1/requests/{created['id']}/evidence", headers=headers,
                      json={"method": "video_call", "performedAt": "yesterday", "source": "x", "succeeded": True})
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_evidence"
    loose = client.post(f"/verifier/v1/requests/{created['id']}/evidence", headers=headers, json={
        "method": "video_call", "performedAt": utcnow().isoformat(), "source": "x", "succeeded": "false"})
    assert loose.status_code == 400 and loose.get_json()["code"] == "invalid_evidence"
    # Before the wallet answers, evidence waits; a failed method and a claimed "did_presentation" never count.
    assert evidence(client, headers, created["id"], "video_call", succeeded=False).status_code == 200
    for method in ("did_presentation", "telepathy"):
        refused = evidence(client, headers, created["id"], method)
        assert refused.status_code == 422 and refused.get_json()["code"] == "unknown_method"
    request = fetch_request_object(client, created)
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is False and decided["decision"]["methods"] == ["did_presentation"]
    assert len(decided["evidence"]) == 1
    assert evidence(client, headers, created["id"], "existing_account_transfer").status_code == 200
    assert result(client, headers, created["id"])["decision"]["approved"] is True
    diploma = create(client, headers, "diploma")
    refused = evidence(client, headers, diploma["id"], "video_call")
    assert refused.status_code == 422 and refused.get_json()["code"] == "evidence_not_applicable"


def test_application_mismatch_and_minors_are_rejected(client, shop, auth, holder, identity):
    _, headers = shop
    subject = {**load_subject("ResidentIdentityCredential"), "familyName": "김", "givenName": "민준",
               "birthDate": (utcnow().date() - timedelta(days=365 * 18)).isoformat(),
               "id": did_jwk_from_public_jwk(holder.public_jwk)}
    minor = client.post("/credentials/issue", headers=auth,
                        json=issue_body("ResidentIdentityCredential", subject, format="dc+sd-jwt")).get_json()
    created = create(client, headers)
    request = fetch_request_object(client, created)
    # The presentation itself is sound, so the wallet is told so; the decision is the bank's to read.
    assert answer(client, request, minor["verifiableCredential"], holder, IDENTITY_CLAIMS).status_code == 200
    assert "not_adult" in result(client, headers, created["id"])["decision"]["reasons"]
    created = create(client, headers, application={**APPLICATION, "givenName": "서연"})
    request = fetch_request_object(client, created)
    assert answer(client, request, identity, holder, IDENTITY_CLAIMS).status_code == 200
    decision = result(client, headers, created["id"])["decision"]
    assert "application_mismatch" in decision["reasons"] and "not_adult" not in decision["reasons"]
    assert "서연" not in json.dumps(decision, ensure_ascii=False) and "민준" in json.dumps(decision, ensure_ascii=False)


def test_the_wallet_may_decline(client, bank):
    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    response = client.post(urlsplit(request["response_uri"]).path,
                           data={"error": "access_denied", "state": request["state"]})
    # OpenID4VP 1.0 section 8.2: a processed error response is answered 200 like any other.
    assert response.status_code == 200
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is False and decided["decision"]["reasons"][0] == "access_denied"


def test_malformed_wallet_responses_change_nothing(client, bank):
    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    path = urlsplit(request["response_uri"]).path
    cases = [
        ({"state": request["state"]}, 400, "missing_vp_token"),
        ({"vp_token": "{not json", "state": request["state"]}, 400, "invalid_vp_token"),
        ({"vp_token": "[]", "state": request["state"]}, 400, "invalid_vp_token"),
        ({"vp_token": json.dumps({"a": []}), "state": request["state"]}, 400, "invalid_vp_token"),
        ({"vp_token": json.dumps({"a": ["x"]})}, 400, "missing_state"),
    ]
    for form, status, code in cases:
        response = client.post(path, data=form)
        assert (response.status_code, response.get_json()["code"]) == (status, code), form
    assert client.post(path, json={"vp_token": "{}"}).status_code == 415
    assert client.post("/oid4vp/responses/" + "A" * 22, data={"state": "x"}).get_json()["code"] == "request_not_found"
    assert result(client, headers, created["id"])["status"] == "pending"


def test_bad_requests_from_tenants(client, bank):
    _, headers = bank
    for body, code in (({"policy": "mortgage"}, "unsupported_policy"),
                       ({"policy": "account_opening", "extra": 1}, "unsupported_request_field"),
                       ({"policy": "diploma", "application": APPLICATION}, "invalid_application"),
                       ({"policy": "account_opening", "application": {"familyName": "김"}}, "invalid_application"),
                       ({"policy": "account_opening", "webhook_url": "http://bank.example/hook"}, "invalid_webhook_url")):
        response = client.post("/verifier/v1/requests", headers=headers, json=body)
        assert response.status_code in (400, 422) and response.get_json()["code"] == code, body
    assert client.get("/verifier/v1/requests/nope", headers=headers).status_code == 404
    revoked_key = client.post("/verifier/v1/requests", headers={"Authorization": "Bearer dsvk1.0000000000000000." + "A" * 43},
                              json={"policy": "account_opening"})
    assert revoked_key.status_code == 401 and revoked_key.get_json()["code"] == "invalid_api_key"


def test_a_burst_above_the_rate_limit_gets_429_with_retry_after(services, bank):
    from did_service.web import create_app
    from dataclasses import replace as dc_replace

    services.settings = dc_replace(services.settings, verifier_rate_limit=3)
    client = create_app(services=services).test_client()
    _, headers = bank
    statuses = [client.get("/verifier/v1/requests/" + "A" * 22, headers=headers) for _ in range(5)]
    assert [r.status_code for r in statuses] == [404, 404, 404, 429, 429]
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60
    assert statuses[-1].get_json()["code"] == "rate_limited"


def test_webhooks_are_signed_and_carry_no_claims(client, bank, identity, holder, services):
    import hashlib
    import hmac

    _, headers = bank
    delivered = []
    done = threading.Event()
    services.verifier.webhook_sender = lambda url, body, hdrs: (delivered.append((url, body, dict(hdrs))), done.set())
    created = create(client, headers, webhook_url="https://bank.example/hooks/kyc")
    request = fetch_request_object(client, created)
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    assert done.wait(5)
    url, body, hdrs = delivered[0]
    assert url == "https://bank.example/hooks/kyc"
    t, v1 = (part.split("=", 1)[1] for part in hdrs["DidService-Signature"].split(","))
    expected = hmac.new(created["webhook_secret"].encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    message = json.loads(body)
    assert message["id"] == created["id"] and message["approved"] is False and "receipt" in message
    assert RRN not in body.decode() and "민준" not in body.decode()


def test_the_webhook_client_refuses_non_public_targets():
    from did_service.errors import DidServiceError
    from did_service.services.resolver import post_webhook

    for url in ("http://bank.example/hook", "https://localhost/hook", "https://127.0.0.1/hook", "https://10.0.0.1/x"):
        with pytest.raises(DidServiceError):
            post_webhook(url, b"{}", {"Content-Type": "application/json"})


def test_claims_are_dropped_after_their_time_and_records_after_retention(client, bank, identity, holder, services):
    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    assert result(client, headers, created["id"])["decision"]["returnedClaims"]["residentRegistrationNumber"] == RRN
    start = utcnow()
    services.clock = lambda: start + timedelta(seconds=services.settings.verifier_claims_ttl + 1)
    later = result(client, headers, created["id"])
    assert later["decision"]["returnedClaims"] == {} and later["decision"]["disclosedClaims"]
    assert services.store.get_transaction(created["id"], services.clock()).sealed == b""
    # And gone from the disk, not only hidden, once the sweep has run.
    assert services.verifier.sweep() == (0, 1)
    with sqlite3.connect(services.settings.instance_dir / "did_service.db") as db:
        assert db.execute("SELECT length(sealed) FROM verifier_transactions WHERE request_id = ?",
                          (created["id"],)).fetchone() == (0,)
    services.clock = lambda: start + timedelta(days=services.settings.verifier_retention_days, seconds=1)
    assert client.get(f"/verifier/v1/requests/{created['id']}", headers=headers).status_code == 404
    assert services.verifier.sweep() == (1, 0)


def test_an_unanswered_application_is_dropped_when_the_request_expires(client, bank, services):
    _, headers = bank
    created = create(client, headers, application=APPLICATION)
    assert services.store.get_transaction(created["id"], utcnow()).sealed
    start = utcnow()
    services.clock = lambda: start + timedelta(seconds=services.settings.verifier_request_ttl + 1)
    assert services.verifier.sweep() == (0, 1)
    assert services.store.get_transaction(created["id"], services.clock()).sealed == b""


def test_a_certificate_through_openid4vp(client, bank, auth, holder):
    _, headers = bank
    subject = {**load_subject("DiplomaCredential"), "id": did_jwk_from_public_jwk(holder.public_jwk)}
    diploma = client.post("/credentials/issue", headers=auth,
                          json=issue_body("DiplomaCredential", subject, format="dc+sd-jwt")).get_json()
    created = create(client, headers, "diploma")
    request = fetch_request_object(client, created)
    claims = [c["path"][0] for c in request["dcql_query"]["credentials"][0]["claims"]]
    assert claims == ["graduate", "institution", "degree", "dateAwarded"]
    assert answer(client, request, diploma["verifiableCredential"], holder, ["graduate"]).status_code == 200
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is True and decided["decision"]["policy"] == "certificate"
    assert decided["decision"]["returnedClaims"]["degree"]


def test_the_verifier_api_fails_closed_when_its_redis_store_is_down(own_redis, tmp_path):
    from did_service.services.container import build_services
    from did_service.web import create_app
    from tests.support import make_settings

    server = own_redis()
    svc = build_services(make_settings(tmp_path / "instance", store_url=server.url))
    try:
        client = create_app(services=svc).test_client()
        _, key = create_tenant(svc.store, "Jeju Bank", "financial-institution", utcnow())
        headers = {"Authorization": f"Bearer {key}"}
        created = create(client, headers)
        server.kill()
        for response in (client.get(f"/verifier/v1/requests/{created['id']}", headers=headers),
                         client.post("/verifier/v1/requests", headers=headers, json={"policy": "account_opening"}),
                         client.get(urlsplit(created["request_uri"]).path)):
            assert response.status_code == 503 and response.mimetype == "application/problem+json"
            assert response.get_json()["code"] == "store_unavailable" and response.headers["Retry-After"]
    finally:
        svc.store.close()


def test_a_tenant_lists_only_its_own_requests_without_claim_values(client, bank, shop, identity, holder):
    _, headers = bank
    first = create(client, headers)
    second = create(client, headers)
    create(client, shop[1])
    request = fetch_request_object(client, second)
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    listed = client.get("/verifier/v1/requests?limit=10", headers=headers).get_json()["requests"]
    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    assert listed[0]["status"] == "decided" and listed[0]["decision"]["returnedClaims"] == {}
    assert RRN not in json.dumps(listed)
    assert client.get("/verifier/v1/requests?limit=0", headers=headers).get_json()["code"] == "invalid_limit"


def test_malformed_input_is_a_4xx_never_a_500(client, bank):
    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    path = urlsplit(request["response_uri"]).path
    deep = client.post(path, data={"vp_token": "[" * 5000, "state": request["state"]})
    assert deep.status_code == 400 and deep.get_json()["code"] == "invalid_vp_token"
    for body in ({"policy": ["account_opening"]}, {"policy": {}},
                 {"policy": "account_opening", "webhook_url": "https://[::1"},
                 {"policy": "account_opening", "webhook_url": "https://127.0.0.1/hook"},
                 {"policy": "account_opening", "webhook_url": "https://localhost/hook"},
                 {"policy": "account_opening", "webhook_url": "https://bank.example:99999/hook"}):
        response = client.post("/verifier/v1/requests", headers=headers, json=body)
        assert response.status_code == 422, (body, response.get_json())
    for performed in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "2026-01-01T00:00:00"):
        response = client.post(f"/verifier/v1/requests/{created['id']}/evidence", headers=headers, json={
            "method": "video_call", "performedAt": performed, "source": "x", "succeeded": True})
        assert response.status_code in (400, 422) and response.get_json()["code"] == "invalid_evidence", performed
    named = client.post(f"/verifier/v1/requests/{created['id']}/evidence", headers=headers, json={
        "method": "video_call", "performedAt": utcnow().isoformat(), "source": "video call with 김민준", "succeeded": True})
    assert named.status_code == 400 and named.get_json()["code"] == "invalid_evidence"
    stale = client.post(f"/verifier/v1/requests/{created['id']}/evidence", headers=headers, json={
        "method": "video_call", "performedAt": "2001-01-01T00:00:00Z", "source": "x", "succeeded": True})
    assert stale.status_code == 422 and stale.get_json()["code"] == "stale_evidence"
    assert client.get("/verifier/v1/requests?limit=\u00b2", headers=headers).status_code == 400
    assert result(client, headers, created["id"])["evidence"] == []


def test_a_certificate_answer_may_not_disclose_more_than_was_asked(client, bank, auth, holder):
    _, headers = bank
    subject = {**load_subject("ResidenceCertificateCredential"), "id": did_jwk_from_public_jwk(holder.public_jwk)}
    subject["purpose"] = "은행 제출용"
    issued = client.post("/credentials/issue", headers=auth,
                         json=issue_body("ResidenceCertificateCredential", subject, format="dc+sd-jwt")).get_json()
    created = create(client, headers, "residence_certificate")
    request = fetch_request_object(client, created)
    asked = [c["path"][0] for c in request["dcql_query"]["credentials"][0]["claims"]]
    assert "purpose" not in asked
    response = answer(client, request, issued["verifiableCredential"], holder, asked + ["purpose"])
    assert response.status_code == 422 and response.get_json()["code"] == "over_disclosure"
    decided = result(client, headers, created["id"])["decision"]
    assert decided["approved"] is False and decided["returnedClaims"] == {}


def test_evidence_arriving_while_the_wallet_answers_is_decided_with_the_answer(app, services, bank, identity, holder):
    _, headers = bank
    client = app.test_client()
    created = create(client, headers)
    request = fetch_request_object(client, created)
    real_verify = services.verifier._verify

    def verify_then_bank_reports(presentation, nonce, audience):
        outcome = real_verify(presentation, nonce, audience)
        # The bank's back end posts its video-call result while this answer is being verified.
        assert evidence(app.test_client(), headers, created["id"], "video_call").status_code == 200
        return outcome

    services.verifier._verify = verify_then_bank_reports
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    decided = result(client, headers, created["id"])
    assert decided["decision"]["approved"] is True and decided["decision"]["methods"] == ["did_presentation", "video_call"]


def test_a_rotated_verifier_key_stays_published_so_old_receipts_verify(client, bank, identity, holder, services):
    from did_service.services.keyring import load_kek, rotate_key

    _, headers = bank
    created = create(client, headers)
    request = fetch_request_object(client, created)
    assert answer(client, request, identity, holder, BANK_CLAIMS).status_code == 200
    old_receipt = result(client, headers, created["id"])["receipt"]
    new_key, _ = rotate_key(services.store, load_kek(services.settings, create=False), services.verifier.did, "ES256",
                            utcnow(), "verifier")
    services.keys.current(fresh=True)
    keys = {k["kid"]: k for k in client.get("/verifier/v1/keys").get_json()["keys"]}
    assert len(keys) == 2
    old_kid = jose.parse_compact(old_receipt).header["kid"]
    assert verify_receipt_jws(old_receipt, _pyca(keys[old_kid]), issuer=services.verifier.did).request_id == created["id"]
    fresh = create(client, headers)
    token = client.get(urlsplit(fresh["request_uri"]).path).get_data(as_text=True)
    assert jose.parse_compact(token).header["kid"].endswith("#" + new_key.kid)


def test_the_counted_methods_are_configurable(tmp_path, services):
    from did_service.config import Settings
    from did_service.errors import ConfigurationError
    from did_service.services.verifier import VerifierService

    def verifier_with(methods: str) -> VerifierService:
        settings = Settings.from_env({"DID_SERVICE_INSTANCE_DIR": str(tmp_path),
                                      "DID_SERVICE_ACCOUNT_OPENING_METHODS": methods})
        return VerifierService(store=services.store, keys=services.keys, registry=services.registry,
                               issuer_did=services.issuer_did, settings=settings, verify=services.verify_presentation,
                               seal_key=b"k" * 32, webhook_key=b"w" * 32, clock=utcnow, log_origin="x")

    assert verifier_with("did_presentation, branch_visit").policy.counted_methods == {"did_presentation", "branch_visit"}
    with pytest.raises(ConfigurationError):  # fewer methods than the two required: nothing could be approved
        verifier_with("video_call")


def test_verifier_keys_serve_one_purpose_each(client, bank):
    tenant, _ = bank
    tenant_doc = client.get(f"/verifiers/{tenant.tenant_id}/did.json").get_json()
    verifier_doc = client.get("/verifier/did.json").get_json()
    # A tenant's client identity authenticates requests; it can assert nothing, so no credential can seem
    # issued by a tenant DID. The verifier asserts decisions and authenticates nothing.
    assert tenant_doc["authentication"] and "assertionMethod" not in tenant_doc
    assert verifier_doc["assertionMethod"] and "authentication" not in verifier_doc
    assert client.get("/verifiers/nobody/did.json").status_code == 404


def test_the_whole_flow_on_a_redis_store(tmp_path, redis_url, redis_namespace, holder):
    from did_service.services.container import build_services
    from did_service.services import tokens
    from did_service.web import create_app
    from tests.support import make_settings

    base, _, query = redis_url.partition("?")
    url = f"{base}?{query + '&' if query else ''}namespace={redis_namespace}"
    svc = build_services(make_settings(tmp_path / "instance", store_url=url))
    try:
        client = create_app(services=svc).test_client()
        token, _ = tokens.create_token(svc.store, "issuer", utcnow())
        subject = {**load_subject("ResidentIdentityCredential"), "id": did_jwk_from_public_jwk(holder.public_jwk),
                   "residentRegistrationNumber": RRN}
        vc = client.post("/credentials/issue", headers={"Authorization": f"Bearer {token}"},
                         json=issue_body("ResidentIdentityCredential", subject, format="dc+sd-jwt")).get_json()
        _, key = create_tenant(svc.store, "Jeju Bank", "financial-institution", utcnow())
        headers = {"Authorization": f"Bearer {key}"}
        created = create(client, headers)
        request = fetch_request_object(client, created)
        assert answer(client, request, vc["verifiableCredential"], holder, BANK_CLAIMS).status_code == 200
        assert answer(client, request, vc["verifiableCredential"], holder, BANK_CLAIMS).status_code == 409
        assert evidence(client, headers, created["id"], "video_call").status_code == 200
        decided = result(client, headers, created["id"])
        assert decided["decision"]["approved"] is True
        assert decided["decision"]["returnedClaims"]["residentRegistrationNumber"] == RRN
    finally:
        svc.store.close()
