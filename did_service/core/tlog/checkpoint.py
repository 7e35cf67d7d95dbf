"""C2SP tlog-checkpoint bodies in C2SP signed notes, signed with Ed25519 (signature type 0x01).

Checkpoint body (c2sp.org/tlog-checkpoint), every line ending in a newline::

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <base64 (RFC 4648 section 4) of the 32-byte RFC 9162 root hash>
    prev <base64 of the 32-byte SHA-256 of the previous checkpoint>

Our one extension line, ``prev``, makes checkpoints a hash chain. Its value is the SHA-256 of the previous
checkpoint's complete signed note, exactly the UTF-8 bytes the log signed and published (body, blank line and the
log's signature line; see ``checkpoint_hash``). The log's first checkpoint has no ``prev`` line; every later one
has exactly one. No other extension line is accepted. Whether a checkpoint is the first is decided by the chain
(``check_chain_link``), not by its size: a log may sign its first checkpoint at any size.

Signed note (c2sp.org/signed-note): the text, a blank line, then one line per signature
``— <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>`` (U+2014 em dash), where the key ID is
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]`` and the signature covers the text exactly.
A verifier key ("vkey") is ``<name>+<8 hex digits of the key ID>+<base64(0x01 || public key)>``.

Parsing is strict: one canonical form per value (no leading zeros, canonical padded base64, lowercase hex), no
control characters, no stray whitespace. Signatures by other keys are ignored, as the spec requires, but at least
one signature by the given key must verify and none by it may fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from did_service.core.tlog.hashing import EMPTY_ROOT, HASH_SIZE
from did_service.errors import Unprocessable

ED25519_SIGNATURE_TYPE = 0x01
KEY_ID_SIZE = 4
ED25519_SIGNATURE_SIZE = 64
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16; Go's sumdb/note refuses more than 100
MAX_TREE_SIZE = 2**63 - 1  # sizes are int64 in the Go reference and uint64 in RFC 9162
PREV_PREFIX = "prev "
SIGNATURE_PREFIX = "\u2014 "  # em dash, space

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # every ASCII control character except newline (U+000A)
_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


class CheckpointError(Unprocessable):
    """A signed note, checkpoint or verifier key is malformed."""

    code = "invalid_checkpoint"
    title = "Invalid checkpoint"


class CheckpointSignatureError(CheckpointError):
    """No signature by the expected key verifies, or one by that key fails."""

    code = "invalid_signature"
    title = "The checkpoint signature does not verify"


class VerifierKeyError(CheckpointError):
    code = "invalid_verifier_key"
    title = "Invalid verifier key"


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size, RFC 9162 root, and the hash of the previous checkpoint (None for the first)."""

    origin: str
    size: int
    root_hash: bytes
    prev_hash: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not _valid_origin(self.origin):
            raise CheckpointError("origin must be a non-empty line without control characters or outer spaces")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("tree size out of range")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError("root hash must be 32 bytes")
        if self.size == 0 and self.root_hash != EMPTY_ROOT:
            raise CheckpointError("the empty tree's root is SHA-256 of nothing (RFC 9162 section 2.1.1)")
        if self.prev_hash is not None and (not isinstance(self.prev_hash, bytes) or len(self.prev_hash) != 32):
            raise CheckpointError("previous checkpoint hash must be 32 bytes")


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 note verifier: key name, 4-byte key ID and public key."""

    name: str
    key_id: bytes
    public_key: ed25519.Ed25519PublicKey


# --- small codecs --------------------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str, error: type[CheckpointError] = CheckpointError) -> bytes:
    """Standard base64 (RFC 4648 section 4), padded; only the canonical spelling of the bytes is accepted."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise error(f"{what} is not standard base64") from exc
    if _b64encode(data) != text:  # non-zero padding bits would let one value have several spellings
        raise error(f"{what} is not canonical base64")
    return data


