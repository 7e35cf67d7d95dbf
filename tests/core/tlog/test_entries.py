"""Log entries: RFC 8785 bytes, strict decoding, one encoding per entry, no resident registration numbers."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did_service.core.tlog.entries import (
    InvalidEntry,
    IssuedEntry,
    KeyEntry,
    StatusEntry,
    StatusRef,
    credential_digest,
    decode_entry,
    encode_entry,
    format_time,
    parse_time,
)

T = datetime(2026, 11, 25, 13, 58, 37, tzinfo=timezone.utc)
DIGEST = hashlib.sha256(b"eyJhbGciOiJFZERTQSJ9.e30.sig").hexdigest()
LIST = "https://issuer.example/status/1"
MULTIBASE = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def issued(**changes) -> IssuedEntry:
    values = dict(
        credential_digest=DIGEST,
        credential_id="urn:uuid:0f6b2a8e-3c1d-4f5e-9a7b-2c3d4e5f6a7b",
        credential_type="ResidenceCertificate",
        issuer_kid="did:web:issuer.example#key-1",
        status=(StatusRef(LIST, 94567, "revocation"), StatusRef(LIST, 1203, "suspension")),
        time=T,
    )
    values.update(changes)
    return IssuedEntry(**values)


def status(**changes) -> StatusEntry:
    values = dict(list=LIST, index=94567, purpose="revocation", value=1, time=T)
    values.update(changes)
    return StatusEntry(**values)


def key(**changes) -> KeyEntry:
    values = dict(
        did="did:web:issuer.example", kid="did:web:issuer.example#key-2", action="rotated",
        public_key_multibase=MULTIBASE, time=T,
    )
    values.update(changes)
    return KeyEntry(**values)


def test_issued_entry_bytes_are_rfc_8785():
    data = encode_entry(issued())
    assert data == (
        b'{"credential_digest":"' + DIGEST.encode() + b'","credential_id":"urn:uuid:0f6b2a8e-3c1d-4f5e-9a7b-'
        b'2c3d4e5f6a7b","credential_type":"ResidenceCertificate","issuer_kid":"did:web:issuer.example#key-1",'
        b'"kind":"issued","status":[{"index":94567,"list":"https://issuer.example/status/1","purpose":"revocation"},'
        b'{"index":1203,"list":"https://issuer.example/status/1","purpose":"suspension"}],'
        b'"time":"2026-11-25T13:58:37Z","v":1}'
    )


def test_status_and_key_entry_bytes():
    assert encode_entry(status()) == (
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}'
    )
    assert encode_entry(key()) == (
        b'{"action":"rotated","did":"did:web:issuer.example","kid":"did:web:issuer.example#key-2","kind":"key",'
        b'"public_key_multibase":"' + MULTIBASE.encode() + b'","time":"2026-11-25T13:58:37Z","v":1}'
    )


@pytest.mark.parametrize("entry", [issued(), issued(status=()), status(), status(value=0), key(), key(action="added")])
def test_round_trip(entry):
    assert decode_entry(encode_entry(entry)) == entry


def test_status_accepts_json_objects_and_time_is_normalised():
    entry = issued(
        status=[{"list": LIST, "index": 94567, "purpose": "revocation"}],
        time=datetime(2026, 11, 25, 22, 58, 37, 999999, tzinfo=timezone(timedelta(hours=9))),
    )
    assert entry.status == (StatusRef(LIST, 94567, "revocation"),)
    assert entry.time == T


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: not __import__("re").search(r"\d{6}-\d{7}", s)
)
_times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(timezone.utc)
)
_indexes = st.integers(0, 2**53 - 1)
_refs = st.builds(StatusRef, _text, _indexes, st.sampled_from(["revocation", "suspension", "refresh", "message"]))


@given(
    st.one_of(
        st.builds(
            IssuedEntry, st.binary(min_size=32, max_size=32).map(lambda b: b.hex()), _text, _text, _text,
            st.lists(_refs, max_size=4).map(tuple), _times,
        ),
        st.builds(StatusEntry, _text, _indexes, st.sampled_from(["refresh", "message"]), _indexes, _times),
        st.builds(
            KeyEntry, _text.filter(lambda s: not any(c.isspace() for c in s)).map(lambda s: "did:example:" + s), _text,
            st.sampled_from(["added", "rotated", "retired"]), st.just(MULTIBASE), _times,
        ),
    )
)
@settings(max_examples=300, deadline=None)
def test_round_trip_property(entry):
    data = encode_entry(entry)
    assert decode_entry(data) == entry
    assert json.loads(data)["v"] == 1


@pytest.mark.parametrize(
    "data",
    [
        # not the canonical form of what it decodes to
        b'{"v":1, "kind":"status","list":"https://issuer.example/status/1","index":94567,"purpose":"revocation",'
        b'"value":1,"time":"2026-11-25T13:58:37Z"}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}\n',
        b' {"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"index":94567.0,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https:\\/\\/issuer.example\\/status\\/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"index":94567,"kind":"\\u0073tatus","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        # numbers, versions, kinds, members
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1.0,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":2,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":true,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","value":1}',
        b'{"index":94567,"kind":"revoked","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"extra":"x","index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"index":94567,"index":94567,"kind":"status","list":"https://issuer.example/status/1",'
        b'"purpose":"revocation","time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"index":-1,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":2}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":true}',
        b'{"index":9007199254740992,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37Z","v":1,"value":1}',
        # times
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T13:58:37.000Z","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T22:58:37+09:00","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25t13:58:37z","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-02-30T13:58:37Z","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":"2026-11-25T23:59:60Z","v":1,"value":1}',
        b'{"index":94567,"kind":"status","list":"https://issuer.example/status/1","purpose":"revocation",'
        b'"time":1764079117,"v":1,"value":1}',
        # not an object / not JSON / not UTF-8
        b'[1]',
        b'{"v":1',
        b'\xff{}',
        b'{"kind":"status","v":NaN}',
        b'',
    ],
)
def test_decode_refuses(data):
    with pytest.raises(InvalidEntry) as info:
        decode_entry(data)
    assert info.value.code == "invalid_entry" and info.value.status == 422


def test_decode_refuses_oversized_and_non_bytes():
    with pytest.raises(InvalidEntry):
        decode_entry(b" " * 20000)
    with pytest.raises(InvalidEntry):
        decode_entry(encode_entry(status()).decode())  # type: ignore[arg-type]


def test_issued_member_rules():
    data = json.loads(encode_entry(issued()))
    for member, value in [
        ("credential_digest", DIGEST.upper()),
        ("credential_digest", DIGEST[:-1]),
        ("status", [{"list": LIST, "index": 1}]),
        ("status", [{"list": LIST, "index": 1, "purpose": "revocation", "x": 1}]),
        ("status", [{"list": LIST, "index": 1, "purpose": "deletion"}]),
        ("status", "none"),
        ("status", [{"list": LIST, "index": 1, "purpose": "revocation"}] * 17),
        ("credential_id", ""),
        ("credential_id", "x" * 2049),
        ("credential_id", "id\u0000"),
        ("credential_type", 5),
    ]:
        tampered = dict(data, **{member: value})
        with pytest.raises(InvalidEntry):
            decode_entry(json.dumps(tampered, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "build",
    [
        lambda: issued(credential_id="urn:resident:900101-1234567"),
        lambda: issued(credential_type="x 900101-1234567 y"),
        lambda: issued(issuer_kid="900101-1234567"),
        lambda: issued(status=(StatusRef("https://x.example/900101-1234567", 1, "revocation"),)),
        lambda: status(list="https://x.example/list?rrn=900101-1234567"),
        lambda: key(kid="did:web:x#900101-1234567"),
        lambda: key(did="did:web:900101-1234567"),
    ],
)
def test_resident_registration_numbers_never_enter_the_log(build):
    with pytest.raises(InvalidEntry) as info:
        build()
    assert "900101" not in info.value.detail  # errors never echo the value


def test_decode_also_refuses_a_resident_registration_number():
    data = encode_entry(issued()).replace(b"urn:uuid:0f6b2a8e-3c1d-4f5e-9a7b-2c3d4e5f6a7b", b"urn:x:900101-1234567")
    with pytest.raises(InvalidEntry):
        decode_entry(data)


def test_uuids_and_digests_do_not_look_like_registration_numbers():
    issued(credential_id="urn:uuid:12345678-1234-1234-1234-123456789012")


@pytest.mark.parametrize(
    "build",
    [
        lambda: issued(time=datetime(2026, 1, 1)),  # naive
        lambda: issued(time="2026-11-25T13:58:37Z"),
        lambda: status(purpose="revocation", value=2),
        lambda: status(value=-1),
        lambda: status(value=True),
        lambda: status(index=2**53),
        lambda: key(action="deleted"),
        lambda: key(did="web:issuer.example"),
        lambda: key(public_key_multibase="u" + MULTIBASE[1:]),
        lambda: key(public_key_multibase="z0OIl"),
        lambda: issued(credential_id="\ud800"),
    ],
)
def test_construction_refuses(build):
    with pytest.raises(InvalidEntry):
        build()


def test_encode_refuses_other_objects():
    with pytest.raises(TypeError):
        encode_entry({"v": 1})  # type: ignore[arg-type]


def test_time_format_round_trip_and_padding():
    early = datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert format_time(early) == "0999-01-02T03:04:05Z"
    assert parse_time("0999-01-02T03:04:05Z") == early


def test_credential_digest_is_sha256_hex_of_the_exact_text():
    jwt = "eyJhbGciOiJFZERTQSJ9.e30.sig"
    assert credential_digest(jwt) == hashlib.sha256(jwt.encode()).hexdigest() == credential_digest(jwt.encode())


def test_fast_canonical_form_equals_rfc8785_on_ascii_and_unicode():
    """The json.dumps fast path must give exactly what the RFC 8785 library gives."""
    import rfc8785
    from hypothesis import given, settings, strategies as st

    from did_service.core.tlog.entries import _jcs

    value = st.recursive(
        st.one_of(st.text(max_size=20), st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1), st.booleans(), st.none()),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=12,
    )

    @settings(max_examples=2000, deadline=None)
    @given(st.dictionaries(st.text(max_size=8), value, max_size=6))
    def check(members):
        assert _jcs(members) == rfc8785.dumps(members)

    check()
