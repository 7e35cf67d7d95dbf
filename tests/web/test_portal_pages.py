"""The portal's public pages: Korean by default, English by cookie or Accept-Language, a language switch that
redirects only within the site, security headers, and HTML errors for browsers while the API keeps RFC 9457."""

from __future__ import annotations

import configparser
import fnmatch
import io
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from did_service.web import i18n
from tests.support import TESTS_DIR

ROOT = TESTS_DIR.parent
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTML_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
CATALOGS = {lang: i18n.TRANSLATIONS_DIR / lang / "LC_MESSAGES" for lang in i18n.LOCALES}


def html_lang(response) -> str:
    match = re.search(r'<html lang="([a-z]+)">', response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


# --- locale --------------------------------------------------------------------------------------------------

def test_korean_by_default(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert html_lang(response) == "ko"
    text = response.get_data(as_text=True)
    assert "본문 바로가기" in text and "디지털 증명 서비스" in text
    assert "Skip to main content" not in text


@pytest.mark.parametrize("header, expected", [
    ("en-US,en;q=0.9", "en"),
    ("en", "en"),
    ("ko-KR,ko;q=0.9,en;q=0.8", "ko"),
    ("fr-FR,fr;q=0.9", "ko"),        # neither: Korean
    ("fr;q=1,en;q=0.5", "en"),
])
def test_accept_language(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header})
    assert html_lang(response) == expected


def test_english_by_cookie_overrides_accept_language(client):
    client.set_cookie("lang", "en")
    response = client.get("/log", headers={"Accept-Language": "ko"})
    assert html_lang(response) == "en"
    assert "Transparency log" in response.get_data(as_text=True)


def test_unknown_cookie_value_is_ignored(client):
    client.set_cookie("lang", "xx")
    assert html_lang(client.get("/", headers={"Accept-Language": "en"})) == "en"


def test_switch_sets_the_cookie_and_goes_back(client):
    response = client.get("/lang/en?next=/log")
    assert response.status_code == 303
    assert response.headers["Location"] == "/log"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;")
    for attribute in ("HttpOnly", "Path=/", "SameSite=Lax"):
        assert attribute in cookie
    assert "Secure" not in cookie  # the public URL here is http
    assert html_lang(client.get("/log")) == "en"
    client.get("/lang/ko?next=/")
    assert html_lang(client.get("/", headers={"Accept-Language": "en"})) == "ko"


def test_switch_cookie_is_secure_behind_https(tmp_path):
    from did_service.services.container import build_services
    from did_service.web import create_app
    from tests.support import make_settings

    services = build_services(make_settings(tmp_path / "instance", public_url="https://issuer.example"))
    try:
        client = create_app(services=services).test_client()
        response = client.get("/lang/en?next=/")
        assert "Secure" in response.headers["Set-Cookie"]
        assert client.get("/").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    finally:
        services.store.close()


def test_switch_keeps_the_query(client):
    response = client.get("/lang/en", query_string={"next": "/log?a=1&b=2"})
    assert response.headers["Location"] == "/log?a=1&b=2"


@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/%0d%0aSet-Cookie:x=y",
    " //evil.example",
    "",
])
def test_switch_refuses_to_leave_the_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in location or location.startswith("/%")  # only ever a path on this site


def test_switch_refuses_control_characters(client):
    response = client.get("/lang/en", query_string={"next": "/log\r\nSet-Cookie: x=y"})
    assert response.headers["Location"] == "/"


def test_switch_rejects_unknown_language(client):
    assert client.get("/lang/fr?next=/").status_code == 404
    assert "Set-Cookie" not in client.get("/lang/fr?next=/").headers


def test_switch_links_point_back_to_this_page(client):
    text = client.get("/log?x=1").get_data(as_text=True)
    assert 'href="/lang/en?next=/log?x%3D1"' in text or 'href="/lang/en?next=/log%3Fx%3D1"' in text


