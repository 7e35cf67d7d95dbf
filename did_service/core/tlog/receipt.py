"""Receipts: the evidence that a credential is in the log, checkable by anyone holding the log's verifier key.

A receipt is the credential's log entry, its leaf index, a checkpoint signed by the log key and the RFC 9162
inclusion proof of the entry under that checkpoint. Nothing in it is trusted until it verifies here.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from did_service.core.tlog.checkpoint import Checkpoint, parse_and_verify_checkpoint
from did_service.core.tlog.entries import IssuedEntry, decode_entry
from did_service.core.tlog.hashing import leaf_hash
from did_service.core.tlog.proofs import ProofError, verify_inclusion
from did_service.errors import Unprocessable


class InvalidReceipt(Unprocessable):
    code = "invalid_receipt"
    title = "The log receipt is malformed"


@dataclass(frozen=True)
class Receipt:
    leaf_index: int
    entry: bytes
    checkpoint: str  # signed note
    audit_path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "entry": base64.b64encode(self.entry).decode(),
            "checkpoint": self.checkpoint,
            "audit_path": [base64.b64encode(h).decode() for h in self.audit_path],
        }

    @classmethod
    def from_json(cls, data: Any) -> "Receipt":
        if not isinstance(data, dict):
            raise InvalidReceipt("a receipt is a JSON object")
        index, entry, note, path = (data.get(k) for k in ("leaf_index", "entry", "checkpoint", "audit_path"))
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidReceipt("leaf_index must be a non-negative integer")
        if not isinstance(note, str) or not isinstance(path, list) or len(path) > 64:
            raise InvalidReceipt("checkpoint must be a signed note and audit_path a list of hashes")
        return cls(index, _b64(entry), note, tuple(_b64(h) for h in path))


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidReceipt("expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidReceipt("expected base64 text") from exc


@lru_cache(maxsize=64)
def _verified_checkpoint(note: str, vkey: str, origin: str | None) -> Checkpoint:
    # A note that verified under a key verifies forever; verifiers see the same few checkpoints again and again.
    return parse_and_verify_checkpoint(note, vkey, origin=origin)


def verify_receipt(receipt: Receipt, vkey: str, *, origin: str | None = None) -> tuple[IssuedEntry, Checkpoint]:
    """The issued entry and the checkpoint it is proven under; raises (ProofError, CheckpointError...) otherwise."""
    checkpoint = _verified_checkpoint(receipt.checkpoint, vkey, origin)
    if receipt.leaf_index >= checkpoint.size:
        raise ProofError("the leaf is not under this checkpoint")
    verify_inclusion(leaf_hash(receipt.entry), receipt.leaf_index, checkpoint.size, list(receipt.audit_path), checkpoint.root_hash)
    entry = decode_entry(receipt.entry)
    if not isinstance(entry, IssuedEntry):
        raise InvalidReceipt("the receipt's entry is not an issuance")
    return entry, checkpoint
