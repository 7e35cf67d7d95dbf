"""RFC 9162 inclusion and consistency proofs, built from stored subtree hashes and verified per the RFC.

Storage model: a store keeps the hash of every complete aligned subtree. Node id ``(level, index)`` is the
MTH of leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hash. Every node of the RFC 9162
tree of size n is either such a complete node or lies on the right edge, where it is the MTH of the aligned range
truncated at n, and that range splits into at most log2(n) complete nodes.

Building a proof is two pure steps around one batched read (the transparency-dev pattern: proof code takes what a
reader returned, never a store)::

    ids = inclusion_node_ids(index, size)          # O(log n) ids
    nodes = store.read_nodes(ids)                  # one round trip
    path = inclusion_proof(index, size, nodes)     # no I/O

Builders raise ValueError for impossible arguments (a caller must validate request parameters first) and KeyError
when ``nodes`` lacks a requested id (the store lost data). Verifiers raise ProofError for anything that does not
verify, including malformed input, so a verifier needs exactly one except clause.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from did_service.core.tlog.hashing import EMPTY_ROOT, HASH_SIZE, fold_right, node_hash
from did_service.errors import DidServiceError

NodeId = tuple[int, int]

# Tree sizes travel as uint64 in RFC 9162 and as int64 in C2SP checkpoints; larger ones are refused before any loop.
MAX_TREE_SIZE = 2**63 - 1


class ProofError(DidServiceError):
    """An inclusion or consistency proof does not verify (RFC 9162 sections 2.1.3.2 and 2.1.4.2)."""

    code = "invalid_proof"
    status = 422
    title = "The Merkle proof does not verify"


# --- node addressing -----------------------------------------------------------------------------------------


def range_node_ids(start: int, end: int) -> list[NodeId]:
    """The fewest complete aligned subtrees covering leaves [start, end), left to right.

    When ``start`` is a multiple of the largest power of two <= end - start (true of every range an RFC 9162 proof
    touches), their sizes strictly decrease and ``hashing.fold_right`` of their hashes is MTH(D[start:end]).
    """
    ids = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)  # alignment: start's trailing zero bits
        ids.append((level, start >> level))
        start += 1 << level
    return ids


def root_id_decomposition(tree_size: int) -> list[NodeId]:
    """Complete subtrees whose right fold is the root of size ``tree_size``: one per set bit, largest first.

    They are also the right edge a store needs to extend the tree (see ``complete_new_nodes``).
    """
    _check_size(tree_size)
    return range_node_ids(0, tree_size)


def root_from_nodes(tree_size: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[0:tree_size]) (RFC 9162 section 2.1.1) from the nodes of ``root_id_decomposition(tree_size)``."""
    ids = root_id_decomposition(tree_size)
    if not ids:
        return EMPTY_ROOT
    return fold_right([nodes[node_id] for node_id in ids])


