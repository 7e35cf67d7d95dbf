"""The RFC 6962 / RFC 9162 reference tree from transparency-dev/merkle, reproduced byte for byte."""

from __future__ import annotations

import base64
import json

import pytest

from did_service.core.tlog import proofs
from did_service.core.tlog.hashing import EMPTY_ROOT, CompactRange, leaf_hash, root_from_leaves
from did_service.core.tlog.proofs import ProofError
from tests.support import VECTORS_DIR

FOLDER = VECTORS_DIR / "transparency-dev-merkle"
REFERENCE = json.loads((FOLDER / "reference-tree.json").read_text(encoding="utf-8"))
LEAF_HASHES = [leaf_hash(bytes.fromhex(data)) for data in REFERENCE["leaves"]]
ROOTS = [bytes.fromhex(root) for root in REFERENCE["roots"]]
STORED = proofs.complete_new_nodes(0, LEAF_HASHES, {})
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _b64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(v) for v in values or []]


def test_roots_for_every_size():
    compact = CompactRange()
    for size in range(1, 9):
        compact.append(LEAF_HASHES[size - 1])
        assert compact.root() == ROOTS[size - 1]
        assert root_from_leaves(LEAF_HASHES[:size]) == ROOTS[size - 1]
        assert proofs.root_from_nodes(size, STORED) == ROOTS[size - 1]
    assert root_from_leaves([]) == EMPTY_ROOT


@pytest.mark.parametrize("vector", REFERENCE["inclusion"], ids=lambda v: f"leaf{v['leaf']}-size{v['size']}")
def test_inclusion_vectors(vector):
    index, size, expected = vector["leaf"] - 1, vector["size"], _hexes(vector["proof"])
    nodes = {i: STORED[i] for i in proofs.inclusion_node_ids(index, size)}
    assert proofs.inclusion_proof(index, size, nodes) == expected
    root = ROOTS[size - 1]
    proofs.verify_inclusion(LEAF_HASHES[index], index, size, expected, root)
    # The corruptions of the Go test's corruptInclusionProof.
    probes = [
        (LEAF_HASHES[index], index - 1, size, expected, root),
        (LEAF_HASHES[index], index + 1, size, expected, root),
        (LEAF_HASHES[index], index ^ 2, size, expected, root),
        (LEAF_HASHES[index], index, size * 2, expected, root),
        (LEAF_HASHES[index], index, size // 2, expected, root),
        (b"WrongLeaf", index, size, expected, root),
        (LEAF_HASHES[index], index, size, expected, EMPTY_ROOT),
        (LEAF_HASHES[index], index, size, expected, SOME_HASH),
        (LEAF_HASHES[index], index, size, [*expected, b""], root),
        (LEAF_HASHES[index], index, size, [*expected, root], root),
        (LEAF_HASHES[index], index, size, [b"", *expected], root),
        (LEAF_HASHES[index], index, size, [root, *expected], root),
    ]
    for i in range(len(expected)):
        flipped = [*expected]
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((LEAF_HASHES[index], index, size, flipped, root))
    if expected:
        probes.append((LEAF_HASHES[index], index, size, expected[:-1], root))
    if len(expected) > 1:
        probes.append((LEAF_HASHES[index], index, size, [expected[0], SOME_HASH, *expected[1:]], root))
    for probe in probes:
        with pytest.raises(ProofError):
            proofs.verify_inclusion(*probe)


@pytest.mark.parametrize("vector", REFERENCE["consistency"], ids=lambda v: f"{v['size1']}-{v['size2']}")
def test_consistency_vectors(vector):
    first, second, expected = vector["size1"], vector["size2"], _hexes(vector["proof"])
    nodes = {i: STORED[i] for i in proofs.consistency_node_ids(first, second)}
    assert proofs.consistency_proof(first, second, nodes) == expected
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    proofs.verify_consistency(first, second, r1, r2, expected)
    if not expected:
        return
    # The corruptions of the Go test's corruptConsistencyProof.
    probes = [
        (first - 1, second, r1, r2, expected),
        (first + 1, second, r1, r2, expected),
        (first ^ 2, second, r1, r2, expected),
        (first, second * 2, r1, r2, expected),
        (first, second // 2, r1, r2, expected),
        (first, second, b"WrongRoot", r2, expected),
        (first, second, r1, b"WrongRoot", expected),
        (first, second, r2, r1, expected),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*expected, b""]),
        (first, second, r1, r2, [*expected, r1]),
        (first, second, r1, r2, [*expected, r2]),
        (first, second, r1, r2, [b"", *expected]),
        (first, second, r1, r2, [r1, *expected]),
        (first, second, r1, r2, [r2, *expected]),
        (first, second, r1, r2, [expected[0], *expected]),
        (first, second, r1, r2, expected[:-1]),
    ]
    for i in range(len(expected)):
        flipped = [*expected]
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((first, second, r1, r2, flipped))
    for probe in probes:
        with pytest.raises(ProofError):
            proofs.verify_consistency(*probe)


@pytest.mark.parametrize("path", sorted(FOLDER.glob("inclusion-*.json")), ids=lambda p: p.stem)
def test_inclusion_testdata(path):
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["wantErr"] is False
    index, size = case["leafIdx"], case["treeSize"]
    leaf, root, expected = base64.b64decode(case["leafHash"]), base64.b64decode(case["root"]), _b64(case["proof"])
    assert leaf == LEAF_HASHES[index] and root == ROOTS[size - 1]
    assert proofs.inclusion_proof(index, size, STORED) == expected
    proofs.verify_inclusion(leaf, index, size, expected, root)


@pytest.mark.parametrize("path", sorted(FOLDER.glob("consistency-*.json")), ids=lambda p: p.stem)
def test_consistency_testdata(path):
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["wantErr"] is False
    first, second = case["size1"], case["size2"]
    r1, r2, expected = base64.b64decode(case["root1"]), base64.b64decode(case["root2"]), _b64(case["proof"])
    assert (r1, r2) == (ROOTS[first - 1], ROOTS[second - 1])
    assert proofs.consistency_proof(first, second, STORED) == expected
    proofs.verify_consistency(first, second, r1, r2, expected)
