"""The W3C VC API over HTTP: issue, verify, errors as problem documents, nothing written on failure."""

from __future__ import annotations

import json
import sqlite3

import pytest
from joserfc import jws as rfc_jws
from joserfc.jwk import OKPKey, ECKey

from did_service.clock import utcnow
from did_service.services import tokens
from tests.support import CREDENTIAL_TYPES, issue_body, jwt_of, load_subject


def credential_count(services) -> int:
    path = services.settings.store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM credentials").fetchone()[0]


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith(code) and body["title"]
    return body


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_issue_then_verify_every_type(client, auth, services, credential_type, alg):
    response = client.post("/credentials/issue", json=issue_body(credential_type, alg=alg), headers=auth)
    assert response.status_code == 201, response.get_json()
    vc = response.get_json()["verifiableCredential"]
    assert vc["type"] == "EnvelopedVerifiableCredential"
    assert vc["@context"] == ["https://www.w3.org/ns/credentials/v2"]

    token = jwt_of(vc)
    header = _b64json(token.split(".")[0])
    assert header["typ"] == "vc+jwt" and header["alg"] == alg
    assert header["kid"].startswith(services.issuer_did + "#")
    payload = _b64json(token.split(".")[1])
    assert payload["issuer"] == payload["iss"] == services.issuer_did
    assert payload["type"] == ["VerifiableCredential", credential_type]
    assert payload["credentialSubject"] == load_subject(credential_type)
    assert payload["id"].startswith("urn:uuid:")
    assert services.store.get_credential(payload["id"]).credential_type == credential_type

    for form in (vc, token):
        report = client.post("/credentials/verify", json={"verifiableCredential": form}).get_json()
        assert report["verified"] is True, report
        assert {c["id"] for c in report["checks"]} >= {"format", "issuer_key", "signature", "validity_period", "schema"}
        assert all(c["status"] == "passed" for c in report["checks"])
        assert report["errors"] == []


def _b64json(segment: str) -> dict:
    import base64

    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_tampered_credential_does_not_verify(client, auth):
    token = jwt_of(client.post("/credentials/issue", json=issue_body(), headers=auth).get_json()["verifiableCredential"])
    header, payload, signature = token.split(".")
    claims = _b64json(payload)
    claims["credentialSubject"]["givenName"] = "길순"
    import base64

    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    report = client.post("/credentials/verify", json={"verifiableCredential": f"{header}.{forged_payload}.{signature}"}).get_json()
    assert report["verified"] is False
    assert {"code": "invalid_signature", "check": "signature"}.items() <= report["errors"][0].items()


def test_independent_library_verifies_with_did_document_key_only(client, auth):
    """joserfc, given only the publicKeyJwk from /.well-known/did.json, accepts what the service issued."""
    document = client.get("/.well-known/did.json").get_json()
    assert document["id"].startswith("did:web:")
    for alg, key_type in (("EdDSA", OKPKey), ("ES256", ECKey)):
        token = jwt_of(client.post("/credentials/issue", json=issue_body(alg=alg), headers=auth).get_json()["verifiableCredential"])
        kid = _b64json(token.split(".")[0])["kid"]
        method = next(m for m in document["verificationMethod"] if m["id"] == kid)
        assert method["type"] == "JsonWebKey" and kid in document["assertionMethod"]
        public = {k: v for k, v in method["publicKeyJwk"].items() if k != "kid"}
        assert "d" not in public
        obj = rfc_jws.deserialize_compact(token, key_type.import_key(public), algorithms=[alg])
        assert json.loads(obj.payload)["issuer"] == document["id"]
        with pytest.raises(Exception):
            # A bit flip in the signature must fail the independent check too.
            sig = token.rsplit(".", 1)[1]
            flipped = token[: -len(sig)] + ("A" if sig[0] != "A" else "B") + sig[1:]
            rfc_jws.deserialize_compact(flipped, key_type.import_key(public), algorithms=[alg])