def _valid_key_name(name: str) -> bool:
    """c2sp.org/signed-note: non-empty, no Unicode spaces, no plus; we also refuse control characters."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name) and not _CONTROL.search(name)


def _valid_origin(origin: str) -> bool:
    return bool(origin) and "\n" not in origin and not _CONTROL.search(origin) and origin == origin.strip()


def _public_bytes(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key_name: str, public_key: ed25519.Ed25519PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4] (c2sp.org/signed-note)."""
    if not _valid_key_name(key_name):
        raise VerifierKeyError("key names are non-empty, without spaces or '+'")
    material = key_name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + _public_bytes(public_key)
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


# --- verifier keys -------------------------------------------------------------------------------------------


def vkey_for(key_name: str, public_key: ed25519.Ed25519PublicKey) -> str:
    """The verifier key text ``<name>+<hex key ID>+<base64(0x01 || public key)>`` (golang.org/x/mod/sumdb/note)."""
    encoded = _b64encode(bytes([ED25519_SIGNATURE_TYPE]) + _public_bytes(public_key))
    return f"{key_name}+{key_id(key_name, public_key).hex()}+{encoded}"


def parse_vkey(text: str) -> VerifierKey:
    """Parse a verifier key; VerifierKeyError unless it is exactly ``vkey_for`` of an Ed25519 key."""
    if not isinstance(text, str):
        raise VerifierKeyError("a verifier key is text")
    parts = text.split("+", 2)  # name and hex ID hold no '+'; the base64 key may
    if len(parts) != 3 or not _valid_key_name(parts[0]) or not _KEY_ID_HEX.fullmatch(parts[1]):
        raise VerifierKeyError("a verifier key is <name>+<8 lowercase hex digits>+<base64 key>")
    name, hex_id, encoded = parts
    raw = _b64decode(encoded, "verifier key", VerifierKeyError)
    if len(raw) != 1 + 32 or raw[0] != ED25519_SIGNATURE_TYPE:
        raise VerifierKeyError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
    try:
        public_key = ed25519.Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as exc:
        raise VerifierKeyError("the verifier key is not an Ed25519 public key") from exc
    if key_id(name, public_key) != bytes.fromhex(hex_id):
        raise VerifierKeyError("the verifier key's ID does not match its name and key")
    return VerifierKey(name, bytes.fromhex(hex_id), public_key)


# --- signed notes --------------------------------------------------------------------------------------------


def _check_note_characters(text: str) -> bytes:
    """Signed notes are valid UTF-8 without ASCII control characters other than newline (c2sp.org/signed-note)."""
    if _CONTROL.search(text):
        raise CheckpointError("signed notes contain no control characters other than newline")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError("signed notes are valid UTF-8") from exc
    if len(data) > MAX_NOTE_BYTES:
        raise CheckpointError(f"signed notes are at most {MAX_NOTE_BYTES} bytes here")
    return data


def sign_note(text: str, key_name: str, private_key: ed25519.Ed25519PrivateKey) -> str:
    """``text``, a blank line, and one Ed25519 signature line over ``text`` (c2sp.org/signed-note)."""
    if not text.endswith("\n"):
        raise CheckpointError("note text ends with a newline")
    data = _check_note_characters(text)
    signature = key_id(key_name, private_key.public_key()) + private_key.sign(data)
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {_b64encode(signature)}\n"


def _split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines): the text is separated from the signatures by the note's last blank line."""
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("a signed note has a blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise CheckpointError("a signed note ends with signature lines, each ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"a signed note has at most {MAX_SIGNATURES} signatures here")
    return text, lines


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """(key name, key ID, signature) of ``— <name> <base64>``; CheckpointError if malformed."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise CheckpointError("a signature line starts with an em dash and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space or not _valid_key_name(name) or not encoded:
        raise CheckpointError("a signature line is '— <key name> <base64 signature>'")
    raw = _b64decode(encoded, "signature")
    if len(raw) <= KEY_ID_SIZE:
        raise CheckpointError("a signature holds a key ID and signature bytes")
    return name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]


def open_note(note: str | bytes, verifiers: Sequence[VerifierKey]) -> str:
    """Verify a signed note; return its text (the part that was signed).

    Per c2sp.org/signed-note: signatures from unknown keys (name and key ID not both matching a verifier) are
    ignored; every signature from a known key must verify (CheckpointSignatureError otherwise); and at least one
    must be present and verify. Malformed notes raise CheckpointError.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("signed notes are valid UTF-8") from exc
    _check_note_characters(note)
    text, lines = _split_note(note)
    data = text.encode("utf-8")
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = 0
    for line in lines:
        name, signer_id, signature = _parse_signature_line(line)
        verifier = known.get((name, signer_id))
        if verifier is None:
            continue
        try:
            verifier.public_key.verify(signature, data)
        except InvalidSignature as exc:
            raise CheckpointSignatureError(f"the signature by {name} does not verify") from exc
        verified += 1
    if not verified:
        raise CheckpointSignatureError("the note has no signature by a known key")
    return text


