"""Residents enroll with the code of their letter, log in and out: sessions, CSRF, limits, cookies, escaping."""

from __future__ import annotations

import sqlite3

import logging
import re
from datetime import timedelta

import pytest

from did_service.clock import utcnow
from did_service.errors import ConfigurationError
from did_service.services.residents import resident_subject
from tests.support import make_settings

REGISTRY = (
    "family_name,given_name,family_name_romanized,given_name_romanized,birth_date,sex,street_address,locality,"
    "region,postal_code,rrn\n"
    "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567\n"
    "김,영희,Kim,Younghee,1985-05-05,2,중앙로 1,서귀포시,제주특별자치도,63500,850505-2345678\n"
)
PASSWORD = "correct horse battery"
INVALID_CODE_KO = "유효하지 않은 가입 코드입니다"
WRONG_LOGIN_KO = "로그인 ID 또는 비밀번호가 올바르지 않습니다."
LOCKED_KO = "15분 동안 잠겼습니다"
CSRF_KO = "양식을 처리할 수 없습니다"


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(services):
    clock = Clock()
    services.clock = clock
    return clock


@pytest.fixture
def letters(services, clock):
    """Two imported residents: [(login_id, code), ...]."""
    return [(item.resident_id, item.enrollment_code) for item in services.residents.import_registry(REGISTRY)]


def csrf_of(response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF field on the page"
    return match.group(1)


def session_cookie(client):
    cookie = client.get_cookie("did_session")
    return cookie.value if cookie else None


def enroll(client, code, password=PASSWORD, confirm=None, **extra):
    token = csrf_of(client.get("/enroll"))
    data = {"csrf_token": token, "code": code, "password": password,
            "password_confirm": password if confirm is None else confirm, **extra}
    return client.post("/enroll", data=data)


def login(client, login_id, password=PASSWORD, **extra):
    token = csrf_of(client.get("/login?next=/wallet") if session_cookie(client) is None else client.get("/enroll"))
    return client.post("/login", data={"csrf_token": token, "login_id": login_id, "password": password, **extra})


def text(response) -> str:
    return response.get_data(as_text=True)


def errors_block(response) -> str:
    match = re.search(r'<div class="form-errors".*?</div>', text(response), re.S)
    assert match, "no error summary"
    return match.group(0)


def logged_in(client) -> bool:
    response = client.get("/wallet")
    return response.status_code == 200


# --- enrollment -------------------------------------------------------------------------------------------------

def test_enroll_happy_path(client, services, letters):
    login_id, code = letters[0]
    response = enroll(client, code.lower().replace("-", " "))  # typed as the resident reads it
    assert response.status_code == 303 and response.headers["Location"] == "/wallet?welcome=1"
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("did_session="))
    for attribute in ("HttpOnly", "Path=/", "SameSite=Lax"):
        assert attribute in session
    assert "Secure" not in session  # http public URL: a browser would drop a Secure cookie
    assert any(c.startswith("did_presession=;") for c in cookies)  # the pre-session ends at login

    page = client.get("/wallet?welcome=1")
    body = text(page)
    assert page.status_code == 200
    assert login_id in body and "홍길동" in body and "900101-1******" in body and "가입이 완료되었습니다" in body
    assert "900101-1234567" not in body
    assert "길동 님" in body and "로그아웃" in body  # the header
    assert "증명서가 여기에 표시됩니다" in body
    assert services.store.get_account(resident_subject(login_id)) is not None


def test_enroll_page_does_not_ask_for_the_login_id(client):
    body = text(client.get("/enroll"))
    assert 'name="code"' in body and 'name="password"' in body and 'name="password_confirm"' in body
    assert 'name="login_id"' not in body


@pytest.mark.parametrize("how", ["wrong", "used", "expired"])
def test_enroll_refuses_a_bad_code_with_one_message(client, app, letters, clock, how):
    login_id, code = letters[0]
    if how == "wrong":
        code = "ABCD-EFGH-JKLM"
    elif how == "used":
        assert enroll(app.test_client(), code).status_code == 303
    else:
        clock.advance(days=15)
    response = enroll(client, code)
    assert response.status_code == 200
    body = text(response)
    assert INVALID_CODE_KO in errors_block(response)
    assert f'value="{code}"' in body  # the code stays in the form
    assert PASSWORD not in body  # the password never does
    assert session_cookie(client) is None


