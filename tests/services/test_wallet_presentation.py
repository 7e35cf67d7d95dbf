"""The portal wallet reads a verifier's request before consent: own tenants, third parties, and hostile requests."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from did_service.clock import utcnow
from did_service.core.credential import vct_for
from did_service.core.oid4vp import dcql
from did_service.services.container import build_services
from did_service.services.tenants import create_tenant
from did_service.services.wallet_presentation import InvalidPresentationRequest, RequestReader
from tests.support import make_settings

BANK_DID = "did:web:bank.example"
KID = BANK_DID + "#k1"


@pytest.fixture
def svc(tmp_path):
    services = build_services(make_settings(tmp_path / "instance"))
    yield services
    services.store.close()


def test_an_own_tenants_request_is_read_with_its_verified_name_and_role(svc):
    tenant, _ = create_tenant(svc.store, "Jeju Bank", "financial-institution", utcnow())
    created = svc.verifier.create_request(tenant, {"policy": "account_opening"}).body
    request = svc.presentation_requests.read(created["deep_link"])
    assert (request.verifier_name, request.verifier_role, request.verified_name) == ("Jeju Bank", "financial-institution", True)
    assert request.credential_type == "ResidentIdentityCredential"
    assert request.claims == ("familyName", "givenName", "birthDate", "residentRegistrationNumber")
    assert request.client_id == created["client_id"]
    stored = svc.store.get_transaction(created["id"], utcnow())
    assert (request.nonce, request.state) == (stored.nonce, stored.state)


def test_an_answered_request_is_gone(svc):
    tenant, _ = create_tenant(svc.store, "Jeju Bank", "general", utcnow())
    created = svc.verifier.create_request(tenant, {"policy": "account_opening"}).body
    svc.verifier.respond(created["id"], {"state": svc.store.get_transaction(created["id"], utcnow()).state,
                                         "error": "access_denied"})
    with pytest.raises(InvalidPresentationRequest) as info:
        svc.presentation_requests.read(created["deep_link"])
    assert info.value.code == "request_gone"


@pytest.mark.parametrize("link, code", [
    ("openid4vp://?client_id=x", "invalid_request_link"),
    ("openid4vp://?client_id=x&request_uri=http%3A%2F%2Fbank.example%2Fr", "request_uri_refused"),
    ("openid4vp://?client_id=x&request_uri=https%3A%2F%2F127.0.0.1%2Fr", "request_uri_refused"),
    ("openid4vp://?client_id=x&request_uri=https%3A%2F%2F10.0.0.7%2Fr", "request_uri_refused"),
    ("openid4vp://?client_id=x&request_uri=https%3A%2F%2Flocalhost%2Fr", "request_uri_refused"),
    ("javascript:alert(1)", "invalid_request_link"),
])
def test_links_that_point_at_private_or_plain_http_hosts_are_never_fetched(svc, link, code):
    with pytest.raises(InvalidPresentationRequest) as info:
        svc.presentation_requests.read(link)
    assert info.value.code == code


def third_party(svc, *, sign_with, listed, claims=None, client_id=f"decentralized_identifier:{BANK_DID}", typ=None):
    """A reader whose fetch and resolver answer for bank.example (the test cannot serve public https)."""
    now = utcnow()
    payload = {"client_id": client_id, "response_type": "vp_token", "response_mode": "direct_post",
               "response_uri": "https://bank.example/oid4vp/answer", "nonce": "n" * 22, "state": "s" * 22,
               "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp()),
               "dcql_query": dcql.query_for("ResidentIdentityCredential", ["familyName"],
                                            vct=vct_for(svc.settings.public_url, "ResidentIdentityCredential")),
               "client_metadata": {"client_name": "Bank of Example"}}
    payload.update(claims or {})
    token = jws.serialize_compact({"alg": "ES256", "typ": typ or "oauth-authz-req+jwt", "kid": KID},
                                  json.dumps(payload).encode(), sign_with)
    document = {"id": BANK_DID, "verificationMethod": [
        {"id": KID, "type": "JsonWebKey", "controller": BANK_DID, "publicKeyJwk": listed.as_dict(private=False)}]}
    reader = RequestReader(
        public_url=svc.settings.public_url, store=svc.store, registry_types=svc.registry.names,
        own_request=svc.verifier.request_object, own_document=svc.verifier.document,
        tenant_did_base=f"{svc.issuer_did}:verifiers:", resolve=lambda did: document, clock=svc.clock,
        fetch=lambda url: token.encode())
    link = f"openid4vp://?client_id={quote(f'decentralized_identifier:{BANK_DID}')}&request_uri=" + quote(
        "https://bank.example/requests/1", safe="")
    return reader, link


def test_a_third_party_request_shows_its_declared_name_as_unverified(svc):
    key = ECKey.generate_key("P-256")
    reader, link = third_party(svc, sign_with=key, listed=key)
    request = reader.read(link)
    assert (request.verifier_name, request.verified_name, request.verifier_role) == ("Bank of Example", False, None)


@pytest.mark.parametrize("change, code", [
    ({"response_uri": "https://evil.example/collect"}, "response_uri_mismatch"),
    ({"response_uri": "http://bank.example/oid4vp/answer"}, "response_uri_mismatch"),
    ({"client_id": "decentralized_identifier:did:web:other.example"}, "client_id_mismatch"),
    ({"exp": 1}, "request_expired"),
    ({"response_mode": "fragment"}, "unsupported_response_mode"),
    ({"dcql_query": {"credentials": [{"id": "x", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://x/vct/Passport"]}}]}},
     "unsupported_query"),
])
def test_hostile_third_party_requests_are_refused(svc, change, code):
    key = ECKey.generate_key("P-256")
    reader, link = third_party(svc, sign_with=key, listed=key, claims=change)
    with pytest.raises(InvalidPresentationRequest) as info:
        reader.read(link)
    assert info.value.code == code


def test_a_request_signed_by_a_key_not_in_the_clients_document_is_refused(svc):
    reader, link = third_party(svc, sign_with=ECKey.generate_key("P-256"), listed=ECKey.generate_key("P-256"))
    with pytest.raises(InvalidPresentationRequest) as info:
        reader.read(link)
    assert info.value.code == "invalid_request_signature"
    key = ECKey.generate_key("P-256")
    reader, link = third_party(svc, sign_with=key, listed=key, typ="JWT")
    with pytest.raises(InvalidPresentationRequest) as info:
        reader.read(link)
    assert info.value.code == "unsigned_request"
