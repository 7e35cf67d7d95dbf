"""Residents: importing the registry, one-time enrollment codes, and the accounts residents enroll into.

Personal data (names, birth date, address, RRN) is sealed before it reaches the store (AES-256-GCM under a key
derived from the KEK, bound to the resident id). Finding a resident imported twice uses an HMAC of the RRN under
another KEK-derived key: without that key the index cannot be brute-forced, which a plain hash of a number this
short could be.

An enrollment code is shown once (on the letter the operator prints), stored only as its SHA-256, expires, and is
spent atomically. Enrolling sets a password, hashed with argon2id; the login ID is the resident id printed on the
same letter.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from did_service.core.residents import Resident, parse_registry
from did_service.core.sealed import open_sealed, seal
from did_service.errors import Conflict, NotFound, Unauthorized, Unprocessable, StoreConflict
from did_service.storage.base import AccountRecord, EnrollmentCodeRecord, ResidentRecord, Store

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper and typed in
CODE_GROUPS, CODE_GROUP_LENGTH = 3, 4
PASSWORD_MIN, PASSWORD_MAX = 10, 256
_CODE_INPUT = re.compile(r"[^A-Z0-9]")
_HASHER = PasswordHasher()  # argon2id, the library's RFC 9106 low-memory profile


RESIDENT_PREFIX = "resident:"


def resident_subject(resident_id: str) -> str:
    return RESIDENT_PREFIX + resident_id


@dataclass(frozen=True)
class Imported:
    resident_id: str
    masked_rrn: str
    enrollment_code: str  # shown once, for the letter
    code_expires_at: datetime


class ResidentService:
    def __init__(self, store: Store, *, seal_key: bytes, index_key: bytes, clock: Callable[[], datetime],
                 code_ttl: timedelta = timedelta(days=14)) -> None:
        self._store, self._seal_key, self._index_key = store, seal_key, index_key
        self._clock, self._code_ttl = clock, code_ttl

    # --- the registry -------------------------------------------------------------------------------------

    def import_registry(self, text: str) -> list[Imported]:
        """Import every row, all or nothing, and give each new resident an enrollment code.

        Conflict (resident_exists) when a resident in the file was imported before: the file is refused whole,
        so importing the same file twice changes nothing."""
        residents = parse_registry(text)
        now = self._clock()
        ids = [_resident_id() for _ in residents]
        records = [ResidentRecord(resident_id=rid, sealed=self._seal(rid, r), rrn_index=self.rrn_index(r.rrn),
                                  created_at=now) for rid, r in zip(ids, residents)]
        try:
            self._store.add_residents(records)
        except StoreConflict as exc:
            raise Conflict("a resident in the file is already in the registry; nothing was imported",
                           code="resident_exists") from exc
        out = []
        for record, resident in zip(records, residents):
            code, expires = self.new_enrollment_code(record.resident_id)
            out.append(Imported(record.resident_id, resident.masked_rrn, code, expires))
        return out

    def disable(self, resident_id: str) -> int:
        """Disable a resident: no enrollment, login or collecting any more, and every session ends now. Returns
        how many sessions ended. NotFound for an unknown resident."""
        now = self._clock()
        if not self._store.set_resident_status(resident_id, "disabled", now):
            raise NotFound("no such resident", code="resident_not_found")
        subject = resident_subject(resident_id)
        ended = self._store.delete_sessions_of(subject)
        # Also ends any session started since, and refuses new ones; no account (never enrolled) is fine.
        self._store.disable_account(subject, now)
        return ended

    def resident(self, resident_id: str) -> Resident:
        record = self._store.get_resident(resident_id)
        if record is None:
            raise NotFound("no such resident", code="resident_not_found")
        return Resident.from_dict(open_sealed(self._seal_key, "resident:" + resident_id, record.sealed))

    def rrn_index(self, rrn: str) -> str:
        return hmac.new(self._index_key, rrn.encode("ascii"), hashlib.sha256).hexdigest()

    def new_enrollment_code(self, resident_id: str) -> tuple[str, datetime]:
        now = self._clock()
        code = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
                        for _ in range(CODE_GROUPS))
        expires = now + self._code_ttl
        try:
            self._store.add_enrollment_code(EnrollmentCodeRecord(_code_hash(code), resident_id, now, expires))
        except StoreConflict as exc:
            raise NotFound("no such resident", code="resident_not_found") from exc
        return code, expires

    # --- enrollment ---------------------------------------------------------------------------------------

    def enroll(self, code: str, password: str) -> str:
        """Spend the code and create the resident's account; returns the subject (``resident:<id>``).

        Unauthorized (invalid_enrollment_code) for a wrong, used or expired code, alike: which one it was is
        not the caller's to learn."""
        _check_password(password)
        resident_id = self._store.consume_enrollment_code(_code_hash(normalize_code(code)), self._clock())
        if resident_id is None:
            raise Unauthorized("the enrollment code is wrong, used or expired", code="invalid_enrollment_code")
        subject = resident_subject(resident_id)
        try:
            self._store.add_account(AccountRecord(subject, _HASHER.hash(password), self._clock()))
        except StoreConflict as exc:
            # Enrolled before with another letter: the code is spent; the existing password stays.
            raise Conflict("this resident has already enrolled; log in instead", code="already_enrolled") from exc
        return subject

    def is_active(self, subject: str) -> bool:
        """The resident behind ``subject`` exists and is not disabled."""
        record = self._store.get_resident(subject[len(RESIDENT_PREFIX):]) if subject.startswith(RESIDENT_PREFIX) else None
        return record is not None and record.status == "active"

    def check_password(self, subject: str, password: str) -> bool:
        """True when the account exists, is not disabled and the password matches (rehashing an outdated hash)."""
        account = self._store.get_account(subject)
        if account is None or account.disabled_at is not None or not isinstance(password, str) \
                or len(password) > PASSWORD_MAX or not self.is_active(subject):
            _HASHER.hash("timing-equalizer")  # about the same work as a real check, so absence does not show
            return False
        try:
            _HASHER.verify(account.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if _HASHER.check_needs_rehash(account.password_hash):
            self._store.set_password(subject, _HASHER.hash(password))
        return True

    def _seal(self, resident_id: str, resident: Resident) -> bytes:
        return seal(self._seal_key, "resident:" + resident_id, resident.to_dict())


def normalize_code(code: str) -> str:
    """What a resident types, read as the letter meant it: case, spaces and dashes do not matter."""
    if not isinstance(code, str) or len(code) > 64:
        return ""
    letters = _CODE_INPUT.sub("", code.upper())
    return "-".join(letters[i:i + CODE_GROUP_LENGTH] for i in range(0, len(letters), CODE_GROUP_LENGTH))


def _check_password(password: object) -> None:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Unprocessable(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters", code="weak_password")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def _resident_id() -> str:
    # Printed on the letter as the login ID: short, unambiguous, easy to type.
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
