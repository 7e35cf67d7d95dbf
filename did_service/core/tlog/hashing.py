"""RFC 9162 section 2.1.1 Merkle Tree Hash (the same tree as RFC 6962 section 2.1), SHA-256 only.

Leaves and interior nodes are hashed under different one-byte prefixes (0x00, 0x01). That domain separation is
what keeps an interior node from being presented as a leaf (a second preimage): without it, a node hash over
``left || right`` would equal the leaf hash of the 64 bytes ``left || right``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HASH_SIZE = 32
_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = _sha256(b"").digest()
"""MTH({}) = SHA-256() (RFC 9162 section 2.1.1): the root of the empty tree."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0)) (RFC 9162 section 2.1.1)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def fold_right(hashes: list[bytes]) -> bytes:
    """Hash complete subtrees, given left to right with strictly decreasing sizes, into one root.

    RFC 9162 section 2.1.1 splits at the largest power of two below n, so the left part of every split is complete
    and the right part recurses: MTH = HASH(c0, HASH(c1, ... HASH(c_{k-2}, c_{k-1}))).
    """
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = _sha256(_NODE_PREFIX + left + result).digest()
    return result


class CompactRange:
    """The hashes of the complete subtrees covering leaves [0, size): one per set bit of ``size``, largest first.

    Appending a leaf pushes its hash and merges equal-sized neighbours, so the root of every prefix is available
    in O(n) total time and O(log n) memory (a streaming RFC 9162 MTH: an auditor can hash a million leaves without
    holding them).
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Iterable[bytes]) -> CompactRange:
        """Resume from stored subtree hashes: ``hashes`` are those of proofs.root_id_decomposition(size), in order."""
        compact = cls()
        compact._hashes = list(hashes)
        if size < 0 or len(compact._hashes) != size.bit_count() or any(len(h) != HASH_SIZE for h in compact._hashes):
            raise ValueError("hashes do not match the size's subtree decomposition")
        compact._size = size
        return compact

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The subtree hashes, largest (leftmost) first; a copy."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash (already 0x00-prefixed and hashed; see ``hashing.leaf_hash``)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        hashes = self._hashes
        hashes.append(leaf_hash)
        # Each trailing 1 bit of the old size is a subtree of the size just completed: merge it with its right twin.
        carry = self._size
        while carry & 1:
            right = hashes.pop()
            hashes[-1] = _sha256(_NODE_PREFIX + hashes[-1] + right).digest()
            carry >>= 1
        self._size += 1

    def root(self) -> bytes:
        """MTH of leaves [0, size) (RFC 9162 section 2.1.1); EMPTY_ROOT for size 0."""
        if not self._hashes:
            return EMPTY_ROOT
        return fold_right(self._hashes)


def root_from_leaves(leaf_hashes: Iterable[bytes]) -> bytes:
    """Reference MTH of a whole sequence of leaf hashes, streaming (O(log n) memory)."""
    compact = CompactRange()
    for value in leaf_hashes:
        compact.append(value)
    return compact.root()
