"""The wallet in a real Chromium: the holder key is made by WebCrypto in the page (non-extractable, kept in
IndexedDB), the key proof is signed there, and the credential that comes back is bound to that key. A street
address holding markup shows as text."""

from __future__ import annotations

import base64
import json

from tests.browser.conftest import DESKTOP, PHONE

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
REGISTRY = (
    "family_name,given_name,family_name_romanized,given_name_romanized,birth_date,sex,street_address,locality,"
    "region,postal_code,rrn\n"
    f"한,라산,Han,Rasan,1992-07-07,2,\"{XSS.replace(chr(34), chr(34) * 2)}\",제주시,제주특별자치도,63122,920707-2111111\n"
)
PASSWORD = "correct horse battery"


def _b64json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def enroll(page, code: str) -> None:
    page.goto("/enroll")
    page.get_by_label("가입 코드").fill(code)
    page.get_by_label("새 비밀번호", exact=True).fill(PASSWORD)
    page.get_by_label("새 비밀번호 확인").fill(PASSWORD)
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_url("**/wallet?welcome=1")


def test_collect_an_identity_credential_bound_to_a_browser_key(open_page, import_residents, screenshot):
    (letter,) = import_residents(REGISTRY)
    watched = open_page("/", viewport=PHONE)
    page = watched.page
    enroll(page, letter["enrollment_code"])
    page.locator("#credential-list .empty").wait_for()  # the script has opened the wallet and found it empty
    assert page.locator("#credential-list").inner_text().startswith("아직 증명서가 없습니다")

    try:
        with page.expect_response("**/wallet/api/credentials", timeout=10000) as answer:
            page.get_by_role("button", name="주민등록증 받기").click()
    except Exception:
        raise AssertionError(f"no answer; status: {page.locator('#wallet-status').inner_text()!r}, "
                             f"console: {watched.console_errors}, errors: {watched.page_errors}, "
                             f"responses: {watched.bad_responses}")
    assert answer.value.status == 201
    issued = answer.value.json()["credential"]["id"].split(",", 1)[1]
    card = page.locator(".credential-card")
    card.wait_for()
    text = card.inner_text()
    assert "주민등록증" in text and "라산" in text and "Rasan" in text
    assert XSS.split(">")[0] in text  # the markup is shown as characters ...
    assert page.evaluate("window.__xss") is None  # ... and never ran
    assert page.locator(".credential-card img").count() == 0
    assert "920707" not in text  # the RRN is in the credential, not on the card

    # The credential is bound to the page's key: cnf.jwk is the public key WebCrypto made, and the private key
    # cannot be exported from the page.
    claims = _b64json(issued.split("~", 1)[0].split(".")[1])
    key_state = page.evaluate("""async () => {
        const db = await new Promise((ok, no) => { const r = indexedDB.open("did-service-wallet");
            r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
        const pair = await new Promise((ok) => { const r = db.transaction("keys").objectStore("keys")
            .get(document.getElementById("wallet").dataset.account); r.onsuccess = () => ok(r.result); });
        const pub = await crypto.subtle.exportKey("jwk", pair.publicKey);
        let exported = true;
        try { await crypto.subtle.exportKey("jwk", pair.privateKey); } catch (e) { exported = false; }
        return {x: pub.x, y: pub.y, extractable: pair.privateKey.extractable, exported};
    }""")
    assert claims["cnf"]["jwk"]["x"] == key_state["x"] and claims["cnf"]["jwk"]["y"] == key_state["y"]
    assert key_state["extractable"] is False and key_state["exported"] is False
    screenshot(page, "wallet-collected-phone-ko")

    # Reloaded, the card is still there (IndexedDB); in English on a desktop.
    page.set_viewport_size(DESKTOP)
    page.get_by_role("navigation", name="언어").get_by_role("link", name="English").click()
    page.wait_for_url("**/wallet?welcome=1")
    page.locator("html[lang=en]").wait_for(state="attached")
    page.locator(".credential-card").wait_for()
    assert "Resident identity credential" in page.locator(".credential-card").inner_text()
    screenshot(page, "wallet-collected-desktop-en")
    watched.assert_clean()


def test_present_to_a_bank_from_the_browser_wallet(open_page, import_residents, portal_env, portal_url, screenshot):
    import subprocess
    import urllib.request

    from tests.e2e.conftest import DID_SERVICE

    registry = REGISTRY.replace("한,라산,Han,Rasan,1992-07-07,2", "오,름,Oh,Reum,1988-08-08,1").replace(
        "920707-2111111", "880808-1222222").replace(XSS.replace('"', '""'), "탑동로 2")
    (letter,) = import_residents(registry)
    watched = open_page("/", viewport=PHONE)
    page = watched.page
    enroll(page, letter["enrollment_code"])
    page.locator("button[data-collect]").click()
    page.locator(".credential-card").wait_for()

    created = subprocess.run([DID_SERVICE, "verifier", "create", "--name", "Hallasan Bank", "--role", "general"],
                             env=portal_env, capture_output=True, text=True, timeout=60)
    key = created.stdout.strip().splitlines()[-1]
    request = urllib.request.Request(f"{portal_url}/verifier/v1/requests", method="POST",
                                     data=json.dumps({"policy": "account_opening"}).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        bank_request = json.loads(answer.read())

    page.fill("#present-link", bank_request["deep_link"])
    page.locator("#present-form button[type=submit]").click()
    page.locator("#consent h3").wait_for()
    consent = page.locator("#consent").inner_text()
    assert "Hallasan Bank" in consent and "residentRegistrationNumber" not in consent
    screenshot(page, "wallet-consent-phone-ko")
    page.locator("#consent-share").click()
    page.locator("#present-status:not(:empty)").wait_for()
    assert page.locator("#consent").is_hidden()

    result_request = urllib.request.Request(f"{portal_url}/verifier/v1/requests/{bank_request['id']}",
                                            headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(result_request, timeout=10) as answer:
        decided = json.loads(answer.read())
    assert decided["status"] == "decided", decided
    decision = decided["decision"]
    checks = {c["id"]: c["status"] for c in decision["checks"]}
    assert checks["credential.holder_binding"] == "passed" and checks["minimal_disclosure"] == "passed"
    assert decision["returnedClaims"] == {"familyName": "오", "givenName": "름", "birthDate": "1988-08-08"}
    assert decision["reasons"] == ["insufficient_methods"]  # the bank has not reported its second method

    # The wallet remembers, on this device only, what it shared with whom.
    history = page.locator("#history-list li")
    history.first.wait_for()
    assert "Hallasan Bank" in history.first.inner_text() and "생년월일" in history.first.inner_text()
    # A shared or old device: everything of this account leaves the browser.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#remove-device").click()
    page.locator("#credential-list .empty").wait_for()
    assert page.locator("#history-list li").count() == 0
    assert page.evaluate("""async () => {
        const db = await new Promise((ok) => { const r = indexedDB.open("did-service-wallet"); r.onsuccess = () => ok(r.result); });
        return await new Promise((ok) => { const r = db.transaction("keys").objectStore("keys")
            .get(document.getElementById("wallet").dataset.account); r.onsuccess = () => ok(r.result === undefined); });
    }""")
    screenshot(page, "wallet-removed-phone-ko")
    watched.assert_clean()
