"""Korean and English for the HTML pages (Flask-Babel).

The locale is, in order: the ``lang`` cookie the language switch sets, the browser's Accept-Language, Korean.
Catalogs live in ``did_service/translations/<lang>/LC_MESSAGES/messages.po``; the compiled ``messages.mo``
beside each is committed (a test checks it matches its ``.po``), so a fresh clone and a wheel need no build step.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, redirect, request
from flask_babel import Babel, get_locale

from did_service.errors import NotFound

LOCALES = ("ko", "en")
DEFAULT_LOCALE = "ko"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def current_locale() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LOCALE


def safe_next(target: str | None) -> str:
    """A relative, same-site path to go back to; anything else (absolute or scheme-relative URLs, backslashes
    that browsers read as slashes, control characters) becomes ``/``."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def current_path() -> str:
    """This request's path and query, for the language switch to come back to."""
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")


@bp.get("/lang/<lang>")
def set_language(lang: str):
    if lang not in LOCALES:
        raise NotFound("no such language")
    response = redirect(safe_next(request.args.get("next")), code=303)
    secure = current_app.config["PUBLIC_URL_HTTPS"]
    response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, path="/", secure=secure, httponly=True, samesite="Lax")
    return response


def init_app(app: Flask, *, https: bool) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    app.config["PUBLIC_URL_HTTPS"] = https
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(current_locale=current_locale, current_path=current_path, locales=LOCALES)
    app.register_blueprint(bp)