def test_enroll_error_is_the_same_for_wrong_used_and_expired(app, services, letters, clock):
    _, first = letters[0]
    assert enroll(app.test_client(), first).status_code == 303
    used = errors_block(enroll(app.test_client(), first))
    wrong = errors_block(enroll(app.test_client(), "ZZZZ-ZZZZ-ZZZZ"))
    clock.advance(days=15)
    expired = errors_block(enroll(app.test_client(), letters[1][1]))
    assert used == wrong == expired


@pytest.mark.parametrize("password, confirm, message", [
    ("short", "short", "10자 이상"),
    ("x" * 257, "x" * 257, "10자 이상"),
    ("", "", "10자 이상"),
    (PASSWORD, PASSWORD + "!", "일치하지 않습니다"),
])
def test_enroll_refuses_weak_or_mismatched_passwords_without_spending_the_code(
        client, app, letters, password, confirm, message):
    _, code = letters[0]
    response = enroll(client, code, password, confirm)
    assert response.status_code == 200 and message in errors_block(response)
    body = text(response)
    assert f'value="{code}"' in body
    if password:
        assert f'value="{password}"' not in body and f'value="{confirm}"' not in body
    assert enroll(app.test_client(), code).status_code == 303  # the code still works


def test_enroll_missing_code(client, letters):
    response = enroll(client, "   ")
    assert "가입 코드를 입력해 주십시오" in errors_block(response)


def test_enroll_twice_with_a_new_letter_says_already_enrolled(app, services, letters):
    login_id, code = letters[0]
    assert enroll(app.test_client(), code).status_code == 303
    second, _ = services.residents.new_enrollment_code(login_id)
    response = enroll(app.test_client(), second)
    assert "이미 가입하셨습니다" in errors_block(response)


def test_enroll_in_english(client, letters):
    client.set_cookie("lang", "en")
    response = enroll(client, "ABCD-EFGH-JKLM")
    assert "This enrollment code is not valid" in errors_block(response)
    response = enroll(client, letters[0][1], PASSWORD, "something else!")
    assert "The two passwords do not match" in errors_block(response)


# --- login ------------------------------------------------------------------------------------------------------

@pytest.fixture
def enrolled(app, letters):
    login_id, code = letters[0]
    assert enroll(app.test_client(), code).status_code == 303
    return login_id


def test_login_ok_and_wallet(client, enrolled):
    response = login(client, enrolled.lower())  # case and dashes do not matter
    assert response.status_code == 303 and response.headers["Location"] == "/wallet"
    assert logged_in(client)
    # Logged in, /login goes straight on.
    assert client.get("/login").status_code == 303


def test_wrong_password_and_unknown_id_answer_alike(client, app, enrolled):
    wrong = login(client, enrolled, "not the password")
    unknown = login(app.test_client(), "ABCDEFGHJKLM", PASSWORD)
    assert wrong.status_code == unknown.status_code == 200
    assert WRONG_LOGIN_KO in errors_block(wrong)
    assert errors_block(wrong) == errors_block(unknown)
    assert "not the password" not in text(wrong)
    assert session_cookie(client) is None


def test_missing_fields(client):
    response = client.post("/login", data={"csrf_token": csrf_of(client.get("/login"))})
    assert response.status_code == 200 and "로그인 ID와 비밀번호를 입력해 주십시오" in errors_block(response)


def test_lockout_after_five_failures_even_with_the_right_password(app, enrolled, clock):
    attacker = app.test_client()
    for _ in range(5):
        assert WRONG_LOGIN_KO in errors_block(login(attacker, enrolled, "wrong password!"))
    for who in (attacker, app.test_client()):  # the login ID is locked, whoever asks
        response = login(who, enrolled, PASSWORD)
        assert response.status_code == 429
        block = errors_block(response)
        assert LOCKED_KO in block and WRONG_LOGIN_KO not in block
        assert session_cookie(who) is None
    clock.advance(minutes=15)
    assert login(app.test_client(), enrolled).status_code == 303


def test_four_failures_do_not_lock(client, enrolled):
    for _ in range(4):
        login(client, enrolled, "wrong password!")
    assert login(client, enrolled).status_code == 303


