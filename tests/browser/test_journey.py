"""The whole journey in one real Chromium, as issue 7 describes it: an imported resident enrolls, collects an
identity credential into the browser wallet, opens an account at the demo bank on the same device (the bank's
link opens the wallet with the request), consents, and the bank sees the decision with exactly the claims it
asked for; a video call check then approves it."""

from __future__ import annotations

from tests.browser.conftest import PHONE
from tests.browser.test_wallet import PASSWORD

REGISTRY = (
    "family_name,given_name,family_name_romanized,given_name_romanized,birth_date,sex,street_address,locality,"
    "region,postal_code,rrn,moved_in_date,household\n"
    "강,하늘,Kang,Haneul,1995-05-05,2,노형로 5,제주시,제주특별자치도,63080,950505-2333333,2021-09-01,강하늘:head\n"
)


def test_enroll_collect_and_open_an_account_on_one_device(open_page, import_residents, screenshot):
    (letter,) = import_residents(REGISTRY)
    watched = open_page("/enroll", viewport=PHONE)
    page = watched.page
    page.get_by_label("가입 코드").fill(letter["enrollment_code"])
    page.get_by_label("새 비밀번호", exact=True).fill(PASSWORD)
    page.get_by_label("새 비밀번호 확인").fill(PASSWORD)
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_url("**/wallet?welcome=1")
    page.locator("button[data-collect=ResidentIdentityCredential]").click()
    page.locator(".credential-card").wait_for()
    page.locator("button[data-collect=ResidenceCertificateCredential]").click()
    page.locator(".credential-card", has_text="주민등록등본").wait_for()
    assert "2021-09-01" in page.locator(".credential-card", has_text="주민등록등본").inner_text()

    # The bank: an application for this applicant, and its "open in my wallet on this device" link.
    page.goto("/demo/bank")
    page.locator("#family_name").fill("강")
    page.locator("#given_name").fill("하늘")
    page.locator("#birth_date").fill("1995-05-05")
    page.get_by_role("button", name="전자지갑으로 본인 확인하기").click()
    page.wait_for_url("**/demo/bank/requests/*")
    bank_page = page.url
    page.get_by_role("link", name="이 기기의 내 전자지갑에서 열기").click()

    # The wallet reads the request on arrival and asks for consent: who, and exactly what.
    page.wait_for_url(lambda url: "/wallet?request=" in url)
    page.locator("#consent h3").wait_for()
    consent = page.locator("#consent").inner_text()
    assert "Jeju Demo Bank" in consent and "확인됨" in consent
    assert [item.strip() for item in page.locator("#consent li").all_inner_texts()] == [
        "성", "이름", "생년월일", "주민등록번호 (검증 기관에 전체가 제공됩니다)"]
    screenshot(page, "journey-consent-phone-ko")
    page.locator("#consent-share").click()
    page.locator("#present-status", has_text="제출했습니다").wait_for()

    page.goto(bank_page)
    page.locator("#request-status", has_text="판정 완료").wait_for(timeout=15000)
    assert "거절" in page.locator("#decision").inner_text()  # one method so far
    page.get_by_role("button", name="영상통화 확인 기록하기").click()
    page.locator("#decision", has_text="승인").wait_for()
    claims = page.locator("#returned-claims").inner_text()
    assert "강" in claims and "하늘" in claims and "1995-05-05" in claims and "950505-2******" in claims
    assert "노형로" not in claims  # the address was never asked for, so never shared
    screenshot(page, "journey-approved-phone-ko")
    watched.assert_clean()
