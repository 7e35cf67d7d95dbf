"""The log API: proofs and roots recomputed independently of the project's Merkle code (RFC 9162 recursion
written out here with hashlib), parameters validated, receipts verifiable."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.support import issue_body
from tests.web.test_vc_api import assert_problem


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, literally."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return _h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def b64s(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


@pytest.fixture
def populated(client, auth):
    for i in range(13):
        assert client.post("/credentials/issue", json=issue_body(), headers=auth).status_code == 201
    sth = client.get("/log/v1/get-sth").get_json()
    entries, start = [], 0
    while start < sth["tree_size"]:
        page = client.get(f"/log/v1/get-entries?start={start}&end={sth['tree_size'] - 1}").get_json()["entries"]
        assert [e["leaf_index"] for e in page] == list(range(start, start + len(page)))
        entries += [base64.b64decode(e["leaf_input"]) for e in page]
        start += len(page)
    return sth, entries


def test_root_and_proofs_match_an_independent_recomputation(client, populated):
    sth, entries = populated
    assert sth["tree_size"] == len(entries) == 4 + 13  # the two issuer keys, the log key and the verifier key were logged first
    assert base64.b64decode(sth["sha256_root_hash"]) == mth(entries)
    size = sth["tree_size"]
    for index, entry in enumerate(entries):
        leaf = base64.b64encode(_h(b"\x00" + entry)).decode()
        answer = client.get("/log/v1/get-proof-by-hash", query_string={"hash": leaf, "tree_size": size}).get_json()
        assert answer["leaf_index"] == index
        assert b64s(answer["audit_path"]) == path(index, entries)
    for first in range(0, size + 1):
        answer = client.get(f"/log/v1/get-sth-consistency?first={first}&second={size}").get_json()
        expected = [] if first in (0, size) else subproof(first, entries, True)
        assert b64s(answer["consistency"]) == expected


def test_checkpoint_note_and_key(client, auth, populated):
    sth, _ = populated
    first = client.get("/log/v1/checkpoint")
    assert first.mimetype == "text/plain"
    first_note = first.get_data(as_text=True)
    lines = first_note.split("\n")
    assert lines[0].endswith("/log") and lines[1] == str(sth["tree_size"]) and lines[2] == sth["sha256_root_hash"]
    assert lines[3] == "" and lines[4].startswith("\u2014 ")  # the first checkpoint has no predecessor
    client.post("/credentials/issue", json=issue_body(), headers=auth)
    lines = client.get("/log/v1/checkpoint").get_data(as_text=True).split("\n")
    assert lines[1] == str(sth["tree_size"] + 1)
    # Checkpoints form a hash chain: `prev` is the SHA-256 of the previous signed note, byte for byte.
    assert lines[3] == "prev " + base64.b64encode(_h(first_note.encode())).decode()
    history = client.get("/log/v1/checkpoints").get_json()["checkpoints"]
    assert [c["tree_size"] for c in history] == [sth["tree_size"], sth["tree_size"] + 1]
    assert history[0]["checkpoint"] == first_note
    vkey = client.get("/log/v1/key").get_data(as_text=True).strip()
    assert vkey.startswith(lines[0] + "+")
    document = client.get("/.well-known/did.json").get_json()
    assert document["service"][0]["verifierKey"] == vkey


def test_receipt(client, auth):
    token = client.post("/credentials/issue", json=issue_body(), headers=auth).get_json()["verifiableCredential"]["id"].split(",", 1)[1]
    digest = hashlib.sha256(token.encode()).hexdigest()
    receipt = client.get(f"/log/v1/receipt/{digest}").get_json()
    entries_root = client.get("/log/v1/get-sth").get_json()
    leaf = _h(b"\x00" + base64.b64decode(receipt["entry"]))
    # Walk the audit path by hand (RFC 9162 2.1.3.2) to the published root.
    index, size, node = receipt["leaf_index"], entries_root["tree_size"], leaf
    fn, sn = index, size - 1
    for sibling in b64s(receipt["audit_path"]):
        if fn % 2 == 1 or fn == sn:
            node = _h(b"\x01" + sibling + node)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = _h(b"\x01" + node + sibling)
        fn, sn = fn >> 1, sn >> 1
    assert node == base64.b64decode(entries_root["sha256_root_hash"])
    assert_problem(client.get("/log/v1/receipt/" + "0" * 64), 404, "not_in_log")
    assert_problem(client.get("/log/v1/receipt/XYZ"), 400, "invalid_parameter")


@pytest.mark.parametrize(
    "url",
    [
        "/log/v1/get-entries?start=5&end=2",
        "/log/v1/get-entries?start=-1&end=2",
        "/log/v1/get-entries?start=a&end=2",
        "/log/v1/get-entries?start=100000&end=100001",
        "/log/v1/get-entries",
        "/log/v1/get-sth-consistency?first=3&second=2",
        "/log/v1/get-sth-consistency?first=1&second=999999",
        "/log/v1/get-sth-consistency?first=1&second=99999999999999999999999",
        "/log/v1/get-proof-by-hash?hash=abc&tree_size=1",
        "/log/v1/get-proof-by-hash?hash=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&tree_size=0",
        "/log/v1/get-entry-and-proof?leaf_index=3&tree_size=3",
        "/log/v1/checkpoints?after=x",
    ],
)
def test_bad_parameters_are_400(client, url):
    assert_problem(client.get(url), 400, "invalid_parameter")


def test_entries_are_paged_at_1000(client, services):
    from did_service.core import tlog
    from did_service.storage.base import LogAppend
    from datetime import datetime, timezone

    entries = []
    for i in range(1200):
        entry = tlog.encode_entry(tlog.StatusEntry("urn:list:1", i, "revocation", 1, datetime(2026, 1, 1, tzinfo=timezone.utc)))
        entries.append(LogAppend(entry, tlog.leaf_hash(entry)))
    services.store.append_log(entries)
    page = client.get("/log/v1/get-entries?start=0&end=5000").get_json()["entries"]
    assert len(page) == 1000
    assert client.get("/log/v1/get-sth").get_json()["tree_size"] == 1204


def test_refused_requests_publish_nothing(client, auth, services):
    client.get("/log/v1/checkpoint")
    client.post("/credentials/issue", json=issue_body(), headers=auth)  # appended, not yet published
    before = len(services.store.list_checkpoints())
    for url in ("/log/v1/get-entries?start=5&end=2", "/log/v1/get-sth-consistency?first=3&second=2",
                "/log/v1/get-proof-by-hash?hash=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&tree_size=1",
                "/log/v1/get-entry-and-proof?leaf_index=3&tree_size=3"):
        assert client.get(url).status_code in (400, 404)
    assert len(services.store.list_checkpoints()) == before