# --- checkpoints ---------------------------------------------------------------------------------------------


def format_checkpoint(cp: Checkpoint) -> str:
    """The checkpoint note text (body) of ``cp`` (c2sp.org/tlog-checkpoint), ending in a newline."""
    lines = [cp.origin, str(cp.size), _b64encode(cp.root_hash)]
    if cp.prev_hash is not None:
        lines.append(PREV_PREFIX + _b64encode(cp.prev_hash))
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Inverse of ``format_checkpoint``; CheckpointError for anything else (it is the note text, unverified)."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text ends with a newline")
    lines = text[:-1].split("\n")
    if not 3 <= len(lines) <= 4:
        raise CheckpointError("a checkpoint has origin, size, root hash and at most the prev extension line")
    origin, size_text, root_text = lines[:3]
    if not _valid_origin(origin):
        raise CheckpointError("origin must be a non-empty line without control characters or outer spaces")
    if not _SIZE.fullmatch(size_text) or len(size_text) > 19:
        raise CheckpointError("tree size is ASCII decimal without leading zeros")
    root_hash = _b64decode(root_text, "root hash")
    prev_hash = None
    if len(lines) == 4:
        if not lines[3].startswith(PREV_PREFIX):
            raise CheckpointError("the only extension line accepted is 'prev <base64 SHA-256>'")
        prev_hash = _b64decode(lines[3][len(PREV_PREFIX) :], "previous checkpoint hash")
    checkpoint = Checkpoint(origin, int(size_text), root_hash, prev_hash)
    if format_checkpoint(checkpoint) != text:  # one spelling per checkpoint, so its hash is well defined
        raise CheckpointError("checkpoint text is not in canonical form")
    return checkpoint


def sign_checkpoint(cp: Checkpoint, key_name: str, private_key: ed25519.Ed25519PrivateKey) -> str:
    """The signed note of ``cp``, signed by the log key; publish and chain exactly these characters."""
    return sign_note(format_checkpoint(cp), key_name, private_key)


def parse_and_verify_checkpoint(
    note: str | bytes, vkey: str | VerifierKey, *, origin: str | None = None
) -> Checkpoint:
    """Verify the note's signature by ``vkey`` and parse its checkpoint; optionally require ``origin``."""
    verifier = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    checkpoint = parse_checkpoint(open_note(note, [verifier]))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError("checkpoint is for another log origin")
    return checkpoint


def checkpoint_hash(note: str | bytes) -> bytes:
    """SHA-256 of the complete signed note's UTF-8 bytes: the value the next checkpoint's ``prev`` line carries."""
    data = note.encode("utf-8") if isinstance(note, str) else note
    return hashlib.sha256(data).digest()


def check_chain_link(previous_note: str | bytes, previous: Checkpoint, current: Checkpoint) -> None:
    """``current`` follows ``previous`` in the hash chain: same origin, no shrinking, prev = hash of the note.

    Tree consistency between the two is a separate check (proofs.verify_consistency); this is the chain only.
    """
    if current.origin != previous.origin:
        raise CheckpointError("checkpoints in one chain share an origin")
    if current.size < previous.size:
        raise CheckpointError("a later checkpoint cannot be smaller")
    if current.prev_hash != checkpoint_hash(previous_note):
        raise CheckpointError("the checkpoint's prev line is not the hash of the previous checkpoint")
