"""The demo bank in a real Chromium against a served instance: the application, the QR page while pending, the
project's CLI wallet answering the deep link, the page refreshing to its decision (rejected: one method), then
the video call check that approves it. Screenshots on a phone and a desktop, in Korean and English."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from tests.browser.conftest import DESKTOP, PHONE
from tests.e2e.conftest import DID_SERVICE
from tests.support import load_subject

RRN = "900101-1234567"


def cli(env, cwd, *args: str) -> str:
    result = subprocess.run([DID_SERVICE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def issue_identity(portal_url: str, env: dict, work) -> None:
    """An issuer (token from the CLI) issues the resident's identity credential over HTTP, as dc+sd-jwt bound to
    a key the CLI wallet made: holder.jwk and sd.json in ``work``."""
    token = cli(env, work, "token", "create", "--role", "issuer").strip()
    holder_did = cli(env, work, "wallet", "key", "--alg", "ES256", "--out", "holder.jwk").strip()
    subject = {**load_subject("ResidentIdentityCredential"), "residentRegistrationNumber": RRN, "id": holder_did}
    body = {"credential": {"type": ["VerifiableCredential", "ResidentIdentityCredential"], "credentialSubject": subject},
            "options": {"format": "dc+sd-jwt"}}
    request = urllib.request.Request(f"{portal_url}/credentials/issue", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        (work / "sd.json").write_bytes(response.read())


def fill_application(page, family: str, given: str, born: str, button: str) -> None:
    page.locator("#family_name").fill(family)
    page.locator("#given_name").fill(given)
    page.locator("#birth_date").fill(born)
    page.get_by_role("button", name=button).click()
    page.wait_for_url("**/demo/bank/requests/*")


def test_open_an_account_with_the_wallet_and_a_video_call(open_page, portal_url, portal_env, screenshot,
                                                          tmp_path):
    watched = open_page("/demo/bank", viewport=PHONE)
    page = watched.page
    assert page.locator("h1").inner_text() == "비대면 계좌 개설"
    assert page.get_by_label("성", exact=True).is_visible() and page.get_by_label("생년월일").is_visible()
    screenshot(page, "demo-bank-form-phone-ko")

    # A bad birth date is a form error, in place.
    page.locator("#family_name").fill("홍")
    page.locator("#given_name").fill("길동")
    page.locator("#birth_date").evaluate("e => { e.type = 'text'; }")  # a browser's picker cannot send a bad date
    page.locator("#birth_date").fill("1990-02-30")
    with page.expect_response("**/demo/bank") as answer:
        page.get_by_role("button", name="전자지갑으로 본인 확인하기").click()
    assert answer.value.status == 200
    assert "생년월일을 실제 날짜로" in page.locator(".form-errors").inner_text()
    assert page.locator("#birth_date").get_attribute("aria-invalid") == "true"

    fill_application(page, "홍", "길동", "1990-01-01", "전자지갑으로 본인 확인하기")
    assert page.locator("#request-status").inner_text() == "전자지갑의 응답을 기다리는 중"
    qr = page.locator("img.qr")
    qr.wait_for()
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 0  # the PNG loaded under the CSP
    link = page.locator("#deep-link").inner_text().strip()
    assert link.startswith("openid4vp://?client_id=")
    wallet_href = page.get_by_role("link", name="이 기기의 내 전자지갑에서 열기").get_attribute("href")
    assert wallet_href.startswith("/wallet/present?request=openid4vp%3A%2F%2F")
    screenshot(page, "demo-bank-pending-phone-ko")

    # The resident's CLI wallet answers the deep link with an identity credential bound to its key.
    issue_identity(portal_url, portal_env, tmp_path)
    answered = json.loads(cli(portal_env, tmp_path, "wallet", "respond", "--credential", "sd.json",
                              "--key", "holder.jwk", "--request", link))
    assert answered["status"] == 200

    # The page refreshes itself (meta refresh, no script) to the decision: one method is not enough.
    page.locator("#request-status", has_text="판정 완료").wait_for(timeout=15000)
    assert "거절" in page.locator("#decision").inner_text()
    failed = " ".join(page.locator(".check-failed").all_inner_texts())
    assert "verification_methods" in failed
    assert page.locator("img.qr").count() == 0
    screenshot(page, "demo-bank-rejected-phone-ko")

    page.get_by_role("button", name="영상통화 확인 기록하기").click()
    page.locator("#decision", has_text="승인").wait_for()
    claims = page.locator("#returned-claims").inner_text()
    assert "홍" in claims and "길동" in claims and "1990-01-01" in claims
    assert "900101-1******" in claims and RRN not in page.content()
    assert "영상통화" in page.locator(".methods").inner_text()
    assert page.locator(".check-failed").count() == 0
    receipt = page.locator("details.receipt")
    receipt.locator("summary").click()
    assert receipt.locator("#receipt").inner_text().startswith("ey")
    assert receipt.get_by_role("link", name="/verifier/v1/keys").get_attribute("href") == "/verifier/v1/keys"
    screenshot(page, "demo-bank-approved-phone-ko")

    page.set_viewport_size(DESKTOP)
    page.get_by_role("navigation", name="언어").get_by_role("link", name="English").click()
    page.locator("html[lang=en]").wait_for(state="attached")
    assert "Approved" in page.locator("#decision").inner_text()
    assert "Gildong" not in page.locator("#returned-claims").inner_text()  # the claims as issued: 길동
    screenshot(page, "demo-bank-approved-desktop-en")
    watched.assert_clean()


def test_the_application_and_the_qr_page_in_english_on_a_desktop(open_page, screenshot):
    watched = open_page("/demo/bank", viewport=DESKTOP, locale="en-US")
    page = watched.page
    assert page.locator("h1").inner_text() == "Open an account remotely"
    screenshot(page, "demo-bank-form-desktop-en")
    fill_application(page, "Hong", "Gildong", "1990-01-01", "Verify me with my wallet")
    assert page.locator("#request-status").inner_text() == "Waiting for your wallet"
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    screenshot(page, "demo-bank-pending-desktop-en")
    watched.assert_clean()