def _range_hash(start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    ids = range_node_ids(start, end)
    if len(ids) == 1:
        return nodes[ids[0]]
    return fold_right([nodes[node_id] for node_id in ids])


def _flatten(ranges: Iterable[tuple[int, int]]) -> list[NodeId]:
    return [node_id for start, end in ranges for node_id in range_node_ids(start, end)]


def _check_size(tree_size: int) -> None:
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or not 0 <= tree_size <= MAX_TREE_SIZE:
        raise ValueError("tree size out of range")


# --- inclusion (RFC 9162 section 2.1.3.1) --------------------------------------------------------------------


def _inclusion_ranges(leaf_index: int, tree_size: int) -> list[tuple[int, int]]:
    """Leaf ranges of the PATH(m, D[n]) elements, leaf upwards (RFC 9162 section 2.1.3.1).

    Walking up from the leaf, the sibling at each level is the aligned block next to the current one. A block that
    starts at or past n does not exist (the RFC's split put the whole range on one side, so the level is skipped);
    one that ends past n is the right-edge node MTH(D[start:n]).
    """
    _check_size(tree_size)
    if not isinstance(leaf_index, int) or not 0 <= leaf_index < tree_size:
        raise ValueError("leaf index out of range")
    ranges = []
    for level in range((tree_size - 1).bit_length()):
        start = ((leaf_index >> level) ^ 1) << level
        if start < tree_size:
            ranges.append((start, min(start + (1 << level), tree_size)))
    return ranges


def inclusion_node_ids(leaf_index: int, tree_size: int) -> list[NodeId]:
    """Every stored node an inclusion proof needs: at most 2 * log2(n) + 2, for one batched read."""
    return _flatten(_inclusion_ranges(leaf_index, tree_size))


def inclusion_proof(leaf_index: int, tree_size: int, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """PATH(leaf_index, D[tree_size]) (RFC 9162 section 2.1.3.1) from the nodes of ``inclusion_node_ids``."""
    return [_range_hash(start, end, nodes) for start, end in _inclusion_ranges(leaf_index, tree_size)]


# --- consistency (RFC 9162 section 2.1.4.1) ------------------------------------------------------------------


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Leaf ranges of the PROOF(m, D[n]) elements, in proof order (RFC 9162 section 2.1.4.1).

    The RFC's SUBPROOF recursion, unrolled: descend while m < size of the current range, remembering the sibling
    MTH each step appends; the proof is the final subtree (only if the flag was cleared by a right step) followed by
    the siblings, innermost first. PROOF(0, D[n]) and PROOF(n, D[n]) are empty.
    """
    _check_size(first)
    _check_size(second)
    if first > second:
        raise ValueError("first tree size exceeds second")
    if first in (0, second):
        return []
    siblings = []
    low, high, m, whole = 0, second, first, True
    while m != high - low:
        k = 1 << ((high - low - 1).bit_length() - 1)  # largest power of two smaller than the range
        if m <= k:
            siblings.append((low + k, high))  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            high = low + k
        else:
            siblings.append((low, low + k))  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            low, m, whole = low + k, m - k, False
    head = [] if whole else [(low, high)]  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    return head + siblings[::-1]


def consistency_node_ids(first: int, second: int) -> list[NodeId]:
    """Every stored node a consistency proof needs: O(log n), for one batched read."""
    return _flatten(_consistency_ranges(first, second))


def consistency_proof(first: int, second: int, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 9162 section 2.1.4.1) from the nodes of ``consistency_node_ids``."""
    return [_range_hash(start, end, nodes) for start, end in _consistency_ranges(first, second)]


# --- growing the tree ----------------------------------------------------------------------------------------


def new_node_ids(old_size: int, new_size: int) -> list[NodeId]:
    """Complete subtrees that exist at ``new_size`` but not at ``old_size``, level 0 (the new leaves) included.

    At each level l they are indexes [old_size >> l, new_size >> l): O(batch + log n) in total.
    """
    _check_size(old_size)
    _check_size(new_size)
    if old_size > new_size:
        raise ValueError("the tree cannot shrink")
    return [
        (level, index)
        for level in range(new_size.bit_length())
        for index in range(old_size >> level, new_size >> level)
    ]


def complete_new_nodes(
    old_size: int, new_leaf_hashes: Sequence[bytes], edge_nodes: Mapping[NodeId, bytes]
) -> dict[NodeId, bytes]:
    """Hashes of ``new_node_ids(old_size, old_size + len(new_leaf_hashes))``, level 0 included, in O(batch + log n).

    ``edge_nodes`` holds the stored hashes of ``root_id_decomposition(old_size)`` (one batched read). The new root
    then needs no further read: ``root_from_nodes(new_size, {**edge_nodes, **result})``, because every subtree of
    the new size's decomposition is either new or already in the old one. A store that keeps leaf hashes apart
    drops the level-0 items.
    """
    stack = [edge_nodes[node_id] for node_id in root_id_decomposition(old_size)]
    created: dict[NodeId, bytes] = {}
    size = old_size
    for value in new_leaf_hashes:
        if len(value) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        created[(0, size)] = value
        stack.append(value)
        size += 1
        level, carry = 0, size - 1
        # As in CompactRange.append: each trailing 1 bit of the old size closes a subtree one level up.
        while carry & 1:
            right = stack.pop()
            stack[-1] = node_hash(stack[-1], right)
            level += 1
            created[(level, (size >> level) - 1)] = stack[-1]
            carry >>= 1
    _check_size(size)
    return created


# --- verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ----------------------------------------------------


def _check_hashes(*values: bytes) -> None:
    for value in values:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ProofError("a hash in the proof is not 32 bytes")


def _check_proof_sizes(*sizes: int) -> None:
    for size in sizes:
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
            raise ProofError("tree size or index out of range")


def root_from_inclusion_proof(leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies, following RFC 9162 section 2.1.3.2 steps 1-4; ProofError if malformed."""
    _check_proof_sizes(leaf_index, tree_size)
    _check_hashes(leaf_hash, *proof)
    if leaf_index >= tree_size:  # step 1
        raise ProofError("leaf index is not below the tree size")
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash  # steps 2-3
    for p in proof:  # step 4
        if sn == 0:  # 4a
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5, first half: every level was consumed
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2: ``leaf_hash`` is leaf ``leaf_index`` of the tree of size ``tree_size`` with
    root ``root``; raise ProofError otherwise. ``leaf_hash`` is the 0x00-prefixed hash, never the raw entry."""
    _check_hashes(root)
    if root_from_inclusion_proof(leaf_hash, leaf_index, tree_size, proof) != root:  # step 5
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2: the tree of size ``second`` extends the tree of size ``first``; else ProofError.

    The RFC algorithm covers 0 < first < second. The edge cases follow RFC 9162 section 2.1.4.1, where both
    PROOF(m, D[m]) and the proof from the empty tree are empty: first == second needs an empty proof and equal
    roots; first == 0 needs an empty proof and ``first_root`` equal to MTH({}) (stricter than logs that ignore
    the empty root: a root that is not SHA-256() is not the root of an empty tree).
    """
    _check_proof_sizes(first, second)
    _check_hashes(first_root, second_root, *proof)
    if first > second:
        raise ProofError("first tree size exceeds second")
    if first == 0:
        if proof or first_root != EMPTY_ROOT or (second == 0 and second_root != EMPTY_ROOT):
            raise ProofError("the empty tree has an empty proof and the empty root")
        return
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("equal tree sizes need an empty proof and equal roots")
        return
    if not proof:  # step 1
        raise ProofError("consistency proof is empty")
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)  # step 2: first is a power of 2
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    if sn != 0:  # step 7
        raise ProofError("consistency proof is too short")
    if fr != first_root or sr != second_root:
        raise ProofError("consistency proof does not lead to both roots")
