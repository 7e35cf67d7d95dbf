"""Checkpoints: C2SP tlog-checkpoint bodies in Ed25519 signed notes, strict parsing, and the prev hash chain."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from did_service.core.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointSignatureError,
    VerifierKeyError,
    check_chain_link,
    checkpoint_hash,
    format_checkpoint,
    key_id,
    open_note,
    parse_and_verify_checkpoint,
    parse_checkpoint,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    vkey_for,
)
from did_service.core.tlog.hashing import EMPTY_ROOT, leaf_hash

NAME = "issuer.example/log"
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = vkey_for(NAME, KEY.public_key())
ROOT = leaf_hash(b"root")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_sign_and_verify_round_trip():
    cp = Checkpoint(NAME, 20852163, ROOT)
    note = sign_checkpoint(cp, NAME, KEY)
    text = f"{NAME}\n20852163\n{_b64(ROOT)}\n"
    assert note.startswith(text + "\n\u2014 " + NAME + " ")
    assert note.endswith("\n") and note.count("\n") == 5
    signature = base64.b64decode(note.rsplit(" ", 1)[1])
    assert signature[:4] == key_id(NAME, KEY.public_key()) and len(signature) == 68
    KEY.public_key().verify(signature[4:], text.encode())
    assert parse_and_verify_checkpoint(note, VKEY) == cp
    assert parse_and_verify_checkpoint(note.encode(), parse_vkey(VKEY), origin=NAME) == cp


def test_key_id_and_vkey_follow_the_spec():
    public = KEY.public_key().public_bytes_raw()
    expected_id = hashlib.sha256(NAME.encode() + b"\n\x01" + public).digest()[:4]
    assert key_id(NAME, KEY.public_key()) == expected_id
    assert VKEY == f"{NAME}+{expected_id.hex()}+" + _b64(b"\x01" + public)
    verifier = parse_vkey(VKEY)
    assert (verifier.name, verifier.key_id, verifier.public_key.public_bytes_raw()) == (NAME, expected_id, public)


@given(
    origin=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FFF), min_size=1, max_size=30),
    size=st.integers(1, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    prev=st.none() | st.binary(min_size=32, max_size=32),
)
@settings(max_examples=150, deadline=None)
def test_round_trip_property(origin, size, root, prev):
    origin = origin.strip() or "x"
    cp = Checkpoint(origin, size, root, prev)
    assert parse_checkpoint(format_checkpoint(cp)) == cp
    assert parse_and_verify_checkpoint(sign_checkpoint(cp, NAME, KEY), VKEY) == cp


def test_empty_tree_checkpoint():
    cp = Checkpoint(NAME, 0, EMPTY_ROOT)
    assert parse_and_verify_checkpoint(sign_checkpoint(cp, NAME, KEY), VKEY) == cp
    with pytest.raises(CheckpointError):
        Checkpoint(NAME, 0, ROOT)


def test_tampered_body_or_signature_fails():
    note = sign_checkpoint(Checkpoint(NAME, 10, ROOT), NAME, KEY)
    tampered_body = note.replace("\n10\n", "\n11\n", 1)
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(tampered_body, VKEY)
    encoded = note.rsplit(" ", 1)[1].strip()
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    with pytest.raises(CheckpointSignatureError) as info:
        parse_and_verify_checkpoint(note.replace(encoded, _b64(bytes(raw))), VKEY)
    assert info.value.code == "invalid_signature" and info.value.status == 422


def test_wrong_key_fails():
    note = sign_checkpoint(Checkpoint(NAME, 10, ROOT), NAME, KEY)
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(note, vkey_for(NAME, other.public_key()))  # same name, other key id: unknown
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(note, vkey_for("other.example/log", KEY.public_key()))  # same key, other name


def test_a_forged_signature_under_our_key_id_is_rejected_even_beside_a_valid_one():
    note = sign_checkpoint(Checkpoint(NAME, 10, ROOT), NAME, KEY)
    forged = f"\u2014 {NAME} {_b64(key_id(NAME, KEY.public_key()) + bytes(64))}\n"
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(note + forged, VKEY)


def test_unknown_signers_are_ignored_when_ours_verifies():
    cp = Checkpoint(NAME, 10, ROOT)
    note = sign_checkpoint(cp, NAME, KEY)
    witness = ed25519.Ed25519PrivateKey.generate()
    witness_line = sign_note(format_checkpoint(cp), "witness.example", witness).split("\n\n", 1)[1]
    garbage_line = "\u2014 someone.example " + _b64(b"\x00\x00\x00\x01" + bytes(64)) + "\n"
    assert parse_and_verify_checkpoint(note + witness_line + garbage_line, VKEY) == cp
    only_unknown = format_checkpoint(cp) + "\n" + witness_line
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(only_unknown, VKEY)


GOOD_TEXT = f"{NAME}\n10\n{_b64(ROOT)}\n"


@pytest.mark.parametrize(
    "text",
    [
        f"{NAME}\n010\n{_b64(ROOT)}\n",  # leading zero
        f"{NAME}\n+10\n{_b64(ROOT)}\n",
        f"{NAME}\n 10\n{_b64(ROOT)}\n",
        f"{NAME}\n10 \n{_b64(ROOT)}\n",
        f"{NAME}\n1_0\n{_b64(ROOT)}\n",
        f"{NAME}\n\u0661\u0660\n{_b64(ROOT)}\n",  # Arabic-Indic digits pass str.isdigit but are not ASCII
        f"{NAME}\n-1\n{_b64(ROOT)}\n",
        f"{NAME}\n9223372036854775808\n{_b64(ROOT)}\n",  # beyond int64
        f"{NAME}\n0x0a\n{_b64(ROOT)}\n",
        f"{NAME}\n10\n{_b64(ROOT)[:-1]}\n",  # unpadded
        f"{NAME}\n10\n{_b64(ROOT[:31])}\n",  # 31 bytes
        f"{NAME}\n10\n{_b64(ROOT).replace('+', '-').replace('/', '_')}x\n",  # base64url
        f"{NAME}\n10\n{_b64(ROOT)} \n",
        f"{NAME}\n10\n{_b64(ROOT)}",  # no final newline
        f"{NAME}\n10\n",
        f" {NAME}\n10\n{_b64(ROOT)}\n",
        f"{NAME} \n10\n{_b64(ROOT)}\n",
        f"\n10\n{_b64(ROOT)}\n",
        f"{NAME}\n10\n{_b64(ROOT)}\nother extension\n",
        f"{NAME}\n10\n{_b64(ROOT)}\nprev {_b64(ROOT)}\nprev {_b64(ROOT)}\n",
        f"{NAME}\n10\n{_b64(ROOT)}\nprev  {_b64(ROOT)}\n",
        f"{NAME}\n10\n{_b64(ROOT)}\nprev {_b64(ROOT[:16])}\n",
        f"{NAME}\n10\n{_b64(ROOT)}\nPrev {_b64(ROOT)}\n",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected_even_when_signed(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)
    if text.endswith("\n") and "\n\n" not in text:
        with pytest.raises(CheckpointError):
            parse_and_verify_checkpoint(sign_note(text, NAME, KEY), VKEY)


def test_non_canonical_base64_padding_bits_are_rejected():
    good = _b64(ROOT)
    # the last base64 digit of a 32-byte value carries 2 unused bits; setting one spells the same bytes differently
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bad = good[:-2] + alphabet[alphabet.index(good[-2]) | 1] + "="
    assert base64.b64decode(bad) == ROOT and bad != good
    with pytest.raises(CheckpointError):
        parse_checkpoint(f"{NAME}\n10\n{bad}\n")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda n: n.replace("\n\n", "\n"),  # no blank line
        lambda n: n[:-1],  # no final newline
        lambda n: n + "\n",  # trailing empty line
        lambda n: n + "trailing text\n",
        lambda n: n.replace("\u2014 ", "- "),
        lambda n: n.replace("\u2014 ", "\u2014  "),
        lambda n: n.replace(f"\u2014 {NAME} ", f"\u2014 {NAME}\t"),
        lambda n: n.replace(f"{NAME} ", f"{NAME}+x "),
        lambda n: n.replace("\n", "\r\n"),
        lambda n: "\x01" + n,
        lambda n: n.rsplit(" ", 1)[0] + " \n",
        lambda n: n.rsplit(" ", 1)[0] + " AAAA\n",  # signature of 3 bytes: no room for a key id and signature
        lambda n: n.rsplit(" ", 1)[0] + " !!!!\n",
        lambda n: n + n.split("\n\n", 1)[1] * 100,  # 101 signatures
    ],
)
def test_malformed_notes_are_rejected(mangle):
    note = sign_checkpoint(Checkpoint(NAME, 10, ROOT), NAME, KEY)
    with pytest.raises(CheckpointError):
        parse_and_verify_checkpoint(mangle(note), VKEY)


def test_notes_that_are_not_utf8_or_too_big_are_rejected():
    note = sign_checkpoint(Checkpoint(NAME, 10, ROOT), NAME, KEY)
    with pytest.raises(CheckpointError):
        open_note(b"\xff" + note.encode(), [parse_vkey(VKEY)])
    with pytest.raises(CheckpointError):
        open_note(note.replace(NAME, "\ud800", 1), [parse_vkey(VKEY)])
    with pytest.raises(CheckpointError):
        open_note("x" * 70000 + "\n\n" + note.split("\n\n")[1], [parse_vkey(VKEY)])


def test_origin_can_be_required():
    note = sign_checkpoint(Checkpoint(NAME, 10, ROOT), NAME, KEY)
    with pytest.raises(CheckpointError):
        parse_and_verify_checkpoint(note, VKEY, origin="another.example/log")


@pytest.mark.parametrize(
    "text",
    [
        "",
        NAME,
        f"{NAME}+{'0' * 8}",
        VKEY + "+",
        VKEY.replace("+", "++", 1),
        VKEY.upper(),
        " " + VKEY,
        VKEY + "\n",
        VKEY[:-1],
        f"{NAME}+{key_id(NAME, KEY.public_key()).hex()}+" + _b64(b"\x02" + KEY.public_key().public_bytes_raw()),
        f"bad name+{key_id(NAME, KEY.public_key()).hex()}+{VKEY.rsplit('+', 1)[1]}",
    ],
)
def test_bad_vkeys(text):
    with pytest.raises(VerifierKeyError) as info:
        parse_vkey(text)
    assert info.value.code == "invalid_verifier_key"


def test_invalid_key_names_cannot_sign():
    for name in ("", "a b", "a+b", "a\u3000b"):
        with pytest.raises(CheckpointError):
            sign_note("text\n", name, KEY)
    with pytest.raises(CheckpointError):
        sign_note("no newline", NAME, KEY)


def test_checkpoint_values_are_validated():
    for args in [
        ("", 1, ROOT),
        (" x", 1, ROOT),
        ("a\nb", 1, ROOT),
        (NAME, -1, ROOT),
        (NAME, 2**63, ROOT),
        (NAME, True, ROOT),
        (NAME, 1, ROOT[:31]),
        (NAME, 1, ROOT, b"short"),
    ]:
        with pytest.raises(CheckpointError):
            Checkpoint(*args)


# --- the hash chain -----------------------------------------------------------------------------------------------


def test_hash_chain():
    first = Checkpoint(NAME, 5, leaf_hash(b"5"))
    first_note = sign_checkpoint(first, NAME, KEY)
    assert "prev" not in first_note
    second = Checkpoint(NAME, 9, leaf_hash(b"9"), prev_hash=checkpoint_hash(first_note))
    second_note = sign_checkpoint(second, NAME, KEY)
    assert f"\nprev {_b64(hashlib.sha256(first_note.encode()).digest())}\n\n" in second_note
    assert parse_and_verify_checkpoint(second_note, VKEY) == second
    check_chain_link(first_note, first, second)
    third = Checkpoint(NAME, 9, leaf_hash(b"9"), prev_hash=checkpoint_hash(second_note))
    check_chain_link(second_note, second, third)  # same size again is allowed (re-signing without growth)

    with pytest.raises(CheckpointError):
        check_chain_link(second_note, second, Checkpoint(NAME, 12, ROOT, prev_hash=checkpoint_hash(first_note)))
    with pytest.raises(CheckpointError):
        check_chain_link(first_note, first, Checkpoint(NAME, 12, ROOT))  # a later checkpoint without prev
    with pytest.raises(CheckpointError):
        check_chain_link(second_note, second, Checkpoint(NAME, 8, ROOT, prev_hash=checkpoint_hash(second_note)))
    with pytest.raises(CheckpointError):
        check_chain_link(second_note, second, Checkpoint("other", 12, ROOT, prev_hash=checkpoint_hash(second_note)))
    # the prev hash covers the signature lines too: a re-signed or cosigned note is a different link
    resigned = second_note + f"\u2014 witness.example {_b64(bytes(68))}\n"
    with pytest.raises(CheckpointError):
        check_chain_link(resigned, second, third)
    assert checkpoint_hash(second_note) == checkpoint_hash(second_note.encode())
