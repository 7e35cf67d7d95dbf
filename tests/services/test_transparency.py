"""The log as the issuer runs it, on SQLite and on Redis: anchoring, tamper detection that halts the log and is
pinned to the exact index by the audit, silently issued credentials, and key history."""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from did_service.core import tlog
from did_service.core.did_document import jwk_method_id
from did_service.core.proofs.jose import sign_compact
from did_service.core.tlog.audit import audit
from did_service.errors import LogHalted
from did_service.services import keyring as keyring_service
from did_service.services.container import build_services
from did_service.services.log_sources import StoreLogSource
from did_service.storage.base import LogAppend
from did_service.storage.redis import RedisStore
from did_service.storage.sqlite import SqliteStore
from tests.support import issue_body, make_settings


@pytest.fixture
def svc(tmp_path, store):
    services = build_services(make_settings(tmp_path / "instance"), store=store)
    yield services


def tamper_entry(store, index: int, new_entry: bytes, *, also_leaf_hash: bool = False) -> None:
    """Edit one stored entry behind the service's back, the way an insider with database access would."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store._path) as conn:
            if also_leaf_hash:
                conn.execute("UPDATE log_leaves SET entry = ?, leaf_hash = ? WHERE idx = ?", (new_entry, tlog.leaf_hash(new_entry), index))
            else:
                conn.execute("UPDATE log_leaves SET entry = ? WHERE idx = ?", (new_entry, index))
    else:
        assert isinstance(store, RedisStore)
        client = store._client
        stored = client.hget(store._k_leaves, str(index))
        leaf_hash = tlog.leaf_hash(new_entry) if also_leaf_hash else stored[:32]
        client.hset(store._k_leaves, str(index), leaf_hash + new_entry)


def forged_entry(original: bytes) -> bytes:
    entry = tlog.decode_entry(original)
    return tlog.encode_entry(replace(entry, credential_type="DiplomaCredential"))


def test_issued_credentials_are_anchored_and_verify(svc):
    issued = svc.issuance.issue_many([issue_body(), issue_body("DiplomaCredential")], svc.clock())
    assert [i.leaf_index for i in issued] == [4, 5]  # after the four key entries
    report = svc.verify_credential(issued[1].secured)
    assert report.verified, report.to_dict()
    assert {c.id: c.status.value for c in report.checks}["anchored"] == "passed"
    entry = tlog.decode_entry(svc.store.read_leaves(4, 5)[0].entry)
    assert entry.credential_digest == tlog.credential_digest(issued[0].secured)
    assert "홍" not in svc.store.read_leaves(4, 5)[0].entry.decode()  # digests and ids only
    assert audit(StoreLogSource(svc.store), svc.log.identity.vkey).ok


@pytest.mark.parametrize("also_leaf_hash", [False, True], ids=["entry-bytes", "entry-and-leaf-hash"])
def test_tampering_halts_the_log_and_audit_names_the_index(svc, also_leaf_hash):
    issued = [svc.issuance.issue(issue_body(), svc.clock()) for _ in range(6)]
    first_checkpoint = svc.log.checkpoint()
    victim = issued[2].leaf_index
    tamper_entry(svc.store, victim, forged_entry(svc.store.read_leaves(victim, victim + 1)[0].entry), also_leaf_hash=also_leaf_hash)

    result = audit(StoreLogSource(svc.store), svc.log.identity.vkey)
    assert not result.ok, result
    if also_leaf_hash:
        # The stored leaf hash was rewritten too, so the store's path for the neighbour carries the forged hash as
        # well: the audit can pin the pair under one complete subtree, and names its first failing member.
        assert result.first_bad_index in (victim, victim ^ 1), result
    else:
        assert result.first_bad_index == victim, result

    svc.issuance.issue(issue_body(), svc.clock())  # appending still works until a checkpoint is attempted
    assert svc.log.checkpoint() == first_checkpoint  # readers keep the last good checkpoint...
    assert svc.store.latest_checkpoint() == first_checkpoint  # ...and nothing new was signed
    assert "does not match" in svc.store.log_halted() or "no longer match" in svc.store.log_halted()
    with pytest.raises(LogHalted):
        svc.issuance.issue(issue_body(), svc.clock())  # and issuance stops


def test_a_credential_that_was_never_logged_does_not_verify(svc):
    """Silent issuance: a credential signed with the issuer's key but not appended to the log."""
    honest = svc.issuance.issue(issue_body(), svc.clock())
    key = svc.keyring.for_alg("EdDSA")
    claims = json.loads(base64.urlsafe_b64decode(honest.secured.split(".")[1] + "=="))
    claims["id"] = claims["jti"] = "urn:uuid:00000000-0000-4000-8000-000000000001"
    silent = sign_compact(claims, key, jwk_method_id(svc.issuer_did, key), "vc+jwt")
    report = svc.verify_credential(silent)
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses["signature"] == "passed" and statuses["anchored"] == "failed"
    assert not report.verified and report.errors[0]["code"] == "not_anchored"


