"""The resident registry as the issuer imports it: one CSV row per resident, checked before anything is stored.

A row becomes a ``Resident``: the claims a resident identity credential is issued from (names in Hangul and
romanized, birth date, sex, address, the issuing authority) and the resident registration number. Every error
names the row and the column, never a value: the file is full of personal data.

The RRN (``YYMMDD-GNNNNNN``): its first six digits are the birth date, and G gives the century (9/0: 1800s,
1/2 and 5/6: 1900s, 3/4 and 7/8: 2000s; 5-8 for foreign residents). Numbers issued since October 2020 carry
no check digit, so none is checked. It is shown only masked (``900101-1******``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Iterator

from did_service.errors import Unprocessable

COLUMNS = (
    "family_name", "given_name", "family_name_romanized", "given_name_romanized", "birth_date", "sex",
    "street_address", "locality", "region", "postal_code", "rrn", "moved_in_date", "household",
)
OPTIONAL = ("sex", "moved_in_date", "household")
REQUIRED = tuple(c for c in COLUMNS if c not in OPTIONAL)
RELATIONS = ("head", "spouse", "child", "parent", "sibling", "grandparent", "grandchild", "other")
MAX_ROWS = 100_000
MAX_FIELD = 200

_RRN = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})-([0-9])([0-9]{6})")
_CENTURY = {"9": 1800, "0": 1800, "1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000,
            "8": 2000}
_HANGUL_NAME = re.compile(r"[\uac00-\ud7a3]{1,20}")
_ROMANIZED = re.compile(r"[A-Za-z][A-Za-z .'-]{0,49}")
_POSTAL = re.compile(r"[0-9]{5}")
_SEX = {"": None, "0": 0, "1": 1, "2": 2, "9": 9}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class InvalidRegistry(Unprocessable):
    code = "invalid_resident_registry"
    title = "The resident registry file is not acceptable"


@dataclass(frozen=True)
class Resident:
    family_name: str
    given_name: str
    family_name_romanized: str
    given_name_romanized: str
    birth_date: str  # YYYY-MM-DD
    sex: int | None  # ISO/IEC 5218
    street_address: str
    locality: str
    region: str
    postal_code: str
    rrn: str
    moved_in_date: str | None = None  # YYYY-MM-DD: the household's move-in (전입일), for a residence certificate
    household: tuple[tuple[str, str], ...] = ()  # (name, relation to the head), the head among them

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "household": [list(member) for member in self.household]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Resident":
        values = {name: data[name] for name in COLUMNS if name in data}
        values["household"] = tuple(tuple(member) for member in data.get("household", ()))
        return cls(**values)

    def residence_subject(self) -> dict[str, Any] | None:
        """The credentialSubject of a ResidenceCertificateCredential, or None when the registry row has no move-in
        date and household for one."""
        if self.moved_in_date is None or not self.household:
            return None
        return {"address": self.address(), "movedInDate": self.moved_in_date,
                "household": [{"name": name, "relation": relation} for name, relation in self.household]}

    @property
    def masked_rrn(self) -> str:
        return mask_rrn(self.rrn)

    def identity_subject(self, issuing_authority: str) -> dict[str, Any]:
        """The credentialSubject of a ResidentIdentityCredential issued from this record."""
        subject: dict[str, Any] = {
            "familyName": self.family_name,
            "givenName": self.given_name,
            "familyNameRomanized": self.family_name_romanized,
            "givenNameRomanized": self.given_name_romanized,
            "birthDate": self.birth_date,
            "address": self.address(),
            "residentRegistrationNumber": self.rrn,
            "issuingAuthority": issuing_authority,
        }
        if self.sex is not None:
            subject["sex"] = self.sex
        return subject

    def address(self) -> dict[str, str]:
        return {"streetAddress": self.street_address, "locality": self.locality, "region": self.region,
                "postalCode": self.postal_code, "country": "KR"}


def mask_rrn(rrn: str) -> str:
    """``900101-1******``: the birth date and the century/sex digit, nothing that identifies the person."""
    match = _RRN.fullmatch(rrn)
    if not match:
        raise ValueError("not a resident registration number")
    return rrn[:8] + "*" * 6


def rrn_birth_date(rrn: str) -> date | None:
    """The birth date an RRN encodes, or None when it is not a well-formed RRN of a real date."""
    match = _RRN.fullmatch(rrn)
    if not match:
        return None
    yy, mm, dd, g, _ = match.groups()
    try:
        return date(_CENTURY[g] + int(yy), int(mm), int(dd))
    except ValueError:
        return None


def parse_registry(text: str) -> list[Resident]:
    """Every row of a registry CSV (UTF-8, a header row naming the columns), or InvalidRegistry for the first
    rows that are wrong (at most ten reported). All or nothing: one bad row refuses the file."""
    if text.startswith("\ufeff"):  # a spreadsheet's UTF-8 byte order mark
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InvalidRegistry("the file has no header row") from exc
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise InvalidRegistry("the header must name the columns " + ", ".join(COLUMNS)
                              + " (" + ", ".join(OPTIONAL) + " optional)"
                              + (f"; missing: {', '.join(missing)}" if missing else "")
                              + ("; unknown or repeated columns" if unknown or len(set(header)) != len(header) else ""))
    residents, problems, seen = [], [], {}
    for number, row in _rows(reader):
        if len(residents) >= MAX_ROWS:
            raise InvalidRegistry(f"at most {MAX_ROWS} residents per file")
        if len(row) != len(header):
            problems.append(f"row {number}: expected {len(header)} fields, found {len(row)}")
        else:
            fields = dict(zip(header, row))
            try:
                resident = _resident(fields)
            except _RowError as exc:
                problems.append(f"row {number}: {exc}")
            else:
                if resident.rrn in seen:
                    problems.append(f"row {number}: the same resident registration number as row {seen[resident.rrn]}")
                else:
                    seen[resident.rrn] = number
                    residents.append(resident)
        if len(problems) >= 10:
            break
    if problems:
        raise InvalidRegistry("; ".join(problems))
    if not residents:
        raise InvalidRegistry("the file holds no resident")
    return residents


class _RowError(Exception):
    pass


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    number = 1
    try:
        for row in reader:
            number += 1
            if row and any(cell.strip() for cell in row):
                yield number, row
    except csv.Error as exc:
        raise InvalidRegistry(f"row {number + 1}: not well-formed CSV") from exc


def _text(fields: dict[str, str], name: str) -> str:
    value = unicodedata.normalize("NFC", fields.get(name, "")).strip()
    if not value:
        raise _RowError(f"{name} is empty")
    if len(value) > MAX_FIELD or _CONTROL.search(value):
        raise _RowError(f"{name} is too long or holds control characters")
    return value


def _resident(fields: dict[str, str]) -> Resident:
    family, given = _text(fields, "family_name"), _text(fields, "given_name")
    for name, value in (("family_name", family), ("given_name", given)):
        if not _HANGUL_NAME.fullmatch(value):
            raise _RowError(f"{name} must be written in Hangul")
    romanized = {}
    for name in ("family_name_romanized", "given_name_romanized"):
        value = _text(fields, name)
        if not _ROMANIZED.fullmatch(value):
            raise _RowError(f"{name} must be Latin letters")
        romanized[name] = value
    birth_text = _text(fields, "birth_date")
    try:
        birth = date.fromisoformat(birth_text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", birth_text) else None
    except ValueError:
        birth = None
    if birth is None:
        raise _RowError("birth_date must be a date YYYY-MM-DD")
    rrn = _text(fields, "rrn")
    if rrn_birth_date(rrn) is None:
        raise _RowError("rrn must be YYMMDD-GNNNNNN with a real date")
    if rrn_birth_date(rrn) != birth:
        raise _RowError("rrn does not encode birth_date")
    sex_text = fields.get("sex", "").strip()
    if sex_text not in _SEX:
        raise _RowError("sex must be empty or an ISO/IEC 5218 code (0, 1, 2, 9)")
    postal = _text(fields, "postal_code")
    if not _POSTAL.fullmatch(postal):
        raise _RowError("postal_code must be five digits")
    moved_in, household = _residence(fields)
    return Resident(
        family_name=family, given_name=given, birth_date=birth.isoformat(), sex=_SEX[sex_text],
        street_address=_text(fields, "street_address"), locality=_text(fields, "locality"),
        region=_text(fields, "region"), postal_code=postal, rrn=rrn, moved_in_date=moved_in, household=household,
        **romanized,
    )


def _residence(fields: dict[str, str]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """moved_in_date and household come together or not at all. household: ``name:relation`` members separated
    by ``;``, exactly one of them the ``head``."""
    moved_text = unicodedata.normalize("NFC", fields.get("moved_in_date", "")).strip()
    household_text = unicodedata.normalize("NFC", fields.get("household", "")).strip()
    if not moved_text and not household_text:
        return None, ()
    if not moved_text or not household_text:
        raise _RowError("moved_in_date and household are given together or not at all")
    try:
        moved = date.fromisoformat(moved_text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", moved_text) else None
    except ValueError:
        moved = None
    if moved is None:
        raise _RowError("moved_in_date must be a date YYYY-MM-DD")
    if len(household_text) > 3000 or _CONTROL.search(household_text):
        raise _RowError("household is too long or holds control characters")
    members = []
    for part in household_text.split(";"):
        name, _, relation = part.strip().rpartition(":")
        name = name.strip()
        if not name or len(name) > 100 or relation.strip() not in RELATIONS:
            raise _RowError("household members are name:relation (head, spouse, child, ...) separated by ;")
        members.append((name, relation.strip()))
    if len(members) > 30 or [r for _, r in members].count("head") != 1:
        raise _RowError("a household has at most 30 members and exactly one head")
    return moved.isoformat(), tuple(members)
