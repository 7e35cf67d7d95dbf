"""The wallet page's JSON calls: logged-in residents only, the session's CSRF token on the POST, problem documents."""

from __future__ import annotations

import json

from joserfc import jws
from joserfc.jwk import ECKey

from did_service.clock import utcnow
from did_service.core.residents import COLUMNS

ROW = "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567"


def logged_in(client, services):
    (imported,) = services.residents.import_registry(",".join(COLUMNS[:11]) + "\n" + ROW + "\n")
    subject = services.residents.enroll(imported.enrollment_code, "correct horse battery")
    session = services.sessions.start(subject)
    client.set_cookie("did_session", session.session_id)
    return session


def test_the_wallet_api_needs_a_session_and_its_csrf_token(client, services):
    assert client.get("/wallet/api/nonce").get_json()["code"] == "not_logged_in"
    session = logged_in(client, services)
    nonce = client.get("/wallet/api/nonce").get_json()
    key = ECKey.generate_key("P-256")
    proof = jws.serialize_compact(
        {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": key.as_dict(private=False)},
        json.dumps({"aud": nonce["aud"], "iat": int(utcnow().timestamp()), "nonce": nonce["c_nonce"]}).encode(), key)
    body = {"type": "ResidentIdentityCredential", "proof": proof}
    refused = client.post("/wallet/api/credentials", json=body)
    assert refused.status_code == 400 and refused.get_json()["code"] == "csrf_failed"
    csrf = {"X-CSRF-Token": services.sessions.csrf_token(session.session_id)}
    bad = client.post("/wallet/api/credentials", json={"type": "ResidentIdentityCredential"}, headers=csrf)
    assert bad.status_code == 422
    collected = client.post("/wallet/api/credentials", json=body, headers=csrf)
    assert collected.status_code == 201, collected.get_json()
    assert services.verify_credential(collected.get_json()["credential"]).verified
