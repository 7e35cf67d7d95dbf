"""The auditor against an in-memory log: every way a log can lie must fail, and an honest log must pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from did_service.core import tlog
from did_service.core.tlog.audit import audit

ORIGIN = "issuer.example/log"
KEY = ed25519.Ed25519PrivateKey.generate()
VKEY = tlog.vkey_for(ORIGIN, KEY.public_key())
AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def entry(i: int) -> bytes:
    return tlog.encode_entry(tlog.StatusEntry("https://issuer.example/status/1", i, "revocation", 1, AT))


def sign_history(entries: list[bytes], sizes: list[int], key=KEY, origin=ORIGIN) -> list[str]:
    notes, previous = [], None
    for size in sizes:
        root = tlog.root_from_leaves(tlog.leaf_hash(e) for e in entries[:size])
        prev = tlog.checkpoint_hash(previous) if previous else None
        previous = tlog.sign_checkpoint(tlog.Checkpoint(origin, size, root, prev), origin, key)
        notes.append(previous)
    return notes


@dataclass
class MemorySource:
    entries_: list[bytes]
    notes: list[str]
    # what the source claims the tree looked like when it built paths (defaults to its own entries)
    path_entries: list[bytes] | None = field(default=None)

    def checkpoints(self):
        return iter(self.notes)

    def entries(self, start, end):
        return iter(self.entries_[start:end])

    def inclusion_path(self, leaf_index, tree_size):
        leaves = [tlog.leaf_hash(e) for e in (self.path_entries or self.entries_)[:tree_size]]
        size = len(leaves)
        level = {(0, i): h for i, h in enumerate(leaves)}
        width, lvl = size, 0
        while width > 1:
            for i in range(width // 2):
                level[(lvl + 1, i)] = tlog.node_hash(level[(lvl, 2 * i)], level[(lvl, 2 * i + 1)])
            width //= 2
            lvl += 1
        nodes = {k: v for k, v in level.items() if (k[1] + 1) << k[0] <= size}
        return tlog.inclusion_proof(leaf_index, tree_size, nodes)


ENTRIES = [entry(i) for i in range(40)]
SIZES = [3, 10, 17, 40]


def honest() -> MemorySource:
    return MemorySource(list(ENTRIES), sign_history(ENTRIES, SIZES))


def test_honest_log_passes_and_remembers_its_last_checkpoint():
    result = audit(honest(), VKEY)
    assert result.ok and result.checkpoints == 4 and result.entries == 40
    again = audit(honest(), VKEY, since=result.latest_checkpoint)
    assert again.ok


def test_changed_entry_is_named():
    source = honest()
    source.path_entries = list(ENTRIES)
    source.entries_[12] = entry(999)
    result = audit(source, VKEY)
    assert not result.ok and result.first_bad_index == 12


def test_reordered_entries_fail():
    source = honest()
    source.path_entries = list(ENTRIES)
    source.entries_[20], source.entries_[21] = source.entries_[21], source.entries_[20]
    result = audit(source, VKEY)
    assert not result.ok and result.first_bad_index == 20


def test_dropped_entry_fails():
    source = honest()
    del source.entries_[5]
    assert not audit(source, VKEY).ok


def test_source_that_ends_early_fails():
    source = honest()
    source.entries_ = source.entries_[:30]
    result = audit(source, VKEY)
    assert not result.ok and "ended" in result.problem


def test_checkpoint_signed_by_another_key_fails():
    source = honest()
    source.notes[2] = sign_history(ENTRIES, SIZES, key=ed25519.Ed25519PrivateKey.generate())[2]
    assert not audit(source, VKEY).ok


def test_whole_log_rewritten_under_a_new_key_fails_against_the_pinned_key():
    other = ed25519.Ed25519PrivateKey.generate()
    forged = list(ENTRIES)
    forged[4] = entry(444)
    source = MemorySource(forged, sign_history(forged, SIZES, key=other))
    result = audit(source, VKEY)
    assert not result.ok and result.checkpoints == 0


def test_broken_prev_chain_fails():
    source = honest()
    # Re-sign checkpoint 3 with a prev that names something else.
    root = tlog.root_from_leaves(tlog.leaf_hash(e) for e in ENTRIES[:17])
    source.notes[2] = tlog.sign_checkpoint(tlog.Checkpoint(ORIGIN, 17, root, b"\x00" * 32), ORIGIN, KEY)
    result = audit(source, VKEY)
    assert not result.ok and "prev" in result.problem


def test_first_checkpoint_naming_a_predecessor_fails():
    source = honest()
    root = tlog.root_from_leaves(tlog.leaf_hash(e) for e in ENTRIES[:3])
    source.notes[0] = tlog.sign_checkpoint(tlog.Checkpoint(ORIGIN, 3, root, b"\x01" * 32), ORIGIN, KEY)
    assert not audit(source, VKEY).ok


def test_no_checkpoint_is_not_a_pass():
    result = audit(MemorySource(list(ENTRIES), []), VKEY)
    assert not result.ok


def test_truncated_log_fails_against_the_remembered_checkpoint():
    remembered = audit(honest(), VKEY).latest_checkpoint
    cut = MemorySource(ENTRIES[:17], sign_history(ENTRIES, [3, 10, 17]))
    assert audit(cut, VKEY).ok  # internally consistent...
    result = audit(cut, VKEY, since=remembered)
    assert not result.ok and "remembered" in result.problem  # ...but not the log the auditor saw


def test_rewritten_history_fails_against_the_remembered_checkpoint():
    remembered = audit(honest(), VKEY).latest_checkpoint
    forged = list(ENTRIES)
    forged[30] = entry(3000)
    # The insider holds the log key and re-signs everything: only the remembered checkpoint can tell.
    source = MemorySource(forged, sign_history(forged, SIZES))
    assert audit(source, VKEY).ok
    assert not audit(source, VKEY, since=remembered).ok


def test_non_canonical_entry_is_named():
    noncanonical = ENTRIES[7].replace(b'{"index"', b'{ "index"')
    forged = list(ENTRIES)
    forged[7] = noncanonical
    result = audit(MemorySource(forged, sign_history(forged, SIZES)), VKEY)
    assert not result.ok and result.first_bad_index == 7


def test_unusable_pinned_key():
    assert not audit(honest(), "not a vkey").ok


@pytest.mark.parametrize("size", [1, 2, 5, 16, 33])
def test_single_checkpoint_sizes(size):
    assert audit(MemorySource(ENTRIES[:size], sign_history(ENTRIES, [size])), VKEY).ok