def test_key_rotation_keeps_old_credentials_and_refuses_the_retired_key(svc, tmp_path):
    old_credential = svc.issuance.issue(issue_body(), svc.clock())
    old_key = svc.keyring.for_alg("EdDSA")
    kek = keyring_service.load_kek(svc.settings, create=False)
    new_key, records = keyring_service.rotate_key(svc.store, kek, svc.issuer_did, "EdDSA", svc.clock())
    retired = next(r for r in records if r.kid == old_key.kid)
    assert retired.status == "retired" and retired.retired_log_index is not None
    actions = [tlog.decode_entry(leaf.entry).action for leaf in svc.store.read_leaves(retired.retired_log_index - 1, retired.retired_log_index + 1)]
    assert actions == ["added", "rotated"]

    again = build_services(svc.settings, store=svc.store)  # a restarted server picks up the new key
    methods = [m["id"] for m in again.did_document["verificationMethod"]]
    assert f"{again.issuer_did}#{old_key.kid}" in methods and f"{again.issuer_did}#{new_key.kid}" in methods
    assert again.verify_credential(old_credential.secured).verified
    fresh = again.issuance.issue(issue_body(), again.clock())
    assert fresh.record.issuer_kid == new_key.kid and again.verify_credential(fresh.secured).verified

    # Someone holding the retired key signs and logs a credential after retirement: anchored, but out of service.
    claims = dict(fresh.credential) | {"iss": again.issuer_did, "jti": "urn:uuid:00000000-0000-4000-8000-000000000002",
                                       "id": "urn:uuid:00000000-0000-4000-8000-000000000002"}
    late = sign_compact(claims, old_key, jwk_method_id(again.issuer_did, old_key), "vc+jwt")
    entry = tlog.encode_entry(tlog.IssuedEntry(tlog.credential_digest(late), claims["id"], "ResidentIdentityCredential",
                                               jwk_method_id(again.issuer_did, old_key), (), again.clock()))
    record = replace(fresh.record, credential_id=claims["id"], digest=tlog.credential_digest(late), issuer_kid=old_key.kid)
    svc.store.append_log([LogAppend(entry, tlog.leaf_hash(entry), record)])
    report = again.verify_credential(late)
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses["anchored"] == "passed" and statuses["key_history"] == "failed"
    assert not report.verified


def test_resume_after_investigation(svc):
    svc.store.halt_log("test halt", svc.clock())
    with pytest.raises(LogHalted):
        svc.issuance.issue(issue_body(), svc.clock())
    svc.store.resume_log()
    assert svc.issuance.issue(issue_body(), svc.clock()).leaf_index == 4


def test_a_running_service_follows_a_rotation_made_elsewhere(svc):
    """The CLI rotates while the server runs: the server's next credential uses the new key and verifies."""
    before = svc.issuance.issue(issue_body(), svc.clock())
    kek = keyring_service.load_kek(svc.settings, create=False)
    other_process = build_services(svc.settings, store=svc.store)
    new_key, _ = keyring_service.rotate_key(other_process.store, kek, svc.issuer_did, "EdDSA", svc.clock())
    after = svc.issuance.issue(issue_body(), svc.clock())
    assert after.record.issuer_kid == new_key.kid
    report = svc.verify_credential(after.secured)
    assert report.verified, report.to_dict()
    assert svc.verify_credential(before.secured).verified
    svc.keys.current(fresh=True)
    assert f"{svc.issuer_did}#{new_key.kid}" in [m["id"] for m in svc.did_document["verificationMethod"]]