def test_did_document_lists_multikey_and_jsonwebkey(client):
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    assert response.mimetype == "application/did+json"
    document = response.get_json()
    types = sorted(m["type"] for m in document["verificationMethod"])
    assert types == ["JsonWebKey", "JsonWebKey", "Multikey", "Multikey"]
    ids = [m["id"] for m in document["verificationMethod"]]
    assert sorted(document["assertionMethod"]) == sorted(ids) == sorted(document["authentication"])
    assert not any("d" in m.get("publicKeyJwk", {}) for m in document["verificationMethod"])


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


# --- authentication -------------------------------------------------------------------------------------------


def test_issue_requires_a_token(client, services):
    response = client.post("/credentials/issue", json=issue_body())
    assert_problem(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.post("/credentials/issue", json=issue_body(), headers={"Authorization": "Bearer nope"}), 401, "invalid_token")
    assert_problem(client.post("/credentials/issue", json=issue_body(), headers={"Authorization": "Basic abc"}), 401, "invalid_token")
    assert credential_count(services) == 0


def test_revoked_token_is_refused(client, services, issuer_token, auth):
    assert client.post("/credentials/issue", json=issue_body(), headers=auth).status_code == 201
    tokens.revoke_token(services.store, issuer_token, utcnow())
    assert_problem(client.post("/credentials/issue", json=issue_body(), headers=auth), 401, "token_revoked")
    assert credential_count(services) == 1


def test_admin_token_may_issue(client, services):
    token, _ = tokens.create_token(services.store, "admin", utcnow())
    assert client.post("/credentials/issue", json=issue_body(), headers={"Authorization": f"Bearer {token}"}).status_code == 201


# --- bad input: a problem document, and nothing written ----------------------------------------------------------

RAW_BAD_BODIES = [
    (b"{not json", "invalid_json"),
    (b'{"credential": {}, "credential": {}}', "invalid_json"),
    (b'{"credential": NaN}', "invalid_json"),
    (b"[" * 100 + b"]" * 100, "invalid_json"),
    (b'{"a":' * 70 + b"1" + b"}" * 70, "invalid_json"),
    (b'"a string"', "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    (b'{"x": "\\ud800"}', "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    (b'{"n": ' + b"9" * 5000 + b"}", "invalid_json"),
]


@pytest.mark.parametrize("raw,code", RAW_BAD_BODIES)
def test_malformed_json_is_400(client, auth, services, raw, code):
    response = client.post("/credentials/issue", data=raw, content_type="application/json", headers=auth)
    assert_problem(response, 400, code)
    assert credential_count(services) == 0
    response = client.post("/credentials/verify", data=raw, content_type="application/json")
    assert_problem(response, 400, code)


def test_wrong_content_type_is_415(client, auth, services):
    response = client.post("/credentials/issue", data=json.dumps(issue_body()), content_type="text/plain", headers=auth)
    assert_problem(response, 415, "unsupported_media_type")
    assert credential_count(services) == 0


def test_oversized_body_is_413(client, auth, services):
    big = json.dumps(issue_body() | {"padding": "x" * (2 * 1024 * 1024)})
    assert_problem(client.post("/credentials/issue", data=big, content_type="application/json", headers=auth), 413, "payload_too_large")
    assert credential_count(services) == 0


def test_chunked_oversized_body_is_413(app, services, auth):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path="/credentials/issue", method="POST", input_stream=None, content_type="application/json", headers=auth
    )
    environ = builder.get_environ()
    import io

    environ["wsgi.input"] = io.BytesIO(b"".join(chunks()))
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    with app.request_context(environ):
        response = app.full_dispatch_request()
    assert_problem(response, 413, "payload_too_large")
    assert credential_count(services) == 0


