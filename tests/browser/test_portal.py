"""The public portal pages in a real Chromium: language, layout at phone and desktop widths, keyboard use,
and no console errors or CSP violations."""

from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE


def test_korean_by_default(open_page):
    for locale in ("ko-KR", "fr-FR"):  # a Korean browser, and one asking for neither language
        watched = open_page("/", locale=locale)
        page = watched.page
        assert page.get_attribute("html", "lang") == "ko"
        assert page.locator("h1").inner_text() == "지방정부가 발급하는 디지털 증명서"
        assert page.title() == "홈 · 디지털 증명 서비스"
        watched.assert_clean()


def test_english_for_an_english_browser(open_page):
    watched = open_page("/", locale="en-US")
    assert watched.page.get_attribute("html", "lang") == "en"
    assert watched.page.locator("h1").inner_text() == "Digital certificates, issued by your regional government"


def test_language_switch_changes_and_sticks(open_page):
    watched = open_page("/log", locale="ko-KR")
    page = watched.page
    switch = page.get_by_role("navigation", name="언어")
    assert switch.get_by_role("link", name="한국어").get_attribute("aria-current") == "true"

    switch.get_by_role("link", name="English").click()
    page.wait_for_url("**/log")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Transparency log"
    cookie = next(c for c in page.context.cookies() if c["name"] == "lang")
    assert cookie["value"] == "en" and cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("link", name="Digital Credential Service").click()  # another page: still English
    page.wait_for_url("**/")
    assert page.get_attribute("html", "lang") == "en"

    page.get_by_role("navigation", name="Language").get_by_role("link", name="한국어").click()
    page.wait_for_url("**/")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.locator("h1").inner_text() == "지방정부가 발급하는 디지털 증명서"
    watched.assert_clean()


@pytest.mark.parametrize("viewport, label", [(PHONE, "phone"), (DESKTOP, "desktop")])
@pytest.mark.parametrize("path, name", [("/", "index"), ("/log", "log")])
@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_pages_fit_and_are_clean(open_page, screenshot, viewport, label, path, name, locale):
    watched = open_page(path, viewport=viewport, locale=locale)
    page = watched.page
    page.wait_for_load_state("networkidle")
    # The stylesheet applied (the header is coloured) and nothing scrolls sideways.
    assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    screenshot(page, f"{name}-{label}-{locale[:2]}")
    watched.assert_clean()


def test_error_page_renders(open_page, screenshot):
    watched = open_page("/no-such-page", viewport=PHONE)
    page = watched.page
    assert page.locator("h1").inner_text() == "페이지를 찾을 수 없습니다"
    screenshot(page, "error-404-phone-ko")
    assert watched.console_errors and all("404" in e for e in watched.console_errors)  # the page's own status
    assert watched.csp_violations() == []


def test_skip_link_is_the_first_tab_stop(open_page):
    watched = open_page("/log", viewport=PHONE)
    page = watched.page
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, document.activeElement.getAttribute('href')]")
    assert focused == ["skip-link", "#main"]
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 0  # shown when focused
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # visible focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the main content, past the header
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_csp_violations_are_detected(open_page):
    """The listener works: an inline style added by script is refused by the CSP and reported."""
    watched = open_page("/")
    watched.page.evaluate("""() => { const s = document.createElement('style'); s.textContent = 'body{color:red}';
                                      document.head.appendChild(s); }""")
    watched.page.wait_for_function("window.__cspViolations.length > 0")
    assert any(v.startswith("style-src") for v in watched.csp_violations())
    assert any("Content Security Policy" in e for e in watched.console_errors)
