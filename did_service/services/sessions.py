"""Login sessions of the resident portal, and the CSRF tokens of its forms.

A session id is 32 random bytes (base64url) that only the browser's cookie holds; the store keeps its SHA-256
(``SessionRecord.session_hash``), so a copy of the store lets no one in. A session ends after ``idle`` seconds
without use or ``maximum`` seconds after login, whichever comes first, and when it is ended here (logout), or by
the store (disable_account deletes the subject's sessions in the same unit). Logging in always starts a new
session (the caller deletes the one it came with): a session id an attacker planted before login is worth nothing.

A use is written to the store (touch_session) at most once a minute per session, not once per page view: the idle
timeout is therefore counted from a use up to a minute older than the last one.

CSRF:

* Logged in: the form token is HMAC-SHA256(secret key, "csrf|" + session id). It changes with the session, needs
  no storage, and cannot be computed without the session id (HttpOnly) and the secret key.
* Before login (enroll, login): a signed double-submit token. A short-lived *pre-session* cookie holds a random
  nonce, the time it was made and an HMAC over both ("presession|..."); the form carries
  HMAC-SHA256(secret key, "csrf-pre|" + nonce). A POST is accepted only with a pre-session cookie this server
  signed, younger than ``PRESESSION_SECONDS``, and the token derived from its nonce. A cross-site form cannot read
  the cookie or the page, so it cannot send a matching token; the cookie is SameSite=Lax, so a cross-site POST
  does not even carry it. (Over https the cookie is ``__Host-``-prefixed, so a sibling subdomain cannot plant one.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from did_service.storage.base import SessionRecord, Store

PURGE_INTERVAL = 60.0  # seconds between purges of ended sessions, per process
SESSION_ID_BYTES = 32
TOUCH_EVERY = timedelta(minutes=1)
PRESESSION_SECONDS = 2 * 3600
_MAX_COOKIE = 256  # longer cookie or token values are not ours: refused before any work


@dataclass(frozen=True)
class Session:
    session_id: str
    subject: str
    created_at: datetime
    absolute_expires_at: datetime


class SessionService:
    def __init__(self, store: Store, *, secret_key: str, idle_seconds: int, max_seconds: int,
                 clock: Callable[[], datetime]) -> None:
        if not 1 <= idle_seconds <= max_seconds:
            raise ValueError("a session's idle timeout must be positive and at most its absolute timeout")
        self._store, self._key, self._clock = store, secret_key.encode("utf-8"), clock
        self.idle_seconds, self.max_seconds = idle_seconds, max_seconds
        self._last_purge = float("-inf")

    # --- sessions -----------------------------------------------------------------------------------------

    def start(self, subject: str) -> Session:
        """A new session for ``subject``. StoreConflict when the account is disabled (no session is made)."""
        now = self._clock()
        if time.monotonic() - self._last_purge > PURGE_INTERVAL:
            # Ended sessions are a login history: delete them as new ones start rather than keep them forever.
            self._last_purge = time.monotonic()
            self._store.purge_sessions(now, limit=1000)
        session_id = _b64(secrets.token_bytes(SESSION_ID_BYTES))
        expires = now + timedelta(seconds=self.max_seconds)
        self._store.add_session(SessionRecord(_hash(session_id), subject, now, now, self.idle_seconds, expires))
        return Session(session_id, subject, now, expires)

    def current(self, session_id: str | None) -> Session | None:
        """The live session this cookie value names, recording the use (at most once a minute); None otherwise."""
        if not _plausible(session_id):
            return None
        now = self._clock()
        session_hash = _hash(session_id)
        record = self._store.get_session(session_hash, now)
        if record is None:
            return None
        if now - record.last_seen_at >= TOUCH_EVERY and not self._store.touch_session(session_hash, now):
            return None  # ended between the read and the touch
        return Session(session_id, record.subject, record.created_at, record.absolute_expires_at)

    def end(self, session_id: str | None) -> bool:
        if not _plausible(session_id):
            return False
        return self._store.delete_session(_hash(session_id))

    def end_all(self, subject: str) -> int:
        return self._store.delete_sessions_of(subject)

    # --- CSRF ---------------------------------------------------------------------------------------------

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf|" + session_id)

    def check_csrf(self, session_id: str, token: object) -> bool:
        return isinstance(token, str) and len(token) <= _MAX_COOKIE and hmac.compare_digest(
            token.encode("utf-8", "replace"), self.csrf_token(session_id).encode("ascii"))

    def new_presession(self) -> str:
        """A pre-session cookie value: ``nonce.issued.mac``."""
        nonce = _b64(secrets.token_bytes(SESSION_ID_BYTES))
        issued = str(int(self._clock().timestamp()))
        return f"{nonce}.{issued}.{self._mac('presession|' + nonce + '|' + issued)}"

    def presession_nonce(self, cookie: str | None) -> str | None:
        """The nonce of a pre-session cookie this server signed and that is still fresh; None otherwise."""
        if not _plausible(cookie):
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
            return None
        nonce, issued, mac = parts
        if not hmac.compare_digest(mac.encode("ascii"), self._mac("presession|" + nonce + "|" + issued).encode("ascii")):
            return None
        age = self._clock().timestamp() - int(issued)
        return nonce if -60 <= age < PRESESSION_SECONDS else None

    def presession_csrf_token(self, nonce: str) -> str:
        return self._mac("csrf-pre|" + nonce)

    def check_presession_csrf(self, cookie: str | None, token: object) -> bool:
        nonce = self.presession_nonce(cookie)
        return nonce is not None and isinstance(token, str) and len(token) <= _MAX_COOKIE and hmac.compare_digest(
            token.encode("utf-8", "replace"), self.presession_csrf_token(nonce).encode("ascii"))

    def _mac(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest())


def _plausible(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_COOKIE and value.isascii()


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

