"""Bitstring Status List v1.0: the spec's examples reproduced, the bit layout, and every refusal with its code."""

from __future__ import annotations

import base64
import gzip
import json
import struct
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from did_service.core import status_list
from did_service.core.status_list import (
    MAX_DECOMPRESSED,
    MIN_ENTRIES,
    StatusListError,
    check_list_credential,
    decode_bits,
    encode_bits,
    get_bit,
    list_credential,
    parse_status_entry,
    set_bit,
    status_entry,
)
from did_service.errors import DidServiceError
from tests.support import VECTORS_DIR

FOLDER = VECTORS_DIR / "w3c-vc-bitstring-status-list"
VECTOR_FILES = sorted(path.name for path in FOLDER.glob("*.json"))
MIN_BYTES = MIN_ENTRIES // 8
LIST_URL = "https://issuer.example/status/7"
ISSUER = "did:web:issuer.example"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _load(name: str) -> dict:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def _entries(credential: dict) -> list[dict]:
    status = credential["credentialStatus"]
    return status if isinstance(status, list) else [status]


def _b64u(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.code


# --- the spec's examples ------------------------------------------------------------------------------------


def test_every_vector_file_is_used():
    # Each file below is exercised by a test that names it; a new vector must get one too.
    assert VECTOR_FILES == [
        "appendix-revocable-credential.json",
        "appendix-status-list-credential.json",
        "s2.1-credential-with-two-status-entries.json",
        "s2.1-status-list-credential.json",
    ]


@pytest.mark.parametrize("name", ["appendix-status-list-credential.json", "s2.1-status-list-credential.json"])
def test_spec_list_decodes_to_the_minimum_all_zero_list(name):
    encoded = _load(name)["credentialSubject"]["encodedList"]
    bits = decode_bits(encoded)
    assert len(bits) == MIN_BYTES and len(bits) * 8 == 131072
    assert bits == bytes(MIN_BYTES)
    # Round trip: our encoding decodes to the same list, and differs from the spec's only in GZIP header
    # fields that carry no data (XFL and OS); the deflate stream and trailer are byte for byte the same.
    ours = encode_bits(bits)
    assert decode_bits(ours) == bits
    spec_raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    our_raw = base64.urlsafe_b64decode(ours[1:] + "=" * (-len(ours[1:]) % 4))
    assert spec_raw[:8] == our_raw[:8] and spec_raw[10:] == our_raw[10:]


@pytest.mark.parametrize("name", ["appendix-status-list-credential.json", "s2.1-status-list-credential.json"])
def test_spec_list_credential_passes_the_checks(name):
    credential = _load(name)
    bits = check_list_credential(
        credential, expected_issuer="did:example:12345", purpose="revocation", list_url=credential["id"]
    )
    assert bits == bytes(MIN_BYTES)
    # Its structure is the one we publish, apart from the values.
    ours = list_credential(credential["id"], "did:example:12345", "revocation", bits, NOW, None)
    assert set(ours) == set(credential)
    assert set(ours["credentialSubject"]) == set(credential["credentialSubject"])
    assert ours["type"] == credential["type"]
    assert ours["credentialSubject"]["type"] == credential["credentialSubject"]["type"]
    assert ours["@context"][0] == credential["@context"][0]


@pytest.mark.parametrize("name", ["appendix-revocable-credential.json", "s2.1-credential-with-two-status-entries.json"])
def test_spec_entries_parse_and_are_rebuilt_exactly(name):
    for entry in _entries(_load(name)):
        list_url, purpose, index = parse_status_entry(entry)
        assert (list_url, purpose, str(index)) == (
            entry["statusListCredential"], entry["statusPurpose"], entry["statusListIndex"]
        )
        rebuilt = status_entry(list_url, purpose, index)
        assert rebuilt == entry
        assert list(rebuilt) == list(entry)  # same member order as the spec's examples


def test_spec_revocable_credential_is_not_revoked():
    # Appendix A pairs the revocable credential (index 94567) with the all-zero list at the same URL.
    (entry,) = _entries(_load("appendix-revocable-credential.json"))
    list_url, purpose, index = parse_status_entry(entry)
    list_vc = _load("appendix-status-list-credential.json")
    assert list_vc["id"] == list_url
    bits = check_list_credential(list_vc, expected_issuer="did:example:12345", purpose=purpose, list_url=list_url)
    assert get_bit(bits, index) == 0


def test_spec_two_entries_have_both_purposes():
    entries = [parse_status_entry(e) for e in _entries(_load("s2.1-credential-with-two-status-entries.json"))]
    assert entries == [
        ("https://example.com/credentials/status/3", "revocation", 94567),
        ("https://example.com/credentials/status/4", "suspension", 23452),
    ]


# --- encode / decode and the bit layout ---------------------------------------------------------------------


def test_encoding_is_deterministic_and_multibase():
    bits = bytearray(MIN_BYTES)
    set_bit(bits, 12345, 1)
    first, second = encode_bits(bits), encode_bits(bytes(bits))
    assert first == second and first.startswith("u") and "=" not in first
    assert gzip.decompress(base64.urlsafe_b64decode(first[1:] + "=" * (-len(first[1:]) % 4))) == bits


def test_msb_first_layout():
    bits = bytearray(MIN_BYTES)
    set_bit(bits, 0, 1)
    assert bits[0] == 0x80
    set_bit(bits, 7, 1)
    assert bits[0] == 0x81
    set_bit(bits, 8, 1)
    assert bits[1] == 0x80
    set_bit(bits, MIN_ENTRIES - 1, 1)
    assert bits[-1] == 0x01
    set_bit(bits, 0, 0)
    assert bits[0] == 0x01 and get_bit(bits, 0) == 0 and get_bit(bits, 7) == 1
    set_bit(bits, 7, False)
    assert bits[0] == 0


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=MIN_ENTRIES - 1), max_size=200))
def test_random_bit_sets_round_trip_and_agree_with_a_naive_reference(indices):
    bits = bytearray(MIN_BYTES)
    for index in indices:
        set_bit(bits, index, 1)
    decoded = decode_bits(encode_bits(bits))
    assert decoded == bits
    # Naive reference: the list written out as a string of bits, left-most first.
    text = "".join(f"{byte:08b}" for byte in decoded)
    assert {i for i, ch in enumerate(text) if ch == "1"} == indices
    for index in list(indices)[:20] + [0, MIN_ENTRIES - 1]:
        assert get_bit(decoded, index) == int(text[index]) == (index in indices)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4096), st.data())
