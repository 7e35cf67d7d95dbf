"""W3C Bitstring Status List v1.0: the bitstring, the entry a credential carries, and the list credential.

Pure: no I/O, no clock. The verifier fetches and signature-checks a list credential, then hands the decoded
payload here; issuance and revocation build entries and list credentials here and sign them elsewhere.

Choices the spec leaves open, made strictly on purpose:
- Only `statusSize` 1 and the purposes `revocation` and `suspension` are supported; anything else is refused
  rather than guessed at, so a status check never passes on a list it did not understand.
- `encodedList` must be the canonical unpadded base64url of exactly one GZIP member: two encodings of one
  list, or bytes smuggled after it, would let two parties disagree on what was signed.
- Decompression stops at MAX_DECOMPRESSED bytes whatever the input claims, so a GZIP bomb costs at most
  16 MiB of output and the time to inflate it.
- `statusListIndex` must be canonical decimal (no sign, no leading zeros), so one index has one spelling.
- A list credential must carry `id` equal to the URL it was fetched from (the spec says MAY): without that
  binding a signed list for one URL could be replayed at another URL of the same issuer to hide a revocation.

Error details name the rule that failed, never the input (it may be personal data).
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from did_service.clock import to_xsd_datetime
from did_service.errors import DidServiceError

MIN_ENTRIES = 131072  # spec section "Bitstring Encoding": at least 16 KiB uncompressed, for herd privacy
MAX_DECOMPRESSED = 16 * 1024 * 1024  # our cap on an expanded list (134,217,728 entries)
MAX_ENTRIES = MAX_DECOMPRESSED * 8
PURPOSES = ("revocation", "suspension")

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"

MAX_URL = 2048
MAX_ID = 4096  # an entry id is a URL plus "#<index>"; generous, but bounded
MAX_INDEX_DIGITS = 32  # longer is refused as malformed; shorter but >= MAX_ENTRIES is a range error
# Incompressible data grows a little under deflate (stored blocks: 5 bytes per 64 KiB, plus header and
# trailer); anything larger cannot inflate to an acceptable list, so it is refused before decoding.
MAX_COMPRESSED = MAX_DECOMPRESSED + 64 * 1024
MAX_ENCODED = 1 + 4 * ((MAX_COMPRESSED + 2) // 3)

# Codes are the spec's error names in snake_case: STATUS_RETRIEVAL_ERROR, STATUS_VERIFICATION_ERROR and
# STATUS_LIST_LENGTH_ERROR (Bitstring Status List, "Processing Errors"), RANGE_ERROR and MALFORMED_VALUE_ERROR
# (VC Data Model 2.0, cited by the Validate Algorithm). A purpose mismatch is a STATUS_VERIFICATION_ERROR
# there (Validate Algorithm step 5). The spec has no name for a list over our size cap, hence its own code.
STATUS_RETRIEVAL_ERROR = "status_retrieval_error"
STATUS_VERIFICATION_ERROR = "status_verification_error"
STATUS_LIST_LENGTH_ERROR = "status_list_length_error"
RANGE_ERROR = "range_error"
MALFORMED_VALUE_ERROR = "malformed_value_error"
STATUS_LIST_TOO_LARGE = "status_list_too_large"

SPEC_ERROR_NAMES = {
    STATUS_RETRIEVAL_ERROR: "STATUS_RETRIEVAL_ERROR",
    STATUS_VERIFICATION_ERROR: "STATUS_VERIFICATION_ERROR",
    STATUS_LIST_LENGTH_ERROR: "STATUS_LIST_LENGTH_ERROR",
    RANGE_ERROR: "RANGE_ERROR",
    MALFORMED_VALUE_ERROR: "MALFORMED_VALUE_ERROR",
}


class StatusListError(DidServiceError):
    """A status entry or list that cannot be used; `code` says which rule (see the codes above)."""

    code = MALFORMED_VALUE_ERROR
    status = 422
    title = "Status list error"


def _fail(code: str, detail: str) -> StatusListError:
    return StatusListError(detail, code=code)


# --- encodedList ----------------------------------------------------------------------------------------

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_bits(bits: bytes) -> str:
    """GZIP (mtime 0, so equal lists encode to equal strings and ETags stay stable) then multibase base64url."""
    if not isinstance(bits, (bytes, bytearray)):
        raise TypeError("bits must be bytes")
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_bits(encoded: str, *, min_entries: int = MIN_ENTRIES) -> bytes:
    """The expanded bitstring of an `encodedList`, refusing anything but one canonical, bounded GZIP member."""
    if not isinstance(min_entries, int) or isinstance(min_entries, bool) or min_entries < 0:
        raise TypeError("min_entries must be a non-negative int")
    if not isinstance(encoded, str):
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList must be a string")
    if len(encoded) > MAX_ENCODED:
        raise _fail(STATUS_LIST_TOO_LARGE, "encodedList is larger than any acceptable status list")
    if not encoded.startswith("u"):
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList must be multibase base64url (prefix 'u')")
    body = encoded[1:]
    # The alphabet check comes first: the base64 decoder would otherwise skip characters it does not know.
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList is not unpadded base64url")
    compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    # Non-zero bits in the last character's unused low bits give a second spelling of the same bytes.
    if base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii") != body:
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList is not canonical base64url")
    return _inflate(compressed, min_entries)


def _inflate(compressed: bytes, min_entries: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # GZIP wrapper only: a bare zlib or deflate stream fails
    try:
        # One byte past the cap tells "too large" from "exactly at the cap" without inflating any further.
        bits = inflater.decompress(compressed, MAX_DECOMPRESSED + 1)
    except zlib.error:
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList is not valid GZIP") from None
    if len(bits) > MAX_DECOMPRESSED:
        raise _fail(STATUS_LIST_TOO_LARGE, "the status list expands past the size limit")
    # Below the cap, zlib stops early only at the end of the member; not at eof means the input ran out.
    if not inflater.eof or inflater.unconsumed_tail:
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList is truncated GZIP")
    if inflater.unused_data:
        raise _fail(MALFORMED_VALUE_ERROR, "encodedList has data after its GZIP member")
    if len(bits) * 8 < min_entries:
        raise _fail(STATUS_LIST_LENGTH_ERROR, "the status list is shorter than the minimum length")
    return bits


# --- bits (index 0 is the most significant bit of byte 0) ---------------------------------------------------


def _check_index(bits: bytes | bytearray, index: Any) -> None:
    if not isinstance(bits, (bytes, bytearray)):
        raise TypeError("bits must be bytes or bytearray")
    # bool is an int in Python; True as an index is a bug upstream, never a position.
    if not isinstance(index, int) or isinstance(index, bool):
        raise _fail(MALFORMED_VALUE_ERROR, "the status list index must be an integer")
    if not 0 <= index < len(bits) * 8:
        raise _fail(RANGE_ERROR, "the status list index is outside the list")


def get_bit(bits: bytes | bytearray, index: int) -> int:
    _check_index(bits, index)
    return (bits[index >> 3] >> (7 - (index & 7))) & 1


def set_bit(bits: bytearray, index: int, value: int) -> None:
    if not isinstance(bits, bytearray):
        raise TypeError("set_bit needs a bytearray")
    _check_index(bits, index)
    if value not in (0, 1) or not isinstance(value, int):  # True/False are accepted: they are 1 and 0
        raise _fail(MALFORMED_VALUE_ERROR, "a status bit is 0 or 1")
    mask = 0x80 >> (index & 7)
    if value:
        bits[index >> 3] |= mask
    else:
        bits[index >> 3] &= ~mask & 0xFF


# --- BitstringStatusListEntry -------------------------------------------------------------------------------

_INDEX = re.compile(r"0|[1-9][0-9]*")


def _check_url(value: Any, what: str) -> str:
    """An absolute http(s) URL without fragment: the list is fetched from it and its `#` is ours to add."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL:
        raise _fail(MALFORMED_VALUE_ERROR, f"{what} must be a URL of at most {MAX_URL} characters")
    # Printable ASCII only: whitespace, controls and look-alike characters have no place in a list URL.
    if not all("\x21" <= ch <= "\x7e" for ch in value) or "#" in value:
        raise _fail(MALFORMED_VALUE_ERROR, f"{what} must be a printable ASCII URL without a fragment")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise _fail(MALFORMED_VALUE_ERROR, f"{what} is not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise _fail(MALFORMED_VALUE_ERROR, f"{what} must be an absolute http(s) URL")
    return value


def _check_purpose(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(MALFORMED_VALUE_ERROR, "statusPurpose must be a string")
    if value not in PURPOSES:
        raise _fail(MALFORMED_VALUE_ERROR, "statusPurpose must be revocation or suspension")
    return value


def _check_status_size(container: dict[str, Any]) -> None:
    if "statusSize" not in container:
        return
    size = container["statusSize"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise _fail(MALFORMED_VALUE_ERROR, "statusSize must be an integer greater than zero")
    if size != 1:
        raise _fail(MALFORMED_VALUE_ERROR, "only statusSize 1 is supported")


def status_entry(list_url: str, purpose: str, index: int) -> dict[str, Any]:
    """The `credentialStatus` entry for one position, shaped exactly like the spec's examples."""
    _check_url(list_url, "the status list URL")
    _check_purpose(purpose)
    if not isinstance(index, int) or isinstance(index, bool):
        raise _fail(MALFORMED_VALUE_ERROR, "the status list index must be an integer")
    if not 0 <= index < MAX_ENTRIES:
        raise _fail(RANGE_ERROR, "the status list index is outside any acceptable list")
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),  # the spec: an integer "expressed as a string in base 10"
        "statusListCredential": list_url,
    }


def parse_status_entry(entry: object) -> tuple[str, str, int]:
    """(list URL, purpose, index) of a `BitstringStatusListEntry` from an untrusted credential."""
    if not isinstance(entry, dict):
        raise _fail(MALFORMED_VALUE_ERROR, "a credentialStatus entry must be an object")
    if entry.get("type") != ENTRY_TYPE:
        raise _fail(MALFORMED_VALUE_ERROR, "credentialStatus type must be BitstringStatusListEntry")
    purpose = _check_purpose(entry.get("statusPurpose"))
    list_url = _check_url(entry.get("statusListCredential"), "statusListCredential")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str):
        raise _fail(MALFORMED_VALUE_ERROR, "statusListIndex must be a string")
    # Length is bounded before int(): the spec allows arbitrary size, but conversion cost should not be.
    if len(raw_index) > MAX_INDEX_DIGITS or not _INDEX.fullmatch(raw_index):
        raise _fail(MALFORMED_VALUE_ERROR, "statusListIndex must be a decimal integer without sign or leading zeros")
    index = int(raw_index)
    if index >= MAX_ENTRIES:
        raise _fail(RANGE_ERROR, "statusListIndex is outside any acceptable list")
    if "id" in entry:
        entry_id = entry["id"]
        if not isinstance(entry_id, str) or not 0 < len(entry_id) <= MAX_ID:
            raise _fail(MALFORMED_VALUE_ERROR, "credentialStatus id must be a URL")
        if entry_id == list_url:  # spec: the entry id "MUST NOT be the URL for the status list"
            raise _fail(MALFORMED_VALUE_ERROR, "credentialStatus id must not be the status list URL")
    _check_status_size(entry)
    return list_url, purpose, index