def _with(credential_changes=None, subject_changes=None, options=None, drop=()):
    body = issue_body(**(options or {}))
    body["credential"].update(credential_changes or {})
    body["credential"]["credentialSubject"].update(subject_changes or {})
    for name in drop:
        body["credential"]["credentialSubject"].pop(name)
    return body


UNACCEPTABLE = [
    (_with({"type": ["VerifiableCredential", "PassportCredential"]}), "unknown_credential_type"),
    (_with({"type": ["VerifiableCredential"]}), "unknown_credential_type"),
    (_with({"type": "VerifiableCredential"}), "invalid_credential"),
    (_with(subject_changes={"residentRegistrationNumber": "900101-9234567"}), "schema_violation"),
    (_with(subject_changes={"birthDate": "1990-13-01"}), "schema_violation"),
    (_with(subject_changes={"nickname": "길동이"}), "schema_violation"),
    (_with(drop=("familyName",)), "schema_violation"),
    (_with({"issuer": "did:web:evil.example"}), "server_controlled_field"),
    (_with({"id": "urn:uuid:00000000-0000-0000-0000-000000000000"}), "server_controlled_field"),
    (_with({"proof": {"type": "DataIntegrityProof"}}), "server_controlled_field"),
    (_with({"credentialStatus": {"type": "BitstringStatusListEntry"}}), "server_controlled_field"),
    (_with({"@context": ["https://www.w3.org/ns/credentials/v2", "https://evil.example/ctx"]}), "unsupported_context"),
    (_with({"validFrom": "yesterday"}), "invalid_datetime"),
    (_with({"validFrom": "2030-01-01T00:00:00"}), "invalid_datetime"),
    (_with({"validFrom": "2030-01-01T00:00:00Z", "validUntil": "2029-01-01T00:00:00Z"}), "invalid_validity_period"),
    (_with({"evidence": []}), "unsupported_credential_field"),
    (_with(options={"format": "ldp_vc"}), "unsupported_format"),
    (_with(options={"alg": "HS256"}), "unsupported_alg"),
    (_with(options={"credentialId": "x"}), "unsupported_option"),
    ({"credential": "x"}, "invalid_credential"),
    ({"credential": {}, "extra": 1}, "unsupported_request_field"),
]


@pytest.mark.parametrize("body,code", UNACCEPTABLE)
def test_unacceptable_issue_requests_are_422(client, auth, services, body, code):
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=auth), 422, code)
    assert credential_count(services) == 0
    # No input values echo back (they may be personal data).
    text = json.dumps(problem, ensure_ascii=False)
    for value in ("900101-9234567", "1990-13-01", "길동이", "evil.example"):
        assert value not in text


def test_schema_violation_lists_paths_not_values(client, auth):
    body = _with(subject_changes={"residentRegistrationNumber": "900101-9234567"})
    problem = assert_problem(client.post("/credentials/issue", json=body, headers=auth), 422, "schema_violation")
    assert {"path": "/residentRegistrationNumber", "keyword": "pattern"} in problem["errors"]


def test_verify_needs_the_credential_member(client):
    assert_problem(client.post("/credentials/verify", json={"credential": "x"}), 400, "missing_credential")


def test_unknown_route_and_method_are_problems(client):
    assert_problem(client.get("/nope"), 404, "not_found")
    response = client.get("/credentials/issue")
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_store_outage_is_503_and_issues_nothing(client, auth, services):
    """Issuance whose durable write cannot happen returns 503 and no credential."""
    from did_service.services.issuance import IssuanceService
    from did_service.storage.redis import RedisStore
    from tests.support import free_port

    unreachable = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    services.issuance = IssuanceService(unreachable, services.keys, services.registry, services.issuer_did, "EdDSA", services.status,
                                         services.settings.public_url)
    response = client.post("/credentials/issue", json=issue_body(), headers=auth)
    problem = assert_problem(response, 503, "store_unavailable")
    assert response.headers["Retry-After"]
    assert "verifiableCredential" not in problem
