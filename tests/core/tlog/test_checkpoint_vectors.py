"""golang.org/x/mod sumdb/note and sumdb/tlog vectors and the C2SP examples, reproduced (see the SOURCE.md)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from did_service.core.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointSignatureError,
    VerifierKeyError,
    format_checkpoint,
    open_note,
    parse_checkpoint,
    parse_vkey,
    sign_note,
    vkey_for,
)
from did_service.core.tlog.hashing import leaf_hash
from tests.support import VECTORS_DIR

VECTORS = json.loads((VECTORS_DIR / "c2sp-signed-note" / "vectors.json").read_text(encoding="utf-8"))
NOTE = VECTORS["note"]
TREE = VECTORS["tree"]
PETER = parse_vkey(NOTE["peter_vkey"])
ENOCH = parse_vkey(NOTE["enoch_vkey"])


def _peter_private_key() -> tuple[str, ed25519.Ed25519PrivateKey]:
    """The Go test signer key: PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || 32-byte seed)."""
    private, key, name, hex_id, encoded = NOTE["peter_skey"].split("+", 4)
    assert (private, key, hex_id) == ("PRIVATE", "KEY", "c74f20a3")
    raw = base64.b64decode(encoded)
    assert raw[0] == 1 and len(raw) == 33
    return name, ed25519.Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_signing_reproduces_the_go_signed_note_byte_for_byte():
    name, private_key = _peter_private_key()
    assert sign_note(NOTE["text"], name, private_key) == NOTE["signed_by_peter"]
    assert NOTE["signed_by_peter"] == NOTE["text"] + "\n" + NOTE["peter_sig"]


def test_vkey_for_rebuilds_the_published_verifier_key():
    name, private_key = _peter_private_key()
    assert vkey_for(name, private_key.public_key()) == NOTE["peter_vkey"]
    assert (PETER.name, PETER.key_id.hex()) == ("PeterNeumann", "c74f20a3")
    assert (ENOCH.name, ENOCH.key_id.hex()) == ("EnochRoot", "af0cfe78")


def test_open_with_one_or_both_known_keys():
    text, peter_sig, enoch_sig = NOTE["text"], NOTE["peter_sig"], NOTE["enoch_sig"]
    both = text + "\n" + peter_sig + enoch_sig
    assert open_note(both, [PETER]) == text  # Enoch's signature is from an unknown key: ignored
    assert open_note(both, [ENOCH]) == text
    assert open_note(both, [PETER, ENOCH]) == text
    assert open_note(text + "\n" + enoch_sig, [ENOCH]) == text
    with pytest.raises(CheckpointSignatureError):
        open_note(both, [])
    with pytest.raises(CheckpointSignatureError):
        open_note(text + "\n" + enoch_sig, [PETER])
    # duplicated signatures of TestOpen, plus an unknown-key signature that is corrupted: still fine for Peter
    enoch_bad = enoch_sig[:60] + "ABCD" + enoch_sig[60:]
    assert open_note(text + "\n" + peter_sig + peter_sig + enoch_sig + enoch_sig + enoch_bad, [PETER]) == text


def test_open_rejects_the_go_test_bad_notes():
    text, peter_sig = NOTE["text"], NOTE["peter_sig"]
    bad_notes = [
        text,
        text + "\n",
        text + "\n" + peter_sig[:-1],
        "\x01" + text + "\n" + peter_sig,
        text + "\n" + peter_sig.replace("PeterNeumann", "Bad Name")[:-1],  # the Go test's "Bad Name" line
        text + "\n" + peter_sig + "Unexpected line.\n",
        text + "\n" + peter_sig * 101,  # too many signatures
    ]
    for note in bad_notes:
        with pytest.raises(CheckpointError):
            open_note(note, [PETER])
    with pytest.raises(CheckpointError):
        open_note(b"\xff" + (text + "\n" + peter_sig).encode(), [PETER])
    # invalid signature by a known key
    with pytest.raises(CheckpointSignatureError):
        open_note(text + "\n" + peter_sig[:60] + "ABCD" + peter_sig[60:], [PETER])
    # right key ID under another name, or another key ID under the right name: unknown, so nothing verifies
    with pytest.raises(CheckpointSignatureError):
        open_note(text + "\n" + peter_sig.replace("PeterNeumann", "CarmenSandiego"), [PETER])
    with pytest.raises(CheckpointError):
        open_note(text + "\n" + peter_sig.replace("x08g", "xxxx"), [PETER])


def test_every_truncation_and_one_byte_change_of_the_vkey_is_rejected():
    """TestNewVerifier's manglings."""
    vkey = NOTE["peter_vkey"].encode()
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(VerifierKeyError):
                    parse_vkey(vkey[i:j].decode())
    for i in range(len(vkey)):
        changed = bytearray(vkey)
        changed[i] += 1
        with pytest.raises(VerifierKeyError):
            parse_vkey(changed.decode())
    for bad in NOTE["bad_vkeys"]:
        with pytest.raises(VerifierKeyError):
            parse_vkey(bad)


def test_go_tree_note_body():
    cp = Checkpoint(TREE["origin"], TREE["size"], leaf_hash(TREE["record"].encode()))
    assert format_checkpoint(cp) == TREE["text"]
    assert parse_checkpoint(TREE["text"]) == cp
    for bad in TREE["bad_texts"]:
        if bad.startswith("not-"):
            # another origin is a well-formed checkpoint of another log: parse_and_verify_checkpoint's origin
            # argument is what rejects it
            assert parse_checkpoint(bad).origin != cp.origin
            continue
        with pytest.raises(CheckpointError):
            parse_checkpoint(bad)
    for junk in ("JOE", "JOE\n"):
        # Go's ParseTree ignores trailing junk; a C2SP checkpoint allows only our prev extension line
        with pytest.raises(CheckpointError):
            parse_checkpoint(TREE["text"] + junk)


def test_c2sp_examples_parse_but_do_not_open_without_their_key():
    examples = VECTORS["c2sp_examples"]
    text = examples["tlog_checkpoint"].split("\n\n", 1)[0] + "\n"
    assert parse_checkpoint(text) == Checkpoint(
        "example.com/behind-the-sofa", 20852163, base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    )
    for note in examples.values():
        with pytest.raises(CheckpointSignatureError):  # well-formed; no signature by a key we hold
            open_note(note, [PETER])