# --- BitstringStatusListCredential --------------------------------------------------------------------------


def list_credential(
    list_url: str,
    issuer: str,
    purpose: str,
    bits: bytes,
    valid_from: datetime,
    valid_until: datetime | None,
    ttl_ms: int | None = None,
) -> dict[str, Any]:
    """The unsigned VCDM 2.0 `BitstringStatusListCredential` publishing `bits` at `list_url`."""
    _check_url(list_url, "the status list URL")
    _check_purpose(purpose)
    if not isinstance(issuer, str) or not issuer:
        raise _fail(MALFORMED_VALUE_ERROR, "issuer must be a non-empty string")
    if not isinstance(bits, (bytes, bytearray)):
        raise TypeError("bits must be bytes")
    # Never publish what our own verifier (or anyone's) would refuse.
    if len(bits) * 8 < MIN_ENTRIES:
        raise _fail(STATUS_LIST_LENGTH_ERROR, "the status list is shorter than the minimum length")
    if len(bits) > MAX_DECOMPRESSED:
        raise _fail(STATUS_LIST_TOO_LARGE, "the status list is larger than the size limit")
    if valid_until is not None and valid_until <= valid_from:
        raise _fail(MALFORMED_VALUE_ERROR, "validUntil must be after validFrom")
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": LIST_TYPE,
        "statusPurpose": purpose,
        "encodedList": encode_bits(bits),
    }
    if ttl_ms is not None:
        if not isinstance(ttl_ms, int) or isinstance(ttl_ms, bool) or ttl_ms <= 0:
            raise _fail(MALFORMED_VALUE_ERROR, "ttl must be a positive number of milliseconds")
        subject["ttl"] = ttl_ms
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": to_xsd_datetime(valid_from),
    }
    if valid_until is not None:
        credential["validUntil"] = to_xsd_datetime(valid_until)
    credential["credentialSubject"] = subject
    return credential


