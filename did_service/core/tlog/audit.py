"""The auditor: recompute the whole tree from the entries and hold every signed checkpoint against it.

Given a source (a live log over HTTP, or a store read directly), the audit checks, in one pass:
every checkpoint's signature by the log key, the prev-hash chain between consecutive checkpoints, that every
entry is a canonical entry, and that the tree recomputed from the entries has each checkpoint's root at each
checkpoint's size (which also proves every checkpoint consistent with every earlier one). On a root mismatch it
finds the first entry that is not included under that checkpoint by asking the source for each entry's inclusion
path and checking it against the signed root: a source cannot forge a path that verifies.

The source is trusted for nothing: the log's verifier key is the auditor's own (pinned once, out of band), and
a checkpoint the auditor saw earlier (``since``) must be reproduced by the replay, so a log that was cut back or
rewritten under a new key fails even when every remaining checkpoint is internally consistent. Entries after the latest checkpoint are not covered (nothing signed them yet).
When a source rewrote an entry's stored leaf hash along with its bytes, the paths it serves for that entry's
sibling carry the forged hash too, so the first failing index is the entry or its sibling; when only the bytes
were changed it is exactly the entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from did_service.core.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_chain_link,
    parse_and_verify_checkpoint,
    parse_vkey,
)
from did_service.core.tlog.entries import InvalidEntry, decode_entry
from did_service.core.tlog.hashing import CompactRange, leaf_hash
from did_service.core.tlog.proofs import ProofError, verify_inclusion
from did_service.errors import DidServiceError


class AuditSource(Protocol):
    def checkpoints(self) -> Iterator[str]:
        """Every signed checkpoint note, ascending by tree size."""

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """Entry bytes for leaves [start, end)."""

    def inclusion_path(self, leaf_index: int, tree_size: int) -> list[bytes]: ...


@dataclass(frozen=True)
class AuditResult:
    checkpoints: int
    entries: int
    first_bad_index: int | None = None
    problem: str | None = None
    latest_checkpoint: str | None = None  # the last signed note that checked out: remember it for the next audit

    @property
    def ok(self) -> bool:
        return self.problem is None


def audit(
    source: AuditSource, vkey: str, *, since: str | None = None, check_entries: bool = True
) -> AuditResult:
    """``since``: a signed checkpoint from an earlier audit; the log must still contain exactly that tree."""
    try:
        verifier = parse_vkey(vkey)
        remembered = parse_and_verify_checkpoint(since, verifier) if since else None
    except CheckpointError as exc:
        return AuditResult(0, 0, None, f"the pinned verifier key or the remembered checkpoint is unusable: {exc.detail}")
    if remembered is not None and remembered.size == 0:
        remembered = None
    tree = CompactRange()
    forgotten = False
    previous: tuple[str, Checkpoint] | None = None
    checked = 0
    for note in source.checkpoints():
        try:
            checkpoint = parse_and_verify_checkpoint(note, verifier)
            if previous is None:
                if checkpoint.prev_hash is not None:
                    raise CheckpointError("the first checkpoint names a predecessor")
            else:
                check_chain_link(previous[0], previous[1], checkpoint)
        except CheckpointError as exc:
            return AuditResult(checked, tree.size, None, f"checkpoint {checked} (size {_size_hint(note)}): {exc.detail}")
        segment_start = tree.size
        segment: list[bytes] = []
        index = segment_start
        for entry in source.entries(segment_start, checkpoint.size):
            if check_entries:
                try:
                    decode_entry(entry)
                except InvalidEntry as exc:
                    return AuditResult(checked, index, index, f"entry {index} is not a canonical log entry: {exc.detail}")
            hashed = leaf_hash(entry)
            segment.append(hashed)
            tree.append(hashed)
            index += 1
            if remembered is not None and tree.size == remembered.size:
                forgotten = tree.root() != remembered.root_hash  # reported after this segment is pinpointed
                remembered = None
        if tree.size != checkpoint.size:
            return AuditResult(checked, tree.size, tree.size, f"the source ended at {tree.size} entries, before checkpoint size {checkpoint.size}")
        if tree.root() != checkpoint.root_hash:
            bad = _first_not_included(source, segment_start, segment, checkpoint)
            return AuditResult(checked, tree.size, bad, f"entry {bad} is not the entry checkpoint size {checkpoint.size} committed to")
        if forgotten:
            return AuditResult(checked, tree.size, None, "the log no longer contains the tree remembered from the last audit")
        previous = (note, checkpoint)
        checked += 1
    if checked == 0:
        return AuditResult(0, 0, None, "the log has no checkpoint signed by the pinned key")
    if remembered is not None:
        return AuditResult(checked, tree.size, None,
                           f"the log ends before the remembered tree of size {remembered.size}")
    return AuditResult(checked, tree.size, latest_checkpoint=previous[0] if previous else None)


def _first_not_included(source: AuditSource, start: int, segment: list[bytes], checkpoint: Checkpoint) -> int:
    for offset, hashed in enumerate(segment):
        index = start + offset
        try:
            verify_inclusion(hashed, index, checkpoint.size, source.inclusion_path(index, checkpoint.size), checkpoint.root_hash)
        except (ProofError, DidServiceError):
            return index
    return start  # every path verified yet the roots differ: only possible if the source changed mid-audit


def _size_hint(note: str) -> str:
    lines = note.split("\n")
    return lines[1] if len(lines) > 1 and lines[1].isdigit() else "?"
