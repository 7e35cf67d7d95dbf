"""The demo bank (/demo/bank) over the Flask test client: the application form, the request page and its QR
code, a decision and the video call evidence, the sealed key file shared by app instances."""

from __future__ import annotations

import html
import json
import logging
import re
import stat

import pytest

from did_service.core import keys as keylib
from did_service.core.did import did_jwk_from_public_jwk
from did_service.services.container import build_services
from did_service.web import create_app, demo_bank
from tests.support import issue_body, load_subject, make_settings
from tests.web.test_verifier_api import answer, fetch_request_object

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
APPLICATION = {"family_name": "김", "given_name": "민준", "birth_date": "1990-01-01"}
RRN = "900101-1234567"


def csrf_of(response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF field on the page"
    return match.group(1)


def apply(client, **fields):
    token = csrf_of(client.get("/demo/bank"))
    return client.post("/demo/bank", data={**APPLICATION, **fields, "csrf_token": token})


def request_id_of(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    match = re.fullmatch(r"/demo/bank/requests/([A-Za-z0-9_-]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def transactions(services) -> int:
    tenant_ids = [t.tenant_id for t in _tenants(services)]
    return sum(len(services.store.list_transactions(t, services.clock(), 100)) for t in tenant_ids)


def _tenants(services):
    path = demo_bank.KEY_FILE
    folder = services.settings.instance_dir
    if not (folder / path).exists():
        return []
    tenant_id = json.loads((folder / path).read_text())["tenant_id"]
    return [services.store.get_tenant(tenant_id)]


@pytest.mark.parametrize("lang, title, button", [
    ("ko", "비대면 계좌 개설", "전자지갑으로 본인 확인하기"),
    ("en", "Open an account remotely", "Verify me with my wallet"),
])
def test_the_application_page_renders_in_both_languages(client, lang, title, button):
    response = client.get("/demo/bank", headers={"Accept-Language": lang})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert f'<html lang="{lang}">' in page and title in page and button in page
    assert 'name="csrf_token"' in page and 'autocomplete="bday"' in page
    assert "<script" not in page and "style=" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_post_without_csrf_is_refused_and_creates_nothing(client, services):
    client.get("/demo/bank")
    response = client.post("/demo/bank", data=APPLICATION)
    assert response.status_code == 400
    assert "/demo/bank" in response.get_data(as_text=True)
    response = client.post("/demo/bank", data={**APPLICATION, "csrf_token": "forged"})
    assert response.status_code == 400
    assert transactions(services) == 0
    assert not (services.settings.instance_dir / demo_bank.KEY_FILE).exists()


def test_an_application_creates_a_request_with_its_qr_code(client, services, caplog):
    caplog.set_level(logging.DEBUG)
    request_id = request_id_of(apply(client))
    response = client.get(f"/demo/bank/requests/{request_id}", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<img class="qr" src="/oid4vp/requests/{request_id}/qr.png"' in page
    assert '<meta http-equiv="refresh" content="3">' in page
    assert "Waiting for your wallet" in page
    link = html.unescape(re.search(r'id="deep-link">([^<]+)<', page).group(1))
    assert link.startswith("openid4vp://?client_id=") and request_id in link
    assert 'href="/wallet/present?request=openid4vp%3A%2F%2F' in page
    qr = client.get(f"/oid4vp/requests/{request_id}/qr.png")
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    # The request is the bank's, made under account_opening with the application (sealed).
    (tenant,) = _tenants(services)
    assert tenant.name == "Jeju Demo Bank" and tenant.role == "financial-institution"
    assert services.verifier.result(tenant, request_id)["policy"] == "account_opening"
    # Nothing typed was logged.
    assert "민준" not in caplog.text and "1990-01-01" not in caplog.text


@pytest.mark.parametrize("fields, error", [
    ({"birth_date": "1990-02-30"}, "birth_date"),
    ({"birth_date": "yesterday"}, "birth_date"),
    ({"birth_date": "3000-01-01"}, "birth_date"),
    ({"birth_date": ""}, "birth_date"),
    ({"family_name": "  "}, "family_name"),
    ({"given_name": "x" * 101}, "given_name"),
    ({"given_name": "a\x00b"}, "given_name"),
])
def test_a_bad_application_gets_a_form_error(client, services, fields, error):
    response = apply(client, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 200  # the form again, with its errors, as the resident forms do
    assert 'class="form-errors"' in page
    assert re.search(rf'id="{error}"[^>]*aria-invalid="true"', page, re.S)
    assert transactions(services) == 0


def test_missing_and_repeated_fields_are_not_a_500(client):
    token = csrf_of(client.get("/demo/bank"))
    response = client.post("/demo/bank", data={"csrf_token": token})
    assert response.status_code == 200 and 'class="form-errors"' in response.get_data(as_text=True)
    response = client.post("/demo/bank", data={"csrf_token": token, "family_name": ["김", "이"], "given_name": "민준",
                                               "birth_date": "1990-01-01"})
    assert response.status_code == 303


def test_an_unknown_request_is_a_404_page(client):
    response = client.get("/demo/bank/requests/AAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": BROWSER})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "404" in response.get_data(as_text=True)
    assert client.get("/demo/bank/requests/..%2f", headers={"Accept": BROWSER}).status_code == 404
    token = csrf_of(client.get("/demo/bank"))
    response = client.post("/demo/bank/requests/AAAAAAAAAAAAAAAAAAAAAA/video-call", data={"csrf_token": token},
                           headers={"Accept": BROWSER})
    assert response.status_code == 404


def test_another_tenants_request_is_not_shown(client, services):
    from did_service.clock import utcnow
    from did_service.services.tenants import create_tenant

    other, _ = create_tenant(services.store, "Other Bank", "financial-institution", utcnow())
    created = services.verifier.create_request(other, {"policy": "account_opening"})
    response = client.get(f"/demo/bank/requests/{created.body['id']}", headers={"Accept": BROWSER})
    assert response.status_code == 404


def test_the_key_file_is_sealed_0600_and_reused_by_another_app_instance(client, services, tmp_path):
    request_id = request_id_of(apply(client))
    path = services.settings.instance_dir / demo_bank.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    assert "dsvk1." not in content  # sealed, never in clear
    assert not list(path.parent.glob(".demo_bank.key.*"))  # no temporary file left behind

    # A second app on the same instance (another worker) uses the same key and sees the same request.
    second = build_services(make_settings(services.settings.instance_dir))
    try:
        other = create_app(services=second).test_client()
        response = other.get(f"/demo/bank/requests/{request_id}")
        assert response.status_code == 200 and request_id in response.get_data(as_text=True)
        assert request_id_of(apply(other)) != request_id
    finally:
        second.store.close()
    assert path.read_text() == content


def test_a_lost_race_reads_the_winners_file(app, services):
    with app.test_request_context("/demo/bank"):
        path = demo_bank.key_path()
        winner = demo_bank._register(path)
        loser = demo_bank._register(path)  # the file exists: this one's key is revoked, the winner's is used
        assert loser == winner
        assert demo_bank.bank().name == "Jeju Demo Bank"


def test_a_key_file_the_store_refuses_gives_503_not_500(client, services, tmp_path):
    request_id_of(apply(client))
    fresh = build_services(make_settings(services.settings.instance_dir,
                                         store_url=f"sqlite:///{tmp_path / 'other.db'}"))
    try:
        response = create_app(services=fresh).test_client().post(
            "/demo/bank", data={**APPLICATION, "csrf_token": "x"}, headers={"Accept": BROWSER})
        assert response.status_code == 400  # CSRF first
        other = create_app(services=fresh).test_client()
        token = csrf_of(other.get("/demo/bank"))
        response = other.post("/demo/bank", data={**APPLICATION, "csrf_token": token}, headers={"Accept": BROWSER})
        assert response.status_code == 503 and response.mimetype == "text/html"
    finally:
        fresh.store.close()


# --- a decision and the second method ----------------------------------------------------------------------------

@pytest.fixture
def holder():
    return keylib.signing_key_from_private(keylib.generate_private_key("ES256"))


@pytest.fixture
def identity(client, auth, holder):
    subject = {**load_subject("ResidentIdentityCredential"), "familyName": "김", "givenName": "민준",
               "birthDate": "1990-01-01", "residentRegistrationNumber": RRN,
               "id": did_jwk_from_public_jwk(holder.public_jwk)}
    response = client.post("/credentials/issue", headers=auth,
                           json=issue_body("ResidentIdentityCredential", subject, format="dc+sd-jwt"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["verifiableCredential"]


def test_decided_then_approved_after_a_video_call(client, identity, holder, caplog):
    caplog.set_level(logging.DEBUG)
    request_id = request_id_of(apply(client))
    status_url = f"/demo/bank/requests/{request_id}"
    page = client.get(status_url).get_data(as_text=True)
    link = html.unescape(re.search(r'id="deep-link">([^<]+)<', page).group(1))
    request = fetch_request_object(client, {"deep_link": link})
    claims = request["dcql_query"]["credentials"][0]["claims"]
    reveal = [c["path"][0] for c in claims]
    assert "residentRegistrationNumber" in reveal  # a financial institution is given the RRN
    assert answer(client, request, identity, holder, reveal).status_code == 200

    response = client.get(status_url, headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert "Decided" in page and "Rejected" in page and "http-equiv" not in page
    assert re.search(r'check-failed">\s*<span class="check-status">Failed</span>\s*<span class="check-id"><code>verification_methods', page)
    assert "900101-1******" in page and RRN not in page
    assert "민준" in page and 'href="/verifier/v1/keys"' in page
    assert 'id="receipt">ey' in page
    assert "qr.png" not in page

    token = csrf_of(client.get(status_url))
    # Without the token nothing is recorded.
    assert client.post(f"{status_url}/video-call", data={}).status_code == 400
    response = client.post(f"{status_url}/video-call", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == status_url
    page = client.get(status_url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Approved" in page and "Video call" in page
    assert "Record a video call check" not in page  # recorded once
    page = client.get(status_url).get_data(as_text=True)
    assert "승인" in page and "영상통화" in page
    assert "민준" not in caplog.text and RRN not in caplog.text and "900101" not in caplog.text
