"""Residents enroll with the one-time code of their letter, log in and out (HTML pages, Korean and English).

Cookies (see services/sessions.py for what they hold):

* Over https (the public URL's scheme) the session cookie is ``__Host-did_session``: Secure, HttpOnly,
  SameSite=Lax, Path=/ and no Domain, which the ``__Host-`` prefix makes the browser enforce (no subdomain can
  set or shadow it). Browsers refuse ``Secure`` and ``__Host-`` cookies over plain http, so in development over
  http the cookie is ``did_session`` (HttpOnly, SameSite=Lax, not Secure). The pre-session cookie of the
  pre-login forms follows the same rule (``__Host-did_presession`` / ``did_presession``).

CSRF: every POST carries ``csrf_token``; a POST without a valid one gets a 400 page and changes nothing.
Logged in, the token is derived from the session id; before login, from the signed pre-session cookie.

Limits: 30 login POSTs per client address per minute, and 5 attempts per login ID per 15 minutes. The store
can count but neither peek nor give back, so the per-ID budget is taken *before* the password is checked (a
locked ID is refused without learning whether the password was right) and a successful login uses one of the
five too. Wrong password and unknown login ID answer alike.

Nothing typed into these forms is logged: no password, code, login ID, name or RRN.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from functools import cached_property

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for

from did_service.core.residents import Resident
from did_service.errors import DidServiceError, NotFound, StoreConflict
from did_service.services.residents import PASSWORD_MAX, PASSWORD_MIN, resident_subject
from did_service.services.sessions import PRESESSION_SECONDS, Session
from did_service.web.extensions import services
from did_service.web.i18n import current_locale, current_path, safe_next

log = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)

LOGIN_ID_FAILS, LOGIN_ID_WINDOW = 5, 15 * 60
LOGIN_IP_LIMIT, ENROLL_IP_LIMIT, IP_WINDOW = 30, 30, 60
MAX_FIELD = 1024  # a longer value is treated as wrong, never echoed
_LOGIN_ID_NOISE = re.compile(r"[\s\-]")
RESIDENT_PREFIX = resident_subject("")


# --- cookies --------------------------------------------------------------------------------------------------

def _https() -> bool:
    return bool(current_app.config["PUBLIC_URL_HTTPS"])


def session_cookie_name() -> str:
    # __Host- needs Secure, which browsers only accept over https: plain name for http development.
    return "__Host-did_session" if _https() else "did_session"


def presession_cookie_name() -> str:
    return "__Host-did_presession" if _https() else "did_presession"


def _set_cookie(response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=_https(), httponly=True, samesite="Lax")


def _drop_cookie(response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=_https(), httponly=True, samesite="Lax")


# --- who is logged in -------------------------------------------------------------------------------------------

@dataclass
class Account:
    session: Session

    @property
    def resident_id(self) -> str:
        return self.session.subject[len(RESIDENT_PREFIX):]

    @cached_property
    def resident(self) -> Resident:
        return services().residents.resident(self.resident_id)

    def display_given_name(self) -> str:
        resident = self.resident
        return resident.given_name if current_locale() == "ko" else resident.given_name_romanized

    def display_name(self) -> str:
        resident = self.resident
        if current_locale() == "ko":
            return resident.family_name + resident.given_name
        return f"{resident.given_name_romanized} {resident.family_name_romanized}"


def current_account() -> Account | None:
    """The resident logged in on this request (their session recorded as used), or None."""
    if "account" not in g:
        g.account = None
        cookie = request.cookies.get(session_cookie_name())
        if cookie:
            svc = services()
            session = svc.sessions.current(cookie)
            if session is None or not session.subject.startswith(RESIDENT_PREFIX):
                g.drop_session_cookie = True
            elif not svc.residents.is_active(session.subject):
                svc.sessions.end(cookie)  # disabled since the login: the session ends here
                g.drop_session_cookie = True
            else:
                g.account = Account(session)
    return g.account


def header_account() -> Account | None:
    """current_account for the page header: a page (an error page above all) renders even when it fails."""
    try:
        account = current_account()
        if account is not None:
            account.resident  # noqa: B018 - loaded here so a failure shows as logged out, not as a 500
        return account
    except Exception:  # noqa: BLE001
        log.exception("the logged-in resident could not be loaded for the page header")
        return None


def csrf_token() -> str:
    """The token this request's forms carry: from the session when logged in, else from the pre-session."""
    sessions = services().sessions
    account = header_account()
    if account is not None:
        return sessions.csrf_token(account.session.session_id)
    if "presession_nonce" not in g:
        nonce = sessions.presession_nonce(request.cookies.get(presession_cookie_name()))
        if nonce is None:
            g.new_presession = sessions.new_presession()
            nonce = sessions.presession_nonce(g.new_presession)
        g.presession_nonce = nonce
    return sessions.presession_csrf_token(g.presession_nonce)


def csrf_ok(*, session_only: bool = False) -> bool:
    sessions = services().sessions
    token = request.form.get("csrf_token")
    account = current_account()
    if account is not None and sessions.check_csrf(account.session.session_id, token):
        return True
    if session_only:
        return False
    return sessions.check_presession_csrf(request.cookies.get(presession_cookie_name()), token)


def csrf_refused():
    retry = request.path if request.path in (url_for("accounts.enroll"), url_for("accounts.login")) \
        else url_for("portal.index")
    return render_template("portal/form_error.html", retry_url=retry), 400