def test_login_posts_per_address_are_limited(client, clock):
    token = csrf_of(client.get("/login"))
    for i in range(30):
        response = client.post("/login", data={"csrf_token": token, "login_id": f"ID{i:010d}", "password": "x" * 10})
        assert response.status_code == 200
    response = client.post("/login", data={"csrf_token": token, "login_id": "OTHER", "password": "x" * 10})
    assert response.status_code == 429 and "1분 뒤에" in errors_block(response)
    clock.advance(minutes=1)
    assert client.post("/login", data={"csrf_token": token, "login_id": "OTHER", "password": "x"}).status_code == 200


def test_next_is_kept_and_safe(client, enrolled):
    response = client.get("/wallet")
    assert response.status_code == 303 and response.headers["Location"] == "/login?next=/wallet"
    page = client.get("/login?next=/wallet")
    assert 'name="next" value="/wallet"' in text(page)
    response = login(client, enrolled, next="//evil.example/")
    assert response.status_code == 303 and response.headers["Location"] == "/"


# --- CSRF ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "forged", "A" * 43, "x" * 5000])
def test_enroll_without_a_valid_token_is_refused_and_changes_nothing(client, app, services, letters, token):
    login_id, code = letters[0]
    client.get("/enroll")  # the pre-session cookie is there
    data = {"code": code, "password": PASSWORD, "password_confirm": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/enroll", data=data)
    assert response.status_code == 400 and CSRF_KO in text(response)
    assert services.store.get_account(resident_subject(login_id)) is None
    assert session_cookie(client) is None
    assert enroll(app.test_client(), code).status_code == 303  # the code was not spent


def test_csrf_page_in_english(client):
    client.set_cookie("lang", "en")
    client.get("/login")
    response = client.post("/login", data={"login_id": "X", "password": "y"})
    assert response.status_code == 400 and "The form could not be accepted" in text(response)
    assert "Nothing was changed" in text(response)


def test_login_token_of_another_pre_session_is_refused(app, enrolled):
    victim, attacker = app.test_client(), app.test_client()
    token = csrf_of(attacker.get("/login"))
    victim.get("/login")  # the victim has a pre-session of its own
    response = victim.post("/login", data={"csrf_token": token, "login_id": enrolled, "password": PASSWORD})
    assert response.status_code == 400 and session_cookie(victim) is None


def test_login_without_a_pre_session_cookie_is_refused(app, enrolled):
    client = app.test_client()
    token = csrf_of(client.get("/login"))
    client.delete_cookie("did_presession")
    response = client.post("/login", data={"csrf_token": token, "login_id": enrolled, "password": PASSWORD})
    assert response.status_code == 400 and session_cookie(client) is None


def test_pre_session_cookie_is_signed_and_expires(app, services, enrolled, clock):
    client = app.test_client()
    token = csrf_of(client.get("/login"))
    cookie = client.get_cookie("did_presession")
    nonce, issued, mac = cookie.value.split(".")
    client.set_cookie("did_presession", f"{nonce}.{int(issued) + 3600}.{mac}")  # tampered
    assert client.post("/login", data={"csrf_token": token, "login_id": enrolled, "password": PASSWORD}).status_code == 400
    client.set_cookie("did_presession", cookie.value)
    clock.advance(hours=3)
    assert client.post("/login", data={"csrf_token": token, "login_id": enrolled, "password": PASSWORD}).status_code == 400


def test_logout_needs_the_session_token(client, enrolled):
    login(client, enrolled)
    page_token = csrf_of(client.get("/wallet"))
    response = client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400 and logged_in(client)
    assert client.post("/logout").status_code == 400 and logged_in(client)
    assert client.post("/logout", data={"csrf_token": page_token}).status_code == 303  # the page's own token
    assert not logged_in(client)


def test_every_form_carries_a_token(client, enrolled):
    for path in ("/enroll", "/login"):
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", text(client.get(path)), re.S)
        assert forms and all('name="csrf_token"' in form for form in forms)
    login(client, enrolled)
    for path in ("/", "/wallet", "/log", "/enroll"):
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", text(client.get(path)), re.S)
        assert forms and all('name="csrf_token"' in form for form in forms)


# --- sessions ---------------------------------------------------------------------------------------------------

def test_session_rotates_at_login(app, services, enrolled):
    client = app.test_client()
    client.set_cookie("did_session", "planted-by-someone-else")
    login(client, enrolled)
    first = session_cookie(client)
    assert first and first != "planted-by-someone-else" and len(first) == 43  # 32 bytes, base64url
    login(client, enrolled)  # logging in again, logged in
    second = session_cookie(client)
    assert second != first
    assert services.sessions.current(first) is None
    client.set_cookie("did_session", first)
    assert client.get("/wallet").status_code == 303
    # Only the hash is stored.
    assert services.store.get_session(first, services.clock()) is None


def test_logout_then_replaying_the_cookie(client, enrolled):
    login(client, enrolled)
    cookie = session_cookie(client)
    token = csrf_of(client.get("/wallet"))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert session_cookie(client) is None
    assert "로그인" in text(client.get("/")) and "로그아웃" not in text(client.get("/"))
    client.set_cookie("did_session", cookie)  # replayed
    response = client.get("/wallet")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login")
    assert session_cookie(client) is None  # the dead cookie is cleared


def test_idle_timeout_and_touching_at_most_once_a_minute(client, services, enrolled, clock):
    login(client, enrolled)
    session_hash = __import__("hashlib").sha256(session_cookie(client).encode()).hexdigest()
    first_seen = services.store.get_session(session_hash, clock()).last_seen_at
    clock.advance(seconds=30)
    assert logged_in(client)
    assert services.store.get_session(session_hash, clock()).last_seen_at == first_seen  # not written
    clock.advance(minutes=20)
    assert logged_in(client)  # touched now
    clock.advance(minutes=29)
    assert logged_in(client)  # 49 minutes after login, 29 after the last use
    clock.advance(minutes=30)
    assert not logged_in(client)


def test_absolute_timeout(client, enrolled, clock):
    login(client, enrolled)
    for _ in range(35):  # used every 20 minutes: never idle, 11h40
        clock.advance(minutes=20)
        assert logged_in(client)
    clock.advance(minutes=20)  # 12h
    assert not logged_in(client)


def test_session_settings(tmp_path):
    settings = make_settings(tmp_path / "i", session_idle=600, session_max=3600)
    assert (settings.session_idle, settings.session_max) == (600, 3600)
    defaults = make_settings(tmp_path / "i")
    assert (defaults.session_idle, defaults.session_max) == (1800, 43200)
    from did_service.config import Settings
    assert Settings.from_env({"DID_SERVICE_INSTANCE_DIR": str(tmp_path), "DID_SERVICE_SESSION_IDLE": "900",
                              "DID_SERVICE_SESSION_MAX": "7200"}).session_max == 7200
    for idle, maximum in ((30, 3600), (3600, 600), (600, 31 * 86400), (100000, 200000)):
        with pytest.raises(ConfigurationError):
            make_settings(tmp_path / "i", session_idle=idle, session_max=maximum)
    with pytest.raises(ConfigurationError):
        Settings.from_env({"DID_SERVICE_INSTANCE_DIR": str(tmp_path), "DID_SERVICE_SESSION_IDLE": "soon"})


def test_disabling_the_account_logs_out_everywhere(app, services, enrolled):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, enrolled)
    login(laptop, enrolled)
    assert logged_in(phone) and logged_in(laptop)
    services.store.disable_account(resident_subject(enrolled), services.clock())
    assert not logged_in(phone) and not logged_in(laptop)
    assert WRONG_LOGIN_KO in errors_block(login(phone, enrolled))