# --- headers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/log"])
def test_html_pages_get_the_page_csp(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == HTML_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert {"Accept-Language", "Cookie"} <= set(response.vary)
    assert "Strict-Transport-Security" not in response.headers  # http public URL
    text = response.get_data(as_text=True)
    assert "style=" not in text and "<style" not in text and "<script" not in text


def test_json_keeps_the_strict_csp(client):
    response = client.get("/.well-known/did.json")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_stylesheet_is_served_and_small(client):
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    static = ROOT / "did_service" / "static"
    # Issue 7: the pages ship under 100 KB of JavaScript and CSS together.
    assert sum(p.stat().st_size for p in static.rglob("*") if p.suffix in (".css", ".js")) < 100 * 1024


# --- pages ---------------------------------------------------------------------------------------------------

def test_landing_page_links(client, services):
    text = client.get("/").get_data(as_text=True)
    assert services.issuer_did in text
    for href in ('href="/log"', 'href="/.well-known/did.json"', 'href="#main"'):
        assert href in text


def test_log_page_shows_the_latest_checkpoint(client, services):
    size = services.log.checkpoint().size
    text = client.get("/log", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f">{size:,} entr" in text
    assert 'href="/log/v1/checkpoint"' in text
    assert "did-service log audit \\\n    --url http://127.0.0.1:5000 \\" in text
    korean = client.get("/log").get_data(as_text=True)
    assert f"항목 {size:,}개" in korean and "직접 감사하기" in korean


# --- errors --------------------------------------------------------------------------------------------------

def test_browser_gets_an_html_404(client):
    response = client.get("/no-such-page", headers={"Accept": BROWSER})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "페이지를 찾을 수 없습니다" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == HTML_CSP
    english = client.get("/no-such-page", headers={"Accept": BROWSER, "Accept-Language": "en"})
    assert "Page not found" in english.get_data(as_text=True)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html;q=0.5"])
def test_non_browsers_get_problem_documents(client, accept):
    response = client.get("/no-such-page", headers={"Accept": accept} if accept else {})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("path", [
    "/credentials/nope", "/presentations/nope", "/verifier/nope", "/oid4vp/nope", "/admin/v1/nope",
    "/log/v1/nope", "/status/nope", "/vct/nope", "/.well-known/nope",
])
def test_api_paths_keep_problem_documents_for_browsers(client, path):
    response = client.get(path, headers={"Accept": BROWSER})
    assert response.status_code in (404, 405)
    assert response.mimetype == "application/problem+json"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_browser_gets_an_html_500(app, client):
    def boom():
        raise RuntimeError("secret internals")
    app.add_url_rule("/boom", "boom", boom)
    response = client.get("/boom", headers={"Accept": BROWSER})
    assert response.status_code == 500 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "오류가 발생했습니다" in text and "secret internals" not in text
    api = client.get("/boom")
    assert api.status_code == 500 and api.get_json()["code"] == "internal_error"


def test_html_405_keeps_allow(client):
    response = client.post("/log", headers={"Accept": BROWSER})
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert "GET" in response.headers["Allow"]


# --- catalogs ------------------------------------------------------------------------------------------------

def _template_msgids() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT / "templates"), [("**.html", "jinja2")]):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_template_string_has_a_korean_translation():
    with (CATALOGS["ko"] / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="ko")
    translated = {(m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in catalog if m.id}
    missing = sorted(i for i in _template_msgids() if not translated.get(i) or translated[i] in ("", ("",)))
    assert missing == []
    assert not [m.id for m in catalog if m.id and m.fuzzy]


@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_committed_mo_matches_its_po(lang):
    with (CATALOGS[lang] / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    assert buffer.getvalue() == (CATALOGS[lang] / "messages.mo").read_bytes()


def test_package_data_carries_static_files_and_catalogs():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["did_service"].split(",")]
    package = ROOT / "did_service"
    for folder in ("static", "translations"):
        for path in (package / folder).rglob("*"):
            if path.is_file() and path.suffix in (".css", ".js", ".po", ".mo"):
                relative = str(path.relative_to(package))
                assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
