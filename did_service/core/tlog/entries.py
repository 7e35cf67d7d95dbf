"""Transparency log entries: RFC 8785 (JCS) JSON objects ``{"v":1,"kind":...}`` holding digests and identifiers.

An entry's bytes are what the log hashes (RFC 9162 leaf hash), so there is exactly one acceptable encoding of each
entry: ``decode_entry`` rejects anything that is not byte-for-byte ``encode_entry`` of what it decodes to
(whitespace, member order, escapes, ``1.0`` for ``1``, duplicate or unknown members, unknown kinds or versions).

Why only digests and identifiers: the log is public, copied by every auditor, and append-only. Nothing written to
it can ever be erased (removing a leaf would break every later checkpoint), so a name, birth date, address or
resident registration number that entered it could never be withdrawn. As a last line of defence every string
member is refused if it contains something shaped like a resident registration number (``\\d{6}-\\d{7}``, the
national identifier most likely to be pasted into an "id" field by mistake). The check is a tripwire, not a
filter: callers must still put only opaque identifiers in entries. Error messages never repeat the value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, ClassVar

import rfc8785

from did_service.core import strict_json
from did_service.errors import Unprocessable

ENTRY_VERSION = 1
MAX_ENTRY_BYTES = 16 * 1024
MAX_TEXT_LENGTH = 2048
MAX_STATUS_REFS = 16
MAX_JSON_INTEGER = 2**53 - 1  # RFC 8785 section 3.2.2.3: numbers are IEEE 754 doubles; larger ints are not exact
STATUS_PURPOSES = frozenset({"revocation", "suspension", "refresh", "message"})  # Bitstring Status List v1.0
KEY_ACTIONS = frozenset({"added", "rotated", "retired"})

_RRN = re.compile(r"\d{6}-\d{7}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_DID = re.compile(r"did:[a-z0-9]+:\S+")
_MULTIBASE_BASE58BTC = re.compile(r"z[1-9A-HJ-NP-Za-km-z]{1,500}")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


class InvalidEntry(Unprocessable):
    """A log entry is malformed, not canonical, or carries a value a public log must not hold."""

    code = "invalid_entry"
    title = "Invalid transparency log entry"


# --- member checks -------------------------------------------------------------------------------------------


def _text(name: str, value: Any, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT_LENGTH:
        raise InvalidEntry(f"{name} must be a non-empty string of at most {MAX_TEXT_LENGTH} characters")
    if _CONTROL.search(value) or not _encodable(value):
        raise InvalidEntry(f"{name} contains a control character or a lone surrogate")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidEntry(f"{name} is not in the required form")
    if _RRN.search(value):
        raise InvalidEntry(f"{name} looks like a resident registration number; the public log holds none")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _integer(name: str, value: Any) -> int:
    # bool is an int subclass but encodes as true/false, so it is refused rather than silently accepted.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_JSON_INTEGER:
        raise InvalidEntry(f"{name} must be an integer in [0, 2**53 - 1]")
    return value


def _choice(name: str, value: Any, allowed: frozenset[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidEntry(f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


def _time(value: Any) -> datetime:
    """UTC at second precision: the only instants an entry can encode (RFC 3339 ``YYYY-MM-DDTHH:MM:SSZ``)."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidEntry("time must be a timezone-aware datetime")
    return value.astimezone(timezone.utc).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with Z, second precision (years zero-padded: strftime does not pad them on every platform)."""
    t = _time(moment)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def parse_time(text: Any) -> datetime:
    """Inverse of ``format_time``; anything else (offsets, fractions, leap seconds) is InvalidEntry."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidEntry("time must be RFC 3339 UTC with Z and second precision")
    try:
        return datetime(*(int(part) for part in match.groups()), tzinfo=timezone.utc)
    except ValueError as exc:
        raise InvalidEntry("time is not a valid instant") from exc


def _set(entry: object, name: str, value: Any) -> None:
    object.__setattr__(entry, name, value)  # frozen dataclasses normalise in __post_init__ this way


# --- entry types ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusRef:
    """A Bitstring Status List position: the list credential's id, the bit index and the status purpose."""

    list: str
    index: int
    purpose: str

    def __post_init__(self) -> None:
        _text("status list", self.list)
        _integer("status index", self.index)
        _choice("status purpose", self.purpose, STATUS_PURPOSES)

    def to_json(self) -> dict[str, Any]:
        return {"list": self.list, "index": self.index, "purpose": self.purpose}


@dataclass(frozen=True)
class IssuedEntry:
    """A credential was issued. ``credential_digest`` is the lowercase hex SHA-256 of the exact secured form."""

    kind: ClassVar[str] = "issued"

    credential_digest: str
    credential_id: str
    credential_type: str
    issuer_kid: str
    status: tuple[StatusRef, ...]
    time: datetime

    def __post_init__(self) -> None:
        _text("credential_digest", self.credential_digest, _DIGEST)
        _text("credential_id", self.credential_id)
        _text("credential_type", self.credential_type)
        _text("issuer_kid", self.issuer_kid)
        _set(self, "status", _status_refs(self.status))
        _set(self, "time", _time(self.time))


@dataclass(frozen=True)
class StatusEntry:
    """A status bit changed: list credential id, index, purpose and the new value."""

    kind: ClassVar[str] = "status"

    list: str
    index: int
    purpose: str
    value: int
    time: datetime

    def __post_init__(self) -> None:
        StatusRef(self.list, self.index, self.purpose)
        _integer("value", self.value)
        if self.purpose in ("revocation", "suspension") and self.value > 1:
            raise InvalidEntry("a revocation or suspension status is 0 or 1")
        _set(self, "time", _time(self.time))