def _types(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    return None


def check_list_credential(credential: dict, *, expected_issuer: str, purpose: str, list_url: str) -> bytes:
    """The bitstring of a list credential whose proof the caller has already verified.

    Cheap binding checks (issuer, URL, purpose) run before the list is expanded, so a list from the wrong
    place costs no decompression.
    """
    if not isinstance(credential, dict):
        raise _fail(MALFORMED_VALUE_ERROR, "the status list credential must be an object")
    types = _types(credential.get("type"))
    if types is None or "VerifiableCredential" not in types or LIST_CREDENTIAL_TYPE not in types:
        raise _fail(MALFORMED_VALUE_ERROR, "the status list credential must have type BitstringStatusListCredential")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    # Validate Algorithm note: the verifier decides whose lists it trusts; here, only the credential's issuer.
    if not isinstance(issuer_id, str) or issuer_id != expected_issuer:
        raise _fail(STATUS_VERIFICATION_ERROR, "the status list is not issued by the credential's issuer")
    if credential.get("id") != list_url:
        raise _fail(STATUS_VERIFICATION_ERROR, "the status list credential is not the one the entry points to")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise _fail(MALFORMED_VALUE_ERROR, "the status list credential must have one credentialSubject object")
    subject_types = _types(subject.get("type"))
    if subject_types is None or LIST_TYPE not in subject_types:
        raise _fail(MALFORMED_VALUE_ERROR, "the status list's credentialSubject type must be BitstringStatusList")
    # The spec allows one or more purposes per list; the entry's purpose must be among them (step 5).
    purposes = _types(subject.get("statusPurpose"))
    if purposes is None:
        raise _fail(MALFORMED_VALUE_ERROR, "statusPurpose must be one or more strings")
    if purpose not in purposes:
        raise _fail(STATUS_VERIFICATION_ERROR, "the status list is not for the entry's statusPurpose")
    _check_status_size(subject)
    if "ttl" in subject:
        ttl = subject["ttl"]
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            raise _fail(MALFORMED_VALUE_ERROR, "ttl must be a number of milliseconds")
    return decode_bits(subject.get("encodedList"))