def test_any_bytes_round_trip_and_get_set_agree(data, draw):
    assert decode_bits(encode_bits(data), min_entries=0) == data
    if data:
        bits = bytearray(data)
        index = draw.draw(st.integers(min_value=0, max_value=len(data) * 8 - 1))
        value = draw.draw(st.sampled_from([0, 1]))
        set_bit(bits, index, value)
        expected = list("".join(f"{byte:08b}" for byte in data))
        expected[index] = str(value)
        assert "".join(f"{byte:08b}" for byte in bits) == "".join(expected)
        assert get_bit(bits, index) == value


def test_a_list_of_exactly_the_size_cap_is_accepted_and_one_byte_more_is_not():
    assert len(decode_bits(encode_bits(bytes(MAX_DECOMPRESSED)))) == MAX_DECOMPRESSED
    with pytest.raises(StatusListError) as excinfo:
        decode_bits(encode_bits(bytes(MAX_DECOMPRESSED + 1)))
    assert _code(excinfo) == "status_list_too_large"


def _gzip_bomb(total: int, chunk: int = 1 << 20) -> bytes:
    """A valid GZIP member of `total` zero bytes, built in chunks without ever holding or deflating all of it.

    Each chunk ends with a full flush, which byte-aligns the output and resets the window, so once the
    compressor is in its steady state every further chunk deflates to the same bytes: they are repeated rather
    than recomputed. The trailer carries the true CRC-32 and length of the whole input.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    steady = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == steady
    count = total // chunk
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    final_block = compressor.flush(zlib.Z_FINISH)[:-8]  # the last (empty) block, without zlib's own trailer
    return head + steady * (count - 1) + final_block + struct.pack("<II", crc, total & 0xFFFFFFFF)


def test_gzip_bomb_is_refused_quickly_in_bounded_memory():
    bomb = _gzip_bomb(1 << 30)  # 1 GiB of zeros in about 1 MiB
    assert len(bomb) < 2 << 20
    encoded = _b64u(bomb)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(StatusListError) as excinfo:
            decode_bits(encoded)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _code(excinfo) == "status_list_too_large"
    assert elapsed < 2.0
    # Bounded by the cap, not by the bomb: zlib fills output blocks up to cap + 1 bytes and joins them into
    # one bytes object (twice the cap at the peak), plus copies of the ~1.4 MB input.
    assert peak < 2 * MAX_DECOMPRESSED + (8 << 20)


def test_small_bomb_is_valid_gzip():
    # The builder above makes real GZIP (so the refusal is about size, not a corrupt stream).
    assert gzip.decompress(_gzip_bomb(8 << 20)) == bytes(8 << 20)


def test_oversized_encoding_is_refused_before_decoding():
    with pytest.raises(StatusListError) as excinfo:
        decode_bits("u" + "A" * status_list.MAX_ENCODED)
    assert _code(excinfo) == "status_list_too_large"


@pytest.mark.parametrize("size", [0, 1, MIN_BYTES - 1])
def test_short_list_is_refused(size):
    with pytest.raises(StatusListError) as excinfo:
        decode_bits(encode_bits(bytes(size)))
    assert _code(excinfo) == "status_list_length_error"
    assert excinfo.value.status == 422 and isinstance(excinfo.value, DidServiceError)


def test_min_entries_is_a_parameter():
    assert decode_bits(encode_bits(bytes(2)), min_entries=16) == bytes(2)
    with pytest.raises(StatusListError):
        decode_bits(encode_bits(bytes(2)), min_entries=17)


VALID = encode_bits(bytes(MIN_BYTES))
VALID_RAW = gzip.compress(bytes(MIN_BYTES), mtime=0)


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(VALID[1:], id="no-prefix"),
        pytest.param("z" + VALID[1:], id="base58btc-prefix"),
        pytest.param("U" + VALID[1:], id="uppercase-prefix"),
        pytest.param("m" + base64.b64encode(VALID_RAW).decode().rstrip("="), id="base64-prefix"),
        pytest.param("", id="empty"),
        pytest.param("u", id="prefix-only"),
        pytest.param(VALID + "=", id="padding"),
        pytest.param(VALID + "==", id="double-padding"),
        pytest.param(VALID.replace("-", "+").replace("_", "/"), id="standard-alphabet"),
        pytest.param(VALID[:10] + " " + VALID[10:], id="space"),
        pytest.param(VALID[:10] + "\n" + VALID[10:], id="newline"),
        pytest.param(VALID + "\n", id="trailing-newline"),
        pytest.param(VALID[:10] + "\u0661" + VALID[10:], id="non-ascii-digit"),
        pytest.param(VALID + "A", id="impossible-length"),
        pytest.param(_b64u(b"\x00" * 20000), id="not-gzip"),
        pytest.param(_b64u(zlib.compress(bytes(MIN_BYTES))), id="zlib-not-gzip"),
        pytest.param(_b64u(zlib.compress(bytes(MIN_BYTES))[2:-4]), id="raw-deflate"),
        pytest.param(_b64u(bytes(MIN_BYTES)), id="uncompressed"),
        pytest.param(_b64u(VALID_RAW[:-1]), id="truncated-trailer"),
        pytest.param(_b64u(VALID_RAW[: len(VALID_RAW) // 2]), id="truncated-body"),
        pytest.param(_b64u(VALID_RAW[:-8] + b"\x00\x00\x00\x00" + VALID_RAW[-4:]), id="bad-crc"),
        pytest.param(_b64u(VALID_RAW[:-4] + b"\x00\x00\x00\x00"), id="bad-length"),
        pytest.param(_b64u(VALID_RAW + b"\x00"), id="trailing-byte"),
        pytest.param(_b64u(VALID_RAW + b"garbage"), id="trailing-garbage"),
        pytest.param(_b64u(VALID_RAW + VALID_RAW), id="two-members"),
        pytest.param(_b64u(VALID_RAW + gzip.compress(b"", mtime=0)), id="empty-second-member"),
    ],
)
def test_malformed_encodings_are_refused(encoded):
    with pytest.raises(StatusListError) as excinfo:
        decode_bits(encoded)
    assert _code(excinfo) == "malformed_value_error"


def test_non_canonical_base64_is_refused():
    # The last character of a body of length 2 or 3 (mod 4) carries unused low bits; setting one spells the
    # same bytes. Pick a valid list whose encoding has such a tail.
    body = next(
        enc[1:] for enc in (encode_bits(_list_bits(i)) for i in range(64)) if len(enc[1:]) % 4 in (2, 3)
    )
    assert decode_bits("u" + body)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = body[:-1] + alphabet[alphabet.index(body[-1]) + 1]
    assert base64.urlsafe_b64decode(twin + "=" * (-len(twin) % 4)) == base64.urlsafe_b64decode(
        body + "=" * (-len(body) % 4)
    )
    with pytest.raises(StatusListError) as excinfo:
        decode_bits("u" + twin)
    assert _code(excinfo) == "malformed_value_error"


@pytest.mark.parametrize("value", [None, 1, b"uH4sI", ["u"]])
def test_non_string_encoded_list_is_refused(value):
    with pytest.raises(StatusListError) as excinfo:
        decode_bits(value)
    assert _code(excinfo) == "malformed_value_error"


# --- get / set ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [MIN_ENTRIES, MIN_ENTRIES + 7, -1, -MIN_ENTRIES, 2**64, 10**100])
def test_index_out_of_range(index):
    bits = bytearray(MIN_BYTES)
    with pytest.raises(StatusListError) as excinfo:
        get_bit(bits, index)
    assert _code(excinfo) == "range_error"
    with pytest.raises(StatusListError) as excinfo:
        set_bit(bits, index, 1)
    assert _code(excinfo) == "range_error"
    assert bits == bytes(MIN_BYTES)


@pytest.mark.parametrize("index", [True, False, 1.0, "1", None, b"\x01"])
def test_index_must_be_an_int(index):
    with pytest.raises(StatusListError) as excinfo:
        get_bit(bytes(MIN_BYTES), index)
    assert _code(excinfo) == "malformed_value_error"
    with pytest.raises(StatusListError):
        set_bit(bytearray(MIN_BYTES), index, 1)


@pytest.mark.parametrize("value", [2, -1, "1", None, 1.0])
def test_bit_value_is_zero_or_one(value):
    bits = bytearray(MIN_BYTES)
    with pytest.raises(StatusListError):
        set_bit(bits, 3, value)
    assert bits == bytes(MIN_BYTES)


def test_set_bit_needs_a_mutable_list():
    with pytest.raises(TypeError):
        set_bit(bytes(MIN_BYTES), 3, 1)


def test_empty_list_has_no_index():
    with pytest.raises(StatusListError) as excinfo:
        get_bit(b"", 0)
    assert _code(excinfo) == "range_error"


# --- entries --------------------------------------------------------------------------------------------------


def test_status_entry_shape():
    entry = status_entry(LIST_URL, "suspension", 42)
    assert entry == {
        "id": LIST_URL + "#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "suspension",
        "statusListIndex": "42",
        "statusListCredential": LIST_URL,
    }
    assert parse_status_entry(entry) == (LIST_URL, "suspension", 42)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((LIST_URL, "refresh", 1), "malformed_value_error"),
        ((LIST_URL, "revocation", -1), "range_error"),
        ((LIST_URL, "revocation", status_list.MAX_ENTRIES), "range_error"),
        ((LIST_URL, "revocation", True), "malformed_value_error"),
        ((LIST_URL, "revocation", "1"), "malformed_value_error"),
        ((LIST_URL + "#frag", "revocation", 1), "malformed_value_error"),
        (("ftp://issuer.example/x", "revocation", 1), "malformed_value_error"),
        (("/status/7", "revocation", 1), "malformed_value_error"),
    ],
)
def test_status_entry_refuses_bad_arguments(args, code):
    with pytest.raises(StatusListError) as excinfo:
        status_entry(*args)
    assert _code(excinfo) == code


def _entry(**changes) -> dict:
    entry = status_entry(LIST_URL, "revocation", 94567)
    for key, value in changes.items():
        if value is _DROP:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


_DROP = object()


def test_entry_without_id_and_with_status_size_one_is_accepted():
    assert parse_status_entry(_entry(id=_DROP, statusSize=1)) == (LIST_URL, "revocation", 94567)
    assert parse_status_entry(_entry(statusListIndex="0"))[2] == 0
    last = status_list.MAX_ENTRIES - 1
    assert parse_status_entry(_entry(statusListIndex=str(last)))[2] == last


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="list"),
        pytest.param("BitstringStatusListEntry", id="string"),
        pytest.param(_entry(statusListIndex="01"), id="leading-zero"),
        pytest.param(_entry(statusListIndex="00"), id="double-zero"),
        pytest.param(_entry(statusListIndex="-1"), id="negative"),
        pytest.param(_entry(statusListIndex="+1"), id="plus-sign"),
        pytest.param(_entry(statusListIndex=" 1"), id="leading-space"),
        pytest.param(_entry(statusListIndex="1\n"), id="trailing-newline"),
        pytest.param(_entry(statusListIndex="1_000"), id="underscore"),
        pytest.param(_entry(statusListIndex="1e3"), id="exponent"),
        pytest.param(_entry(statusListIndex="0x10"), id="hex"),
        pytest.param(_entry(statusListIndex="\u0661\u0662"), id="arabic-indic-digits"),
        pytest.param(_entry(statusListIndex="１２"), id="fullwidth-digits"),
        pytest.param(_entry(statusListIndex=""), id="empty-index"),
        pytest.param(_entry(statusListIndex=1), id="int-index"),
        pytest.param(_entry(statusListIndex=1.0), id="float-index"),
        pytest.param(_entry(statusListIndex=True), id="bool-index"),
        pytest.param(_entry(statusListIndex=None), id="null-index"),
        pytest.param(_entry(statusListIndex=_DROP), id="missing-index"),
        pytest.param(_entry(statusListIndex="9" * 33), id="33-digits"),
        pytest.param(_entry(statusListIndex="1" * 100_000), id="huge-string"),
        pytest.param(_entry(type="StatusList2021Entry"), id="old-type"),
        pytest.param(_entry(type=["BitstringStatusListEntry"]), id="type-array"),
        pytest.param(_entry(type=_DROP), id="missing-type"),
        pytest.param(_entry(statusPurpose="refresh"), id="refresh-purpose"),
        pytest.param(_entry(statusPurpose="message"), id="message-purpose"),
        pytest.param(_entry(statusPurpose="Revocation"), id="purpose-case"),
        pytest.param(_entry(statusPurpose=["revocation"]), id="purpose-array"),
        pytest.param(_entry(statusPurpose=_DROP), id="missing-purpose"),
        pytest.param(_entry(statusListCredential=_DROP), id="missing-list"),
        pytest.param(_entry(statusListCredential=""), id="empty-list-url"),
        pytest.param(_entry(statusListCredential="did:example:12345"), id="did-not-url"),
        pytest.param(_entry(statusListCredential="https://x.example/" + "a" * 3000), id="long-url"),
        pytest.param(_entry(statusListCredential="https://x.example/a b"), id="space-in-url"),
        pytest.param(_entry(statusListCredential="https://x.example/\u00e9"), id="non-ascii-url"),
        pytest.param(_entry(statusListCredential="https://x.example/s#1"), id="url-fragment"),
        pytest.param(_entry(statusListCredential=["https://x.example/s"]), id="url-array"),
        pytest.param(_entry(id=LIST_URL), id="id-is-list-url"),
        pytest.param(_entry(id=7), id="id-not-string"),
        pytest.param(_entry(id="x" * 5000), id="id-too-long"),
        pytest.param(_entry(statusSize=2), id="status-size-2"),
        pytest.param(_entry(statusSize=0), id="status-size-0"),
        pytest.param(_entry(statusSize=True), id="status-size-bool"),
        pytest.param(_entry(statusSize="1"), id="status-size-string"),
    ],
)
def test_malformed_entries_are_refused(entry):
    with pytest.raises(StatusListError) as excinfo:
        parse_status_entry(entry)
    assert _code(excinfo) == "malformed_value_error"
    # The detail names the rule, never the value.
    assert "94567" not in excinfo.value.detail and "x.example" not in excinfo.value.detail


@pytest.mark.parametrize("index", [str(status_list.MAX_ENTRIES), str(2**64), "9" * 32])
def test_huge_but_well_formed_index_is_a_range_error(index):
    with pytest.raises(StatusListError) as excinfo:
        parse_status_entry(_entry(statusListIndex=index))
    assert _code(excinfo) == "range_error"


def test_parse_is_fast_on_huge_strings():
    started = time.perf_counter()
    for _ in range(100):
        with pytest.raises(StatusListError):
            parse_status_entry(_entry(statusListIndex="1" * 1_000_000))
    assert time.perf_counter() - started < 1.0


# --- list credential ------------------------------------------------------------------------------------------


def _list_bits(*indices: int) -> bytes:
    bits = bytearray(MIN_BYTES)
    for index in indices:
        set_bit(bits, index, 1)
    return bytes(bits)


def test_list_credential_shape_and_check_round_trip():
    bits = _list_bits(5, 94567)
    credential = list_credential(LIST_URL, ISSUER, "revocation", bits, NOW, NOW + timedelta(days=1), ttl_ms=300000)
    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ISSUER,
        "validFrom": "2026-01-02T03:04:05Z",
        "validUntil": "2026-01-03T03:04:05Z",
        "credentialSubject": {
            "id": LIST_URL + "#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_bits(bits),
            "ttl": 300000,
        },
    }
    decoded = check_list_credential(credential, expected_issuer=ISSUER, purpose="revocation", list_url=LIST_URL)
    assert decoded == bits and get_bit(decoded, 94567) == 1 and get_bit(decoded, 94566) == 0
    # Independent decoding with the standard library alone, as any verifier would.
    encoded = credential["credentialSubject"]["encodedList"]
    plain = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert plain[94567 // 8] == 0x80 >> (94567 % 8)


def test_list_credential_without_validity_end_or_ttl():
    credential = list_credential(LIST_URL, ISSUER, "suspension", _list_bits(), NOW, None)
    assert "validUntil" not in credential and "ttl" not in credential["credentialSubject"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"bits": bytes(MIN_BYTES - 1)}, "status_list_length_error"),
        ({"bits": bytes(MAX_DECOMPRESSED + 1)}, "status_list_too_large"),
        ({"purpose": "message"}, "malformed_value_error"),
        ({"issuer": ""}, "malformed_value_error"),
        ({"list_url": "not a url"}, "malformed_value_error"),
        ({"valid_until": NOW}, "malformed_value_error"),
        ({"ttl_ms": 0}, "malformed_value_error"),
        ({"ttl_ms": True}, "malformed_value_error"),
        ({"ttl_ms": 1.5}, "malformed_value_error"),
    ],
)
def test_list_credential_refuses_what_no_verifier_would_accept(kwargs, code):
    args = {
        "list_url": LIST_URL, "issuer": ISSUER, "purpose": "revocation", "bits": bytes(MIN_BYTES),
        "valid_from": NOW, "valid_until": NOW + timedelta(days=1),
    }
    args.update(kwargs)
    with pytest.raises(StatusListError) as excinfo:
        list_credential(**args)
    assert _code(excinfo) == code


def _good_list() -> dict:
    return list_credential(LIST_URL, ISSUER, "revocation", _list_bits(1), NOW, None)


def test_check_accepts_issuer_object_and_purpose_arrays():
    credential = _good_list()
    credential["issuer"] = {"id": ISSUER, "name": "Issuer"}
    credential["credentialSubject"]["statusPurpose"] = ["suspension", "revocation"]
    credential["credentialSubject"]["type"] = ["BitstringStatusList"]
    assert check_list_credential(credential, expected_issuer=ISSUER, purpose="revocation", list_url=LIST_URL)


def test_purpose_mismatch_is_a_verification_error():
    with pytest.raises(StatusListError) as excinfo:
        check_list_credential(_good_list(), expected_issuer=ISSUER, purpose="suspension", list_url=LIST_URL)
    assert _code(excinfo) == "status_verification_error"


@pytest.mark.parametrize(
    "issuer", ["did:web:evil.example", {"id": "did:web:evil.example"}, None, {}, ["did:web:issuer.example"]]
)
def test_list_signed_by_someone_else_is_a_verification_error(issuer):
    credential = _good_list()
    credential["issuer"] = issuer
    with pytest.raises(StatusListError) as excinfo:
        check_list_credential(credential, expected_issuer=ISSUER, purpose="revocation", list_url=LIST_URL)
    assert _code(excinfo) == "status_verification_error"


@pytest.mark.parametrize("list_id", ["https://issuer.example/status/8", None, LIST_URL + "#list"])
def test_list_for_another_url_is_a_verification_error(list_id):
    credential = _good_list()
    if list_id is None:
        credential.pop("id")
    else:
        credential["id"] = list_id
    with pytest.raises(StatusListError) as excinfo:
        check_list_credential(credential, expected_issuer=ISSUER, purpose="revocation", list_url=LIST_URL)
    assert _code(excinfo) == "status_verification_error"


def _mutated(path: tuple[str, ...], value) -> dict:
    credential = _good_list()
    target = credential
    for key in path[:-1]:
        target = target[key]
    if value is _DROP:
        target.pop(path[-1])
    else:
        target[path[-1]] = value
    return credential


@pytest.mark.parametrize(
    ("credential", "code"),
    [
        pytest.param(None, "malformed_value_error", id="none"),
        pytest.param([], "malformed_value_error", id="list"),
        pytest.param(_mutated(("type",), ["VerifiableCredential"]), "malformed_value_error", id="not-list-type"),
        pytest.param(_mutated(("type",), "BitstringStatusListCredential"), "malformed_value_error", id="no-vc-type"),
        pytest.param(_mutated(("type",), _DROP), "malformed_value_error", id="missing-type"),
        pytest.param(_mutated(("credentialSubject",), [{}]), "malformed_value_error", id="subject-array"),
        pytest.param(
            _mutated(("credentialSubject", "type"), "StatusList2021"), "malformed_value_error", id="subject-type"
        ),
        pytest.param(_mutated(("credentialSubject", "statusPurpose"), 1), "malformed_value_error", id="purpose-int"),
        pytest.param(_mutated(("credentialSubject", "statusPurpose"), []), "malformed_value_error", id="purpose-empty"),
        pytest.param(_mutated(("credentialSubject", "statusSize"), 2), "malformed_value_error", id="status-size-2"),
        pytest.param(_mutated(("credentialSubject", "ttl"), "300"), "malformed_value_error", id="ttl-string"),
        pytest.param(_mutated(("credentialSubject", "encodedList"), _DROP), "malformed_value_error", id="no-list"),
        pytest.param(
            _mutated(("credentialSubject", "encodedList"), encode_bits(bytes(1024))), "status_list_length_error",
            id="short-list",
        ),
        pytest.param(
            _mutated(("credentialSubject", "encodedList"), _b64u(_gzip_bomb(64 << 20))), "status_list_too_large",
            id="bomb",
        ),
    ],
)
def test_check_refuses_bad_list_credentials(credential, code):
    with pytest.raises(StatusListError) as excinfo:
        check_list_credential(credential, expected_issuer=ISSUER, purpose="revocation", list_url=LIST_URL)
    assert _code(excinfo) == code


def test_every_code_is_the_spec_name_or_documented():
    assert status_list.SPEC_ERROR_NAMES == {
        "status_retrieval_error": "STATUS_RETRIEVAL_ERROR",
        "status_verification_error": "STATUS_VERIFICATION_ERROR",
        "status_list_length_error": "STATUS_LIST_LENGTH_ERROR",
        "range_error": "RANGE_ERROR",
        "malformed_value_error": "MALFORMED_VALUE_ERROR",
    }
    error = StatusListError("could not fetch", code="status_retrieval_error")
    assert error.code == "status_retrieval_error" and error.status == 422
