"""The transparency log service: publish checkpoints, serve proofs and receipts, refuse a history that does not verify.

"Appended" and "published" are different states (transparency-dev): issuance appends entries durably; a
checkpoint signed by the log key publishes everything appended so far. Publishing happens whenever someone looks
(checkpoint, receipt, proof or an `anchored` check), so nothing appended stays unpublished while anyone watches.

Before signing, the new tree is proven consistent with the last checkpoint from stored data, the new entries are
re-hashed, and a window of older entries is re-hashed against the stored subtree hashes (the scrub). Any mismatch
halts the log: no more appends or checkpoints until an operator has looked (`did-service log resume`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519

from did_service.core import tlog
from did_service.core.tlog.receipt import Receipt
from did_service.errors import LogHalted, NotFound
from did_service.storage.base import CheckpointRecord, CredentialRecord, NodeId, Store

log = logging.getLogger(__name__)

SCRUB_LEAVES = 1024  # leaves per scrub block
SCRUB_BLOCKS = 4  # blocks re-hashed per checkpoint: all of them while the log is this small
READ_CHUNK = 10_000


@dataclass(frozen=True)
class LogIdentity:
    origin: str
    private_key: ed25519.Ed25519PrivateKey

    @property
    def key_name(self) -> str:
        return self.origin

    @property
    def vkey(self) -> str:
        return tlog.vkey_for(self.key_name, self.private_key.public_key())


class TransparencyLog:
    def __init__(self, store: Store, identity: LogIdentity, clock: Callable[[], datetime]) -> None:
        self._store = store
        self.identity = identity
        self._clock = clock
        self._scrub_cursor: int | None = None

    def resume(self) -> str | None:
        """Clear a halt, but only after every published entry re-hashes to the stored tree and the last checkpoint
        verifies; otherwise the log stays halted. Returns the reason it had been halted for."""
        reason = self._store.log_halted()
        latest = self._store.latest_checkpoint()
        if latest is not None:
            self._verify_previous(latest, self._store.read_nodes(tlog.root_id_decomposition(latest.size)))
            self._scrub(latest.size, everything=True)
        self._store.resume_log()
        return reason

    # --- publishing -------------------------------------------------------------------------------------------

    def checkpoint(self) -> CheckpointRecord:
        """The latest checkpoint, after publishing whatever was appended since the previous one."""
        for _ in range(10):  # lost races to another publisher just mean someone else signed: read again
            latest = self._store.latest_checkpoint()
            size = self._store.log_size()
            if latest is not None and latest.size >= size:
                return latest
            halted = self._store.log_halted()
            if halted:
                if latest is None:
                    raise LogHalted(halted)
                return latest  # the last good checkpoint stays published; nothing new is signed
            try:
                self._publish(latest, size)
            except LogHalted:
                if latest is None:
                    raise
                return latest  # halted just now: readers keep the last good checkpoint, nothing new is signed
        latest = self._store.latest_checkpoint()
        if latest is None:
            raise LogHalted("no checkpoint could be published")
        return latest

    def _publish(self, latest: CheckpointRecord | None, size: int) -> bool:
        old = latest.size if latest else 0
        edge = self._store.read_nodes(tlog.root_id_decomposition(old))
        if latest is not None:
            self._verify_previous(latest, edge)
        new_nodes: dict[NodeId, bytes] = {}
        cursor, nodes = old, dict(edge)
        while cursor < size:
            leaves = self._store.read_leaves(cursor, min(size, cursor + READ_CHUNK))
            for leaf in leaves:
                if tlog.leaf_hash(leaf.entry) != leaf.leaf_hash:
                    self._halt(f"stored entry {leaf.index} does not match its leaf hash")
            right_edge = {i: nodes[i] for i in tlog.root_id_decomposition(cursor)}
            grown = tlog.complete_new_nodes(cursor, [leaf.leaf_hash for leaf in leaves], right_edge)
            new_nodes.update(grown)
            nodes.update(grown)
            cursor += len(leaves)
            if not leaves:
                self._halt(f"the log reports {size} entries but leaf {cursor} is missing")
        self._scrub(old)
        root = tlog.root_from_nodes(size, nodes)
        if latest is not None:
            ids = tlog.consistency_node_ids(old, size)
            proof_nodes = {**self._store.read_nodes([i for i in ids if i not in nodes]), **nodes}
            try:
                tlog.verify_consistency(old, size, latest.root_hash, root, tlog.consistency_proof(old, size, proof_nodes))
            except (tlog.ProofError, KeyError):
                self._halt(f"the tree of size {size} is not consistent with checkpoint {old}")
        prev_hash = tlog.checkpoint_hash(latest.note) if latest else None
        note = tlog.sign_checkpoint(
            tlog.Checkpoint(self.identity.origin, size, root, prev_hash), self.identity.key_name, self.identity.private_key
        )
        record = CheckpointRecord(size=size, root_hash=root, note=note, created_at=self._clock())
        stored = {node_id: value for node_id, value in new_nodes.items() if node_id[0] > 0}
        return self._store.add_checkpoint(record, stored, latest.size if latest else None)

    def _verify_previous(self, latest: CheckpointRecord, edge: dict[NodeId, bytes]) -> None:
        try:
            published = tlog.parse_and_verify_checkpoint(latest.note, self.identity.vkey, origin=self.identity.origin)
        except tlog.CheckpointError:
            self._halt(f"the stored checkpoint of size {latest.size} does not verify with the log key")
        if published.root_hash != latest.root_hash or published.size != latest.size:
            self._halt(f"the stored checkpoint record of size {latest.size} disagrees with its signed note")
        try:
            if tlog.root_from_nodes(latest.size, edge) != latest.root_hash:
                self._halt(f"stored subtree hashes no longer give the root of checkpoint {latest.size}")
        except KeyError:
            self._halt(f"stored subtree hashes for checkpoint {latest.size} are missing")

    def _scrub(self, sealed: int, *, everything: bool = False) -> None:
        """Re-hash already published entries against the stored complete-subtree hashes: SCRUB_BLOCKS blocks per
        checkpoint, walking the log block by block (from a random start per process), so every entry is re-checked
        within a bounded number of checkpoints; or everything (before an operator resumes a halted log)."""
        if sealed == 0:
            return
        blocks = (sealed + SCRUB_LEAVES - 1) // SCRUB_LEAVES
        if everything or blocks <= SCRUB_BLOCKS:
            chosen = list(range(blocks))
        else:
            if self._scrub_cursor is None:
                self._scrub_cursor = secrets.randbelow(blocks)
            chosen = [(self._scrub_cursor + i) % blocks for i in range(SCRUB_BLOCKS)]
            self._scrub_cursor = (self._scrub_cursor + SCRUB_BLOCKS) % blocks
        for block in chosen:
            start, end = block * SCRUB_LEAVES, min(sealed, (block + 1) * SCRUB_LEAVES)
            leaves = self._store.read_leaves(start, end)
            recomputed: dict[NodeId, bytes] = {}
            for leaf in leaves:
                if tlog.leaf_hash(leaf.entry) != leaf.leaf_hash:
                    self._halt(f"stored entry {leaf.index} does not match its leaf hash")
            ids = tlog.range_node_ids(start, end)
            stored = self._store.read_nodes(ids)
            hashes = [leaf.leaf_hash for leaf in leaves]
            for level, index in ids:
                first = (index << level) - start
                recomputed[(level, index)] = tlog.root_from_leaves(hashes[first : first + (1 << level)])
                if stored.get((level, index)) != recomputed[(level, index)]:
                    self._halt(f"stored entries {start}..{end - 1} no longer match the published tree")

    def _halt(self, reason: str) -> None:
        log.error("transparency log halted: %s", reason)
        self._store.halt_log(reason, self._clock())
        raise LogHalted(reason)

    # --- proofs ------------------------------------------------------------------------------------------------

    def inclusion_path(self, leaf_index: int, tree_size: int) -> list[bytes]:
        nodes = self._store.read_nodes(tlog.inclusion_node_ids(leaf_index, tree_size))
        return tlog.inclusion_proof(leaf_index, tree_size, nodes)

    def consistency_path(self, first: int, second: int) -> list[bytes]:
        nodes = self._store.read_nodes(tlog.consistency_node_ids(first, second))
        return tlog.consistency_proof(first, second, nodes)

    def receipt(self, credential_digest: str) -> Receipt:
        record = self._store.get_credential_by_digest(credential_digest)
        if record is None or record.leaf_index is None:
            raise NotFound("no credential with this digest is in the log", code="not_in_log")
        return self.receipt_for(record)

    def receipt_for(self, record: CredentialRecord) -> Receipt:
        if record.leaf_index is None:
            raise NotFound("the credential has no log position", code="not_in_log")
        checkpoint = self._store.latest_checkpoint()
        if checkpoint is None or record.leaf_index >= checkpoint.size:
            checkpoint = self.checkpoint()  # publish only when the entry is not yet under a checkpoint
        if record.leaf_index >= checkpoint.size:
            raise LogHalted("the credential's entry is appended but not yet published")
        (leaf,) = self._store.read_leaves(record.leaf_index, record.leaf_index + 1)
        path = self.inclusion_path(record.leaf_index, checkpoint.size)
        return Receipt(record.leaf_index, leaf.entry, checkpoint.note, tuple(path))
