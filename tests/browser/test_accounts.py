"""A resident's first visit in a real Chromium: enroll with the code of a letter made by `did-service residents
import` against the served instance, see the wallet, log out, log in again, switch to English; screenshots of the
forms and the wallet at phone and desktop widths."""

from __future__ import annotations


import pytest

from tests.browser.conftest import DESKTOP, PHONE

REGISTRY = (
    "family_name,given_name,family_name_romanized,given_name_romanized,birth_date,sex,street_address,locality,"
    "region,postal_code,rrn\n"
    "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567\n"
    "김,영희,Kim,Younghee,1985-05-05,2,중앙로 1,서귀포시,제주특별자치도,63500,850505-2345678\n"
    "이,순신,Lee,Sunsin,1975-04-28,1,관덕로 10,제주시,제주특별자치도,63166,750428-1456789\n"
    "박,지민,Park,Jimin,2001-03-15,2,연동 7길,제주시,제주특별자치도,63125,010315-4123456\n"
    "최,민수,Choi,Minsu,1968-12-01,1,일주동로 3,서귀포시,제주특별자치도,63600,681201-1987654\n"
)
SLOTS = {("phone", "ko"): 1, ("phone", "en"): 2, ("desktop", "ko"): 3, ("desktop", "en"): 4}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def letters(import_residents) -> list[dict]:
    return import_residents(REGISTRY)


def test_enroll_wallet_logout_login_english(open_page, letters, screenshot):
    letter = letters[0]
    watched = open_page("/", viewport=PHONE)
    page = watched.page
    page.get_by_role("link", name="안내문으로 가입하기").click()
    page.wait_for_url("**/enroll")
    assert page.locator("h1").inner_text() == "주민 가입"
    page.get_by_label("가입 코드").fill(letter["enrollment_code"].lower())
    page.get_by_label("새 비밀번호", exact=True).fill(PASSWORD)
    page.get_by_label("새 비밀번호 확인").fill(PASSWORD)
    page.get_by_role("button", name="가입하기").click()

    page.wait_for_url("**/wallet?welcome=1")
    assert page.locator("h1").inner_text() == "내 지갑"
    main = page.locator("main")
    assert "홍길동" in main.inner_text() and "900101-1******" in main.inner_text()
    assert letter["login_id"] in page.locator(".login-id").inner_text()
    assert page.get_by_role("navigation", name="계정").get_by_role("link").inner_text() == "길동 님 (내 지갑)"
    cookie = next(c for c in page.context.cookies() if c["name"] == "did_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not any(c["name"] == "did_presession" for c in page.context.cookies())

    page.get_by_role("button", name="로그아웃").click()
    page.wait_for_url("**/")
    assert not any(c["name"] == "did_session" for c in page.context.cookies())
    page.goto("/wallet")
    page.wait_for_url("**/login?next=/wallet")

    page.get_by_label("로그인 ID").fill(letter["login_id"])
    page.get_by_label("비밀번호").fill(PASSWORD)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url("**/wallet")
    assert "홍길동" in page.locator("main").inner_text()

    page.get_by_role("navigation", name="언어").get_by_role("link", name="English").click()
    page.wait_for_url("**/wallet")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "My wallet"
    assert "Gildong Hong" in page.locator("main").inner_text()
    assert "No credentials yet." in page.locator("main").inner_text()
    assert page.get_by_role("navigation", name="Account").get_by_role("link").inner_text() == "Gildong (my wallet)"
    watched.assert_clean()


def test_wrong_code_is_shown_in_the_form(open_page, screenshot):
    watched = open_page("/enroll", viewport=PHONE)
    page = watched.page
    page.get_by_label("가입 코드").fill("ABCD-EFGH-JKLM")
    page.get_by_label("새 비밀번호", exact=True).fill(PASSWORD)
    page.get_by_label("새 비밀번호 확인").fill(PASSWORD + "x")
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "일치하지 않습니다" in alert.inner_text()
    assert page.get_by_label("가입 코드").input_value() == "ABCD-EFGH-JKLM"
    assert page.get_by_label("새 비밀번호", exact=True).input_value() == ""
    screenshot(page, "enroll-error-phone-ko")
    watched.assert_clean()


@pytest.mark.parametrize("viewport, label", [(PHONE, "phone"), (DESKTOP, "desktop")])
@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_account_pages_fit_and_are_clean(open_page, screenshot, letters, viewport, label, locale):
    for path, name in (("/enroll", "enroll"), ("/login", "login")):
        watched = open_page(path, viewport=viewport, locale=locale)
        page = watched.page
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(page, f"{name}-{label}-{locale[:2]}")
        watched.assert_clean()

    # The wallet, in this viewport and language: a resident of its own enrolls.
    letter = letters[SLOTS[label, locale[:2]]]
    page = watched.page
    page.goto("/enroll")
    page.locator("#code").fill(letter["enrollment_code"])
    page.locator("#password").fill(PASSWORD)
    page.locator("#password_confirm").fill(PASSWORD)
    page.locator("form.stack button").click()
    page.wait_for_url("**/wallet*")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.locator(".login-id").inner_text() == letter["login_id"]
    screenshot(page, f"wallet-{label}-{locale[:2]}")
    watched.assert_clean()