@dataclass(frozen=True)
class KeyEntry:
    """An issuer key event: ``action`` is added, rotated or retired; the key is given as a base58btc multibase."""

    kind: ClassVar[str] = "key"

    did: str
    kid: str
    action: str
    public_key_multibase: str
    time: datetime

    def __post_init__(self) -> None:
        _text("did", self.did, _DID)
        _text("kid", self.kid)
        _choice("action", self.action, KEY_ACTIONS)
        _text("public_key_multibase", self.public_key_multibase, _MULTIBASE_BASE58BTC)
        _set(self, "time", _time(self.time))


Entry = IssuedEntry | StatusEntry | KeyEntry
_KINDS: dict[str, type[IssuedEntry] | type[StatusEntry] | type[KeyEntry]] = {
    cls.kind: cls for cls in (IssuedEntry, StatusEntry, KeyEntry)
}


def _status_refs(value: Any) -> tuple[StatusRef, ...]:
    """Accept StatusRef objects or their JSON objects; anything else is InvalidEntry."""
    if not isinstance(value, (list, tuple)) or len(value) > MAX_STATUS_REFS:
        raise InvalidEntry(f"status must be a list of at most {MAX_STATUS_REFS} status references")
    refs = []
    for item in value:
        if isinstance(item, dict):
            if set(item) != {"list", "index", "purpose"}:
                raise InvalidEntry("a status reference has exactly list, index and purpose")
            item = StatusRef(item["list"], item["index"], item["purpose"])
        if not isinstance(item, StatusRef):
            raise InvalidEntry("a status reference must be an object")
        refs.append(item)
    return tuple(refs)


# --- encoding ------------------------------------------------------------------------------------------------


def _members(entry: Entry) -> dict[str, Any]:
    members: dict[str, Any] = {"v": ENTRY_VERSION, "kind": entry.kind}
    for f in fields(entry):
        value = getattr(entry, f.name)
        if f.name == "time":
            value = format_time(value)
        elif f.name == "status":
            value = [ref.to_json() for ref in value]
        members[f.name] = value
    return members


def encode_entry(entry: Entry) -> bytes:
    """The entry's RFC 8785 canonical JSON bytes: the exact bytes the log stores and hashes."""
    if not isinstance(entry, (IssuedEntry, StatusEntry, KeyEntry)):
        raise TypeError("not a log entry")
    return _jcs(_members(entry))


def _jcs(members: dict[str, Any]) -> bytes:
    """RFC 8785 bytes. Entries hold only strings, integers below 2**53 and lists/objects of them; for such values
    whose text is ASCII, sorted-key compact ``json.dumps`` is byte-identical to JCS (same key order, same escapes,
    same integer form) and several times faster, which matters to an audit decoding a million entries."""
    text = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("ascii") if text.isascii() else rfc8785.dumps(members)


def decode_entry(data: bytes) -> Entry:
    """Parse and validate entry bytes; InvalidEntry unless they are exactly the canonical encoding of an entry."""
    if not isinstance(data, bytes) or len(data) > MAX_ENTRY_BYTES:
        raise InvalidEntry(f"an entry is at most {MAX_ENTRY_BYTES} bytes")
    try:
        obj = strict_json.loads(data)
    except strict_json.StrictJsonError as exc:
        raise InvalidEntry(f"entry is not strict JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidEntry("an entry is a JSON object")
    version = obj.pop("v", None)
    if type(version) is not int or version != ENTRY_VERSION:
        raise InvalidEntry(f"unsupported entry version (expected {ENTRY_VERSION})")
    cls = _KINDS.get(obj.pop("kind", None))  # type: ignore[arg-type]
    if cls is None:
        raise InvalidEntry("unknown entry kind")
    names = {f.name for f in fields(cls)}
    if set(obj) != names:
        raise InvalidEntry(f"a {cls.kind} entry has exactly the members v, kind, {', '.join(sorted(names))}")
    obj["time"] = parse_time(obj["time"])
    entry = cls(**obj)
    if encode_entry(entry) != data:
        raise InvalidEntry("entry bytes are not the RFC 8785 canonical encoding")
    return entry


def credential_digest(secured: str | bytes) -> str:
    """Lowercase hex SHA-256 of the exact secured credential as text.

    vc+jwt: the compact JWS. dc+sd-jwt: the issuer-signed JWT alone (the part before the first ``~``), which every
    presentation carries whatever it discloses. Data Integrity: see ``data_integrity_digest``.
    """
    data = secured.encode("utf-8") if isinstance(secured, str) else secured
    return hashlib.sha256(data).hexdigest()


def data_integrity_digest(document: dict) -> str:
    """SHA-256 of the RFC 8785 (JCS) serialization of a Data Integrity secured document, proof included.

    JCS, not the received bytes: a JSON credential is re-serialized whenever a wallet stores it or embeds it in a
    presentation, and every such copy has the same JCS form.
    """
    try:
        return hashlib.sha256(rfc8785.dumps(document)).hexdigest()
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        # JCS has no form for integers beyond 2^53 or non-finite floats: no digest, so no such credential.
        raise Unprocessable("the document has a number JSON canonicalization cannot represent",
                            code="malformed_credential") from exc