def test_https_uses_a_host_prefixed_secure_cookie(tmp_path):
    from did_service.services.container import build_services
    from did_service.web import create_app

    services = build_services(make_settings(tmp_path / "instance", public_url="https://issuer.example"))
    try:
        (login_id, code), _ = [(i.resident_id, i.enrollment_code) for i in services.residents.import_registry(REGISTRY)]
        client = create_app(services=services).test_client()
        page = client.get("/enroll", base_url="https://issuer.example")
        pre = page.headers["Set-Cookie"]
        assert pre.startswith("__Host-did_presession=") and "Secure" in pre and "HttpOnly" in pre
        response = client.post("/enroll", base_url="https://issuer.example", data={
            "csrf_token": csrf_of(page), "code": code, "password": PASSWORD, "password_confirm": PASSWORD})
        assert response.status_code == 303
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-did_session="))
        for attribute in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"):
            assert attribute in cookie
        assert "Domain" not in cookie
        assert client.get("/wallet", base_url="https://issuer.example").status_code == 200
    finally:
        services.store.close()


# --- hostile input ------------------------------------------------------------------------------------------------

def test_markup_in_fields_is_escaped(client, enrolled):
    script = "<script>alert(1)</script>"
    response = enroll(client, script)
    body = text(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script" not in body
    response = login(client, script, PASSWORD)
    body = text(response)
    assert "<script" not in body.lower() and "&lt;SCRIPT&gt;" in body
    response = client.get("/login", query_string={"next": '/wallet"><script>alert(1)</script>'})
    assert "<script" not in text(response)


@pytest.mark.parametrize("path", ["/enroll", "/login", "/logout"])
@pytest.mark.parametrize("body, content_type", [
    (b"", "application/x-www-form-urlencoded"),
    (b"code=%FF%FE&password=%C3%28&password_confirm=%C3%28&login_id=%80&csrf_token=%FF", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage=\xff", "application/x-www-form-urlencoded"),
    (b"code=" + b"A" * 5000 + b"&password=" + b"p" * 5000 + b"&login_id=" + b"B" * 5000, "application/x-www-form-urlencoded"),
    (b"code=" + b"A" * 700_000, "application/x-www-form-urlencoded"),
    (b'{"code": "x"}', "application/json"),
    (b"--b\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n\xff\xfe\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    (b"--broken", "multipart/form-data"),
    (b"a=" * 50_000, "application/x-www-form-urlencoded"),
])
def test_malformed_forms_never_give_a_500(client, letters, path, body, content_type):
    client.get("/enroll")
    response = client.post(path, data=body, content_type=content_type,
                           headers={"Accept": "text/html"})
    assert response.status_code < 500


def test_malformed_but_token_carrying_forms_never_give_a_500(client, enrolled):
    token = csrf_of(client.get("/enroll"))
    for data in ({}, {"code": "A" * 5000, "password": "p" * 5000, "password_confirm": "p" * 5000},
                 {"login_id": "\x00\x01", "password": "\x00" * 20}, {"password": "é" * 300, "password_confirm": "é" * 300},
                 {"code": ["a", "b"]}):
        for path in ("/enroll", "/login"):
            response = client.post(path, data={"csrf_token": token, **data})
            assert response.status_code < 500, (path, data)
    for path in ("/enroll", "/login"):  # not UTF-8, with a valid token
        raw = f"csrf_token={token}&code=%FF%FEAB&password=%C3%28{'x' * 12}&password_confirm=%C3%28{'x' * 12}" \
              f"&login_id=%80%81".encode()
        response = client.post(path, data=raw, content_type="application/x-www-form-urlencoded")
        assert response.status_code < 500


def test_nothing_secret_is_logged(client, app, services, letters, caplog):
    caplog.set_level(logging.DEBUG)
    login_id, code = letters[0]
    enroll(client, "WRONG-CODE-1234", PASSWORD)
    enroll(client, code, PASSWORD)
    other = app.test_client()
    login(other, login_id, "a wrong password")
    login(other, login_id, PASSWORD)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, "a wrong password", code, "WRONG-CODE-1234", login_id, "홍", "길동", "Gildong",
                   "900101"):
        assert secret not in logged


def test_rate_counters_keep_no_login_id_or_address_in_clear(client, services):
    typed = "MYSECRETPASSWORD123"  # a password typed into the login ID box
    login(client, typed, "whatever password")
    db = services.settings.instance_dir / "did_service.db"
    with sqlite3.connect(db) as conn:
        buckets = [row[0] for row in conn.execute("SELECT bucket FROM rate_counters")]
    assert buckets and not any(typed in b or "127.0.0.1" in b for b in buckets)


def test_token_less_posts_do_not_spend_the_address_budget(client):
    for _ in range(40):
        assert client.post("/login", data={"login_id": "X", "password": "y" * 10}).status_code == 400
    assert login(client, "SOMEONE00000", "wrong password!").status_code == 200  # not 429