def test_tampering_deep_in_a_large_log_is_found_within_a_bounded_number_of_checkpoints(svc):
    from did_service.services.transparency import SCRUB_BLOCKS, SCRUB_LEAVES

    statuses = []
    for i in range(SCRUB_LEAVES * (SCRUB_BLOCKS + 2)):
        entry = tlog.encode_entry(tlog.StatusEntry("https://issuer.example/status/1", i, "revocation", 1, svc.clock()))
        statuses.append(LogAppend(entry, tlog.leaf_hash(entry)))
    svc.store.append_log(statuses)
    svc.log.checkpoint()
    victim = 100
    tamper_entry(svc.store, victim, tlog.encode_entry(tlog.StatusEntry("https://issuer.example/status/1", 7, "revocation", 0, svc.clock())))
    blocks = -(-svc.store.log_size() // SCRUB_LEAVES)
    for _ in range(-(-blocks // SCRUB_BLOCKS) + 1):
        svc.issuance.issue(issue_body(), svc.clock()) if not svc.store.log_halted() else None
        svc.log.checkpoint()
    assert svc.store.log_halted()


def test_resume_rechecks_everything_first(svc):
    svc.issuance.issue(issue_body(), svc.clock())
    svc.log.checkpoint()
    svc.store.halt_log("operator test", svc.clock())
    assert svc.log.resume() is not None and not svc.store.log_halted()
    tamper_entry(svc.store, 4, forged_entry(svc.store.read_leaves(4, 5)[0].entry))
    svc.store.halt_log("tampered", svc.clock())
    with pytest.raises(LogHalted):
        svc.log.resume()
    assert svc.store.log_halted()


def tamper_node(store, level: int, index: int) -> None:
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store._path) as conn:
            assert conn.execute("UPDATE log_nodes SET hash = ? WHERE level = ? AND idx = ?", (b"\x00" * 32, level, index)).rowcount == 1
    else:
        assert store._client.hexists(store._k_nodes, f"{level}:{index}")
        store._client.hset(store._k_nodes, f"{level}:{index}", b"\x00" * 32)


def test_a_tampered_subtree_hash_halts_publishing(svc):
    for _ in range(5):
        svc.issuance.issue(issue_body(), svc.clock())
    published = svc.log.checkpoint()  # size 8: node (3, 0) is stored
    tamper_node(svc.store, 3, 0)
    svc.issuance.issue(issue_body(), svc.clock())
    assert svc.log.checkpoint() == published
    assert "root of checkpoint" in svc.store.log_halted() or "no longer match" in svc.store.log_halted()


def test_a_replaced_checkpoint_note_halts_publishing(svc):
    svc.issuance.issue(issue_body(), svc.clock())
    published = svc.log.checkpoint()
    forged = tlog.sign_checkpoint(tlog.Checkpoint(svc.log.identity.origin, published.size, published.root_hash),
                                  svc.log.identity.key_name, Ed25519PrivateKey.generate())
    if isinstance(svc.store, SqliteStore):
        with sqlite3.connect(svc.store._path) as conn:
            conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (forged, published.size))
    else:
        (field,) = [f for f in svc.store._client.hkeys(svc.store._k_notes)]
        record = json.loads(svc.store._client.hget(svc.store._k_notes, field))
        assert record["note"] == published.note
        record["note"] = forged
        svc.store._client.hset(svc.store._k_notes, field, json.dumps(record))
    assert svc.store.latest_checkpoint().note == forged
    svc.issuance.issue(issue_body(), svc.clock())
    svc.log.checkpoint()
    assert "does not verify with the log key" in (svc.store.log_halted() or "")


def test_a_receipt_for_another_credential_does_not_anchor(svc):
    from did_service.core.verifier.verify import AnchorEvidence, IssuerLog, verify_credential

    first, second = svc.issuance.issue_many([issue_body(), issue_body()], svc.clock())
    other = svc.log.receipt(second.record.digest)
    lying = IssuerLog(svc.log.identity.vkey, svc.log.identity.origin, lambda digest: AnchorEvidence(other, 0, None))
    report = verify_credential(first.secured, resolve=svc.resolver, registry=svc.registry, trusted_issuers={svc.issuer_did},
                               now=svc.clock(), issuer_logs={svc.issuer_did: lying})
    assert not report.verified and "anchor_mismatch" in [e["code"] for e in report.errors]
    wrong_origin = IssuerLog(svc.log.identity.vkey, "elsewhere.example/log", svc._anchor_evidence)
    report = verify_credential(first.secured, resolve=svc.resolver, registry=svc.registry, trusted_issuers={svc.issuer_did},
                               now=svc.clock(), issuer_logs={svc.issuer_did: wrong_origin})
    assert not report.verified and {c.id: c.status.value for c in report.checks}["anchored"] == "failed"