@bp.after_app_request
def _cookies(response):
    if g.get("login_session") is not None:
        _set_cookie(response, session_cookie_name(), g.login_session.session_id, services().sessions.max_seconds)
        _drop_cookie(response, presession_cookie_name())
    elif g.get("drop_session_cookie"):
        _drop_cookie(response, session_cookie_name())
    if g.get("new_presession") and g.get("login_session") is None:
        _set_cookie(response, presession_cookie_name(), g.new_presession, PRESESSION_SECONDS)
    return response


# --- forms --------------------------------------------------------------------------------------------------------

def _field(name: str) -> str:
    value = request.form.get(name, "")
    return value if isinstance(value, str) else ""


def _client() -> str:
    return request.remote_addr or "unknown"


def _bucket(kind: str, value: str) -> str:
    """A rate counter's name: what was typed (a login ID, maybe a mistyped password) or an address is kept in
    the store only as a keyed hash."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return f"{kind}:" + hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def _log_in(subject: str) -> None:
    """Start a new session for ``subject``; the one this request came with (if any) is deleted first."""
    sessions = services().sessions
    sessions.end(request.cookies.get(session_cookie_name()))
    g.login_session = sessions.start(subject)
    g.account = Account(g.login_session)


@bp.route("/enroll", methods=["GET", "POST"])
def enroll():
    if request.method == "GET":
        return render_template("portal/enroll.html", code="", errors=[])
    svc = services()
    # CSRF first: a token-less POST (anyone's browser, made to) must not spend the address's budget.
    if not csrf_ok():
        return csrf_refused()
    if not svc.store.take_rate_token(_bucket("enroll-ip", _client()), ENROLL_IP_LIMIT, IP_WINDOW, svc.clock()):
        return render_template("portal/enroll.html", code="", errors=["too_many"]), 429
    code, password, confirm = _field("code"), _field("password"), _field("password_confirm")
    shown_code = code if len(code) <= 64 else ""
    errors = []
    if not code.strip():
        errors.append("code_missing")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors.append("weak_password")
    elif password != confirm:
        errors.append("password_mismatch")
    if errors:
        return render_template("portal/enroll.html", code=shown_code, errors=errors)
    try:
        subject = svc.residents.enroll(code, password)
    except DidServiceError as exc:
        known = {"invalid_enrollment_code": "invalid_code", "already_enrolled": "already_enrolled",
                 "weak_password": "weak_password"}
        if exc.code not in known:
            raise
        log.info("an enrollment was refused (%s)", exc.code)
        return render_template("portal/enroll.html", code=shown_code, errors=[known[exc.code]])
    log.info("a resident enrolled")
    _log_in(subject)
    return redirect(url_for("accounts.wallet", welcome=1), code=303)


def _normalize_login_id(value: str) -> str:
    return _LOGIN_ID_NOISE.sub("", value.upper())[:64] if len(value) <= MAX_FIELD else ""


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next")) if request.values.get("next") else url_for("accounts.wallet")
    if request.method == "GET":
        if current_account() is not None:
            return redirect(target, code=303)
        return render_template("portal/login.html", login_id="", errors=[], next=target)
    svc = services()
    now = svc.clock()

    def again(error: str, status: int = 200, login_id: str = ""):
        return render_template("portal/login.html", login_id=login_id, errors=[error], next=target), status

    if not csrf_ok():
        return csrf_refused()
    if not svc.store.take_rate_token(_bucket("login-ip", _client()), LOGIN_IP_LIMIT, IP_WINDOW, now):
        return again("too_many", 429)
    login_id, password = _normalize_login_id(_field("login_id")), _field("password")
    shown_id = login_id if len(login_id) <= 32 else ""
    if not login_id or not password:
        return again("missing", login_id=shown_id)
    if not svc.store.take_rate_token(_bucket("login-fail", login_id), LOGIN_ID_FAILS, LOGIN_ID_WINDOW, now):
        log.info("a login was refused: too many attempts for one login ID")
        return again("locked", 429, shown_id)
    subject = resident_subject(login_id)
    if not svc.residents.check_password(subject, password):
        log.info("a login failed")
        return again("wrong", login_id=shown_id)
    try:
        _log_in(subject)
    except StoreConflict:  # disabled between the check and now
        return again("wrong", login_id=shown_id)
    log.info("a resident logged in")
    return redirect(target, code=303)


@bp.post("/logout")
def logout():
    account = current_account()
    if account is None:
        return redirect(url_for("portal.index"), code=303)
    if not csrf_ok(session_only=True):
        return csrf_refused()
    services().sessions.end(account.session.session_id)
    g.account, g.drop_session_cookie = None, True
    return redirect(url_for("portal.index"), code=303)


@bp.get("/wallet")
def wallet():
    account = current_account()
    if account is None:
        return redirect(url_for("accounts.login", next=current_path()), code=303)
    try:
        resident = account.resident
    except NotFound:  # the registry no longer has the resident: end the session
        services().sessions.end(account.session.session_id)
        g.account, g.drop_session_cookie = None, True
        return redirect(url_for("accounts.login"), code=303)
    return render_template("portal/wallet.html", login_id=account.resident_id, name=account.display_name(),
                           masked_rrn=resident.masked_rrn, welcome=request.args.get("welcome") == "1",
                           has_residence=resident.residence_subject() is not None)


@bp.get("/wallet/present")
def wallet_present():
    """A same-device link from a verifier's page: the wallet opens with the request filled in (read on load,
    shown for consent; nothing is sent without the resident's click)."""
    link = request.args.get("request", "")
    return redirect(url_for("accounts.wallet", request=link[:4096]), code=303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(current_account=header_account, csrf_token=csrf_token)
