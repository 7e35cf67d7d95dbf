"""The Store contract, run against every backend (SQLite file and real Redis) through the ``store`` fixture."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

from did_service.errors import ConfigurationError, LogHalted, StoreConflict, StoreUnavailable
from did_service.storage import (
    CredentialRecord,
    LogAppend,
    LogLeaf,
    RedisStore,
    SqliteStore,
    Store,
    TokenRecord,
    open_store,
)
from did_service.storage.redis import _append_args
from tests.storage.records import (
    T0,
    THREADS,
    entry_bytes,
    issued,
    label_of,
    leaf_hash,
    log_append,
    make_checkpoint,
    make_credential,
    make_key,
    make_token,
    node_hash,
    race,
)
from tests.support import free_port


def labels(store: Store, start: int = 0, end: int = 10**9) -> list[str]:
    return [label_of(leaf.entry) for leaf in store.read_leaves(start, end)]


def append_labels(store: Store, *names: str) -> list[int]:
    return store.append_log([log_append(name) for name in names])


# --- round trips --------------------------------------------------------------------------------------------


def test_ping(store: Store) -> None:
    assert isinstance(store, Store)
    store.ping()


def test_empty_store(store: Store) -> None:
    assert store.list_keys() == []
    assert store.list_tokens() == []
    assert store.find_token("00" * 32) is None
    assert store.get_credential("urn:uuid:nothing") is None
    assert store.get_credential_by_digest("00" * 32) is None
    assert store.log_size() == 0
    assert store.read_leaves(0, 10) == []
    assert store.read_nodes([(0, 0), (1, 0)]) == {}
    assert store.find_leaf_index(leaf_hash(b"x")) is None
    assert store.latest_checkpoint() is None
    assert store.list_checkpoints() == []
    assert store.log_halted() is None


def test_key_round_trip(store: Store) -> None:
    cest = timezone(timedelta(hours=2))
    keys = [
        make_key("key-ed25519-1"),
        make_key("key-p256-1", T0.astimezone(cest) + timedelta(seconds=1), "ES256"),
        make_key("log-key-1", T0 + timedelta(seconds=2), purpose="log"),
        replace(make_key("key-old", T0 - timedelta(days=1)), status="retired", retired_at=T0.astimezone(cest)),
    ]

    expected = [keys[3], keys[0], keys[1], keys[2]]
    assert store.add_keys_if_none(keys) == expected
    listed = store.list_keys()
    assert listed == expected
    assert all(k.created_at.utcoffset() == timedelta(0) for k in listed)
    assert listed[0].retired_at.utcoffset() == timedelta(0)
    assert listed[1].encrypted_private_key == keys[0].encrypted_private_key
    assert isinstance(listed[1].encrypted_private_key, bytes)
    assert listed[2].public_jwk == keys[1].public_jwk
    assert [k.purpose for k in listed] == ["issuer", "issuer", "issuer", "log"]
    assert all(k.log_index is None and k.retired_log_index is None for k in listed)
    assert store.log_size() == 0


def test_log_indexes_are_the_stores_to_set(store: Store) -> None:
    claimed = replace(make_key("key-1"), log_index=99, retired_log_index=98)
    assert store.add_keys_if_none([claimed])[0].log_index is None


def test_token_round_trip(store: Store) -> None:
    active = make_token("tok-1")
    revoked = TokenRecord("tok-2", "cd" * 32, "admin", T0, revoked_at=T0 + timedelta(minutes=5))
    store.add_token(active)
    store.add_token(revoked)

    assert store.find_token(active.token_hash) == active
    assert store.find_token(revoked.token_hash) == revoked
    assert store.find_token(revoked.token_hash).revoked_at.tzinfo is not None
    assert store.list_tokens() == [active, revoked]


def test_credential_round_trip(store: Store) -> None:
    full = make_credential("urn:uuid:1")
    bare = CredentialRecord("urn:uuid:2", "Diploma", "vc+jwt", "ef" * 32, "key-p256-1", T0, T0)
    append_labels(store, "before")

    assert store.append_log([issued(full), log_append("between"), issued(bare)]) == [1, 2, 3]

    assert store.get_credential("urn:uuid:1") == replace(full, leaf_index=1)
    got = store.get_credential("urn:uuid:2")
    assert got == replace(bare, leaf_index=3)
    assert got.valid_until is None and got.extra == {}
    assert got.issued_at.tzinfo is not None
    assert store.get_credential_by_digest(full.digest) == replace(full, leaf_index=1)
    assert store.get_credential_by_digest(bare.digest) == replace(bare, leaf_index=3)
    assert store.read_leaves(1, 2)[0].entry == issued(full).entry


def test_credential_leaf_index_given_by_the_caller_is_ignored(store: Store) -> None:
    claimed = replace(make_credential("urn:uuid:1"), leaf_index=41)
    append_labels(store, "first")
    store.append_log([issued(claimed)])
    assert store.get_credential("urn:uuid:1").leaf_index == 1


def test_log_leaf_round_trip(store: Store) -> None:
    # Entries are opaque bytes to the store: NUL, invalid UTF-8 and an empty entry come back unchanged.
    raw = [b"\x00\xff\xfe{not json", b"", "é ✓ 🌳".encode(), bytes(range(256)) * 40]
    appends = [LogAppend(e, leaf_hash(e)) for e in raw]

    assert store.append_log(appends) == [0, 1, 2, 3]

    assert store.read_leaves(0, 4) == [LogLeaf(i, e, leaf_hash(e)) for i, e in enumerate(raw)]
    assert all(isinstance(leaf.entry, bytes) and isinstance(leaf.leaf_hash, bytes) for leaf in store.read_leaves(0, 4))
    assert store.read_nodes([(0, i) for i in range(4)]) == {(0, i): leaf_hash(e) for i, e in enumerate(raw)}


def test_checkpoint_round_trip(store: Store) -> None:
    append_labels(store, "a", "b", "c")
    cest = timezone(timedelta(hours=2))
    checkpoint = make_checkpoint(3, T0.astimezone(cest))

    assert store.add_checkpoint(checkpoint, {(1, 0): node_hash(1, 0)}, None) is True

    latest = store.latest_checkpoint()
    assert latest == checkpoint
    assert latest.created_at.utcoffset() == timedelta(0)
    assert isinstance(latest.root_hash, bytes) and latest.note == checkpoint.note
    assert store.list_checkpoints() == [checkpoint]


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2025, 1, 1)
    append_labels(store, "a", "b")
    store.add_keys_if_none([make_key("key-1")])
    with pytest.raises(ValueError):
        store.add_token(make_token("tok-naive", created_at=naive))
    late_naive = replace(make_credential("urn:uuid:2"), valid_until=naive)
    with pytest.raises(ValueError):
        store.append_log([issued(make_credential("urn:uuid:1")), issued(late_naive)])
    with pytest.raises(ValueError):
        store.rotate_keys([make_key("key-2")], ["key-1"], [log_append("k")], [log_append("r")], naive)
    with pytest.raises(ValueError):
        store.rotate_keys([make_key("key-2", naive)], [], [log_append("k")], [], T0)
    with pytest.raises(ValueError):
        store.add_checkpoint(make_checkpoint(2, naive), {}, None)
    with pytest.raises(ValueError):
        store.halt_log("broken", naive)

    assert store.list_tokens() == []
    assert store.get_credential("urn:uuid:1") is None
    assert store.log_size() == 2
    assert [k.kid for k in store.list_keys()] == ["key-1"]
    assert store.latest_checkpoint() is None
    assert store.log_halted() is None


def test_naive_datetimes_in_a_first_key_batch_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.add_keys_if_none([make_key("key-1"), make_key("key-naive", created_at=datetime(2025, 1, 1))])
    assert store.list_keys() == []


def test_malformed_arguments_are_refused_before_anything_is_written(store: Store) -> None:
    entry = entry_bytes("x")
    with pytest.raises(ValueError):
        store.append_log([log_append("ok"), LogAppend(entry, leaf_hash(entry)[:31])])
    with pytest.raises(ValueError):
        store.append_log([LogAppend(entry, leaf_hash(entry).hex().encode())])
    with pytest.raises(ValueError):
        store.add_keys_if_none([make_key("key-1"), make_key("key-2")], [log_append("one entry for two keys")])
    with pytest.raises(ValueError):
        store.rotate_keys([make_key("key-1")], [], [], [], T0)
    with pytest.raises(ValueError):
        store.read_leaves(-1, 3)
    assert store.log_size() == 0
    assert store.list_keys() == []


# --- keys ---------------------------------------------------------------------------------------------------


def test_add_keys_if_none_keeps_the_first_set(store: Store) -> None:
    first = [make_key("key-ed25519-1")]
    assert store.add_keys_if_none(first) == first

    assert store.add_keys_if_none([make_key("key-ed25519-1", alg="ES256"), make_key("key-other")]) == first
    assert store.list_keys() == first


def test_add_keys_if_none_with_a_repeated_kid_writes_nothing(store: Store) -> None:
    with pytest.raises(StoreConflict):
        store.add_keys_if_none([make_key("key-1"), make_key("key-1")], [log_append("a"), log_append("b")])
    assert store.list_keys() == []
    assert store.log_size() == 0


def test_concurrent_add_keys_if_none_all_get_one_set(store: Store) -> None:
    batches = [[make_key(f"key-{i}-a"), make_key(f"key-{i}-b", T0 + timedelta(seconds=1))] for i in range(THREADS)]
    entries = [[log_append(f"added {k.kid}") for k in batch] for batch in batches]

    results = race(lambda i: store.add_keys_if_none(batches[i], entries[i]))

    assert all(r == results[0] for r in results)
    assert store.list_keys() == results[0]
    winner = next(i for i in range(THREADS) if [k.kid for k in batches[i]] == [k.kid for k in results[0]])
    # Only the winner's entries were appended.
    assert labels(store) == [f"added key-{winner}-a", f"added key-{winner}-b"]
    assert [k.log_index for k in results[0]] == [0, 1]


def test_keys_are_listed_by_created_at_then_kid(store: Store) -> None:
    later = T0 + timedelta(microseconds=1)
    keys = [make_key("key-c", later), make_key("key-b", T0), make_key("key-z", T0 - timedelta(days=400)),
            make_key("key-a", later)]

    expected = [keys[2], keys[1], keys[3], keys[0]]
    assert store.add_keys_if_none(keys) == expected
    assert store.list_keys() == expected


def test_add_keys_if_none_with_entries_sets_log_index(store: Store) -> None:
    append_labels(store, "earlier")
    keys = [make_key("key-b"), make_key("key-a", T0 + timedelta(seconds=1), purpose="log")]

    stored = store.add_keys_if_none(keys, [log_append("added key-b"), log_append("added key-a")])

    assert stored == [replace(keys[0], log_index=1), replace(keys[1], log_index=2)]
    assert store.list_keys() == stored
    assert labels(store) == ["earlier", "added key-b", "added key-a"]
    # Keys exist now: a second batch neither adds keys nor appends its entries.
    assert store.add_keys_if_none([make_key("key-c")], [log_append("added key-c")]) == stored
    assert store.log_size() == 3


def test_add_keys_if_none_with_entries_while_halted(store: Store) -> None:
    store.halt_log("inconsistent", T0)
    with pytest.raises(LogHalted):
        store.add_keys_if_none([make_key("key-1")], [log_append("added key-1")])
    assert store.list_keys() == []
    assert store.log_size() == 0
    # Without entries nothing would be appended, so the halt does not apply.
    assert [k.kid for k in store.add_keys_if_none([make_key("key-1")])] == ["key-1"]


def test_rotate_keys(store: Store) -> None:
    old, log_key = make_key("key-1"), make_key("log-1", purpose="log")
    store.add_keys_if_none([old, log_key], [log_append("added key-1"), log_append("added log-1")])
    new = [make_key("key-2", T0 + timedelta(days=1)), make_key("key-3", T0 + timedelta(days=1), "ES256")]
    at = T0 + timedelta(days=1, hours=1)

    keys = store.rotate_keys(
        new, ["key-1"], [log_append("added key-2"), log_append("added key-3")], [log_append("retired key-1")], at
    )

    assert keys == [
        replace(old, log_index=0, status="retired", retired_at=at, retired_log_index=4),
        replace(log_key, log_index=1),
        replace(new[0], log_index=2),
        replace(new[1], log_index=3),
    ]
    assert store.list_keys() == keys
    assert labels(store) == ["added key-1", "added log-1", "added key-2", "added key-3", "retired key-1"]


def test_rotate_keys_can_retire_a_key_it_adds(store: Store) -> None:
    keys = store.rotate_keys([make_key("key-1")], ["key-1"], [log_append("added")], [log_append("retired")], T0)
    assert [(k.status, k.log_index, k.retired_log_index) for k in keys] == [("retired", 0, 1)]


@pytest.mark.parametrize(
    ("new", "retire"),
    [
        (["key-1"], []),  # the new kid exists
        (["key-9", "key-9"], []),  # repeated new kid
        ([], ["key-unknown"]),
        ([], ["key-retired"]),
        ([], ["key-1", "key-1"]),  # retired twice
        (["key-9"], ["key-1", "key-unknown"]),  # a good part does not rescue the call
    ],
)
def test_rotate_keys_conflicts_write_nothing(store: Store, new: list[str], retire: list[str]) -> None:
    store.add_keys_if_none(
        [make_key("key-1"), replace(make_key("key-retired"), status="retired", retired_at=T0)],
        [log_append("added key-1"), log_append("added key-retired")],
    )
    before = store.list_keys()

    with pytest.raises(StoreConflict):
        store.rotate_keys(
            [make_key(kid, T0 + timedelta(days=1)) for kid in new],
            retire,
            [log_append(f"added {kid}") for kid in new],
            [log_append(f"retired {kid}") for kid in retire],
            T0 + timedelta(days=1),
        )

    assert store.list_keys() == before
    assert store.log_size() == 2


def test_rotate_keys_while_halted(store: Store) -> None:
    store.add_keys_if_none([make_key("key-1")], [log_append("added key-1")])
    store.halt_log("inconsistent", T0)

    with pytest.raises(LogHalted):
        store.rotate_keys([make_key("key-2")], ["key-1"], [log_append("added")], [log_append("retired")], T0)

    assert [(k.kid, k.status) for k in store.list_keys()] == [("key-1", "active")]
    assert store.log_size() == 1


def test_concurrent_rotations_retire_a_key_once(store: Store) -> None:
    store.add_keys_if_none([make_key("key-0")])

    results = race(lambda i: store.rotate_keys(
        [make_key(f"key-{i + 1}")], ["key-0"], [log_append(f"added {i}")], [log_append(f"retired by {i}")], T0
    ))

    winners = [i for i, r in enumerate(results) if not isinstance(r, StoreConflict)]
    assert len(winners) == 1
    assert labels(store) == [f"added {winners[0]}", f"retired by {winners[0]}"]
    assert [k.kid for k in store.list_keys()] == ["key-0", f"key-{winners[0] + 1}"]


# --- tokens -------------------------------------------------------------------------------------------------


def test_tokens_are_listed_oldest_first(store: Store) -> None:
    tokens = [make_token("tok-b", T0 + timedelta(hours=1)), make_token("tok-c", T0), make_token("tok-a", T0)]
    for token in tokens:
        store.add_token(token)

    assert store.list_tokens() == [tokens[2], tokens[1], tokens[0]]


def test_add_token_conflicts_on_id(store: Store) -> None:
    original = make_token("tok-1")
    store.add_token(original)
    clash = make_token("tok-1", token_hash="ee" * 32)

    with pytest.raises(StoreConflict):
        store.add_token(clash)
    assert store.find_token(clash.token_hash) is None
    assert store.list_tokens() == [original]


def test_add_token_conflicts_on_hash(store: Store) -> None:
    original = make_token("tok-1")
    store.add_token(original)

    with pytest.raises(StoreConflict):
        store.add_token(TokenRecord("tok-2", original.token_hash, "admin", T0))
    assert store.find_token(original.token_hash) == original
    assert store.list_tokens() == [original]


def test_find_token_unknown_hash(store: Store) -> None:
    store.add_token(make_token("tok-1"))
    assert store.find_token("ff" * 32) is None


def test_revoke_token(store: Store) -> None:
    token = make_token("tok-1")
    other = make_token("tok-2")
    store.add_token(token)
    store.add_token(other)
    first, second = T0 + timedelta(hours=1), T0 + timedelta(hours=2)

    assert store.revoke_token("tok-unknown", first) is False
    assert store.revoke_token("tok-1", first) is True
    assert store.revoke_token("tok-1", second) is True

    assert store.find_token(token.token_hash).revoked_at == first
    assert store.find_token(other.token_hash).revoked_at is None
    assert [t.revoked_at for t in store.list_tokens()] == [first, None]


# --- credentials (written through append_log) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "clash",
    [
        make_credential("urn:uuid:old", "00" * 32),  # existing id
        make_credential("urn:uuid:other", make_credential("urn:uuid:old").digest),  # existing digest
    ],
    ids=["id", "digest"],
)
def test_append_with_an_existing_credential_writes_nothing(store: Store, clash: CredentialRecord) -> None:
    store.append_log([issued(make_credential("urn:uuid:old"))])

    with pytest.raises(StoreConflict):
        store.append_log([issued(make_credential("urn:uuid:new-1")), log_append("plain"), issued(clash),
                          issued(make_credential("urn:uuid:new-2"))])

    # Not even the leaves: the whole call is one unit.
    assert store.log_size() == 1
    assert store.get_credential("urn:uuid:new-1") is None
    assert store.get_credential("urn:uuid:new-2") is None
    assert store.get_credential("urn:uuid:other") is None
    assert store.get_credential("urn:uuid:old") == replace(make_credential("urn:uuid:old"), leaf_index=0)
    assert store.find_leaf_index(log_append("plain").leaf_hash) is None
    assert store.append_log([log_append("next")]) == [1]


@pytest.mark.parametrize(
    "second",
    [make_credential("urn:uuid:a", "00" * 32), make_credential("urn:uuid:c", make_credential("urn:uuid:a").digest)],
    ids=["id", "digest"],
)
def test_append_repeating_a_credential_writes_nothing(store: Store, second: CredentialRecord) -> None:
    with pytest.raises(StoreConflict):
        store.append_log([issued(make_credential("urn:uuid:a")), issued(make_credential("urn:uuid:b")),
                          issued(second)])
    assert store.get_credential("urn:uuid:a") is None
    assert store.get_credential("urn:uuid:b") is None
    assert store.log_size() == 0


def test_empty_append(store: Store) -> None:
    assert store.append_log([]) == []
    assert store.log_size() == 0


def test_concurrent_appends_of_one_credential_id(store: Store) -> None:
    candidates = [make_credential("urn:uuid:contested", f"{i:02x}" * 32) for i in range(THREADS)]

    results = race(lambda i: store.append_log([issued(candidates[i])]))

    winners = [i for i, r in enumerate(results) if not isinstance(r, StoreConflict)]
    assert len(winners) == 1
    assert results[winners[0]] == [0]
    assert store.get_credential("urn:uuid:contested") == replace(candidates[winners[0]], leaf_index=0)
    assert store.log_size() == 1


# --- the log ------------------------------------------------------------------------------------------------


def test_appends_take_contiguous_indexes_in_order(store: Store) -> None:
    assert append_labels(store, "a") == [0]
    assert append_labels(store, "b", "c", "d") == [1, 2, 3]
    assert append_labels(store, "e") == [4]

    assert store.log_size() == 5
    assert labels(store) == ["a", "b", "c", "d", "e"]
    assert [leaf.index for leaf in store.read_leaves(0, 5)] == [0, 1, 2, 3, 4]


def test_read_leaves_bounds(store: Store) -> None:
    append_labels(store, *"abcdef")

    assert labels(store, 0, 6) == list("abcdef")
    assert labels(store, 2, 4) == ["c", "d"]
    assert labels(store, 4, 100) == ["e", "f"]  # end is clipped to the size
    assert labels(store, 5, 6) == ["f"]
    assert store.read_leaves(6, 10) == []
    assert store.read_leaves(60, 100) == []
    assert store.read_leaves(3, 3) == []
    assert store.read_leaves(4, 2) == []
    assert store.read_leaves(0, 1) == [LogLeaf(0, entry_bytes("a"), leaf_hash(entry_bytes("a")))]
    assert labels(store, 5, 2**64) == ["f"]  # beyond any integer the backends store
    assert store.read_leaves(2**64, 2**65) == []


def test_read_nodes(store: Store) -> None:
    append_labels(store, *"abcde")
    sealed = {(1, 0): node_hash(1, 0), (1, 1): node_hash(1, 1), (2, 0): node_hash(2, 0)}
    assert store.add_checkpoint(make_checkpoint(5), sealed, None)

    wanted = [(0, 4), (0, 0), (1, 1), (2, 0), (0, 5), (1, 2), (3, 0), (0, 4)]
    assert store.read_nodes(wanted) == {
        (0, 4): leaf_hash(entry_bytes("e")),
        (0, 0): leaf_hash(entry_bytes("a")),
        (1, 1): node_hash(1, 1),
        (2, 0): node_hash(2, 0),
    }
    assert store.read_nodes([]) == {}
    assert store.read_nodes([(0, 99), (5, 0)]) == {}


def test_read_nodes_many_ids(store: Store) -> None:
    # One batched read whatever the number: more ids than SQLite binds parameters (32766).
    append_labels(store, "a", "b")
    found = store.read_nodes([(0, 1)] + [(7, i) for i in range(40_000)] + [(0, 0)])
    assert found == {(0, 0): leaf_hash(entry_bytes("a")), (0, 1): leaf_hash(entry_bytes("b"))}


def test_find_leaf_index(store: Store) -> None:
    append_labels(store, "a", "b")
    append_labels(store, "b", "c")  # the same entry twice: its first leaf is the answer

    assert store.find_leaf_index(leaf_hash(entry_bytes("a"))) == 0
    assert store.find_leaf_index(leaf_hash(entry_bytes("b"))) == 1
    assert store.find_leaf_index(leaf_hash(entry_bytes("c"))) == 3
    assert store.find_leaf_index(leaf_hash(entry_bytes("z"))) is None


def test_halt_and_resume(store: Store) -> None:
    append_labels(store, "a")
    store.halt_log("checkpoint 1 is not consistent with checkpoint 0", T0)
    store.halt_log("a later, second reason", T0 + timedelta(minutes=1))

    assert store.log_halted() == "checkpoint 1 is not consistent with checkpoint 0"
    with pytest.raises(LogHalted):
        store.append_log([log_append("b"), issued(make_credential("urn:uuid:1"))])
    assert store.log_size() == 1
    assert store.get_credential("urn:uuid:1") is None

    store.resume_log()
    assert store.log_halted() is None
    assert store.append_log([log_append("b"), issued(make_credential("urn:uuid:1"))]) == [1, 2]
    store.resume_log()  # resuming a running log changes nothing
    store.halt_log("new reason", T0)
    assert store.log_halted() == "new reason"


def test_checkpoints_chain_by_compare_and_set(store: Store) -> None:
    append_labels(store, *"abcd")
    assert store.add_checkpoint(make_checkpoint(0), {}, None) is True
    assert store.add_checkpoint(make_checkpoint(2), {(1, 0): node_hash(1, 0)}, 0) is True

    assert store.add_checkpoint(make_checkpoint(3), {}, None) is False  # there is one already
    assert store.add_checkpoint(make_checkpoint(3), {}, 0) is False  # stale previous size
    assert store.add_checkpoint(make_checkpoint(5), {}, 2) is False  # beyond the log
    assert store.latest_checkpoint() == make_checkpoint(2)

    assert store.add_checkpoint(make_checkpoint(4), {(1, 1): node_hash(1, 1), (2, 0): node_hash(2, 0)}, 2) is True
    assert store.latest_checkpoint() == make_checkpoint(4)
    assert store.list_checkpoints() == [make_checkpoint(0), make_checkpoint(2), make_checkpoint(4)]
    assert store.read_nodes([(1, 0), (1, 1), (2, 0)]) == {
        (1, 0): node_hash(1, 0), (1, 1): node_hash(1, 1), (2, 0): node_hash(2, 0),
    }


def test_a_refused_checkpoint_stores_no_nodes(store: Store) -> None:
    append_labels(store, *"abcd")
    assert store.add_checkpoint(make_checkpoint(2), {(1, 0): node_hash(1, 0)}, None)

    assert store.add_checkpoint(make_checkpoint(4), {(1, 1): node_hash(1, 1)}, 1) is False
    assert store.read_nodes([(1, 1)]) == {}


def test_checkpoint_sizes_strictly_increase(store: Store) -> None:
    append_labels(store, *"abcd")
    store.add_checkpoint(make_checkpoint(2), {}, None)
    with pytest.raises(ValueError):
        store.add_checkpoint(make_checkpoint(2), {}, 2)
    with pytest.raises(ValueError):
        store.add_checkpoint(make_checkpoint(1), {}, 2)
    assert store.list_checkpoints() == [make_checkpoint(2)]


@pytest.mark.parametrize("node", [(0, 5), (1, 2), (2, 1), (3, 0), (1, -1), (-1, 0)])
def test_checkpoint_nodes_must_be_complete_subtrees(store: Store, node: tuple[int, int]) -> None:
    # With 5 leaves, (1, 2) [leaves 4-5] and (2, 1) [4-7] are incomplete.
    append_labels(store, *"abcde")
    with pytest.raises(ValueError):
        store.add_checkpoint(make_checkpoint(5), {(1, 0): node_hash(1, 0), node: node_hash(*node)}, None)
    assert store.latest_checkpoint() is None
    assert store.read_nodes([(1, 0)]) == {}


def test_stored_nodes_never_change(store: Store) -> None:
    append_labels(store, *"abcd")
    store.add_checkpoint(make_checkpoint(2), {(1, 0): node_hash(1, 0)}, None)

    with pytest.raises(StoreConflict):
        store.add_checkpoint(make_checkpoint(4), {(1, 0): node_hash(9, 9), (1, 1): node_hash(1, 1)}, 2)
    assert store.latest_checkpoint() == make_checkpoint(2)
    assert store.read_nodes([(1, 0), (1, 1)]) == {(1, 0): node_hash(1, 0)}

    # Repeating a stored node with its own hash is fine.
    assert store.add_checkpoint(make_checkpoint(4), {(1, 0): node_hash(1, 0), (1, 1): node_hash(1, 1)}, 2)


def test_checkpoint_leaf_hashes_are_checked_not_stored(store: Store) -> None:
    # core.tlog.complete_new_nodes includes the new leaves (level 0); the store holds those with the leaves.
    append_labels(store, *"abcd")
    leaves = {(0, i): leaf_hash(entry_bytes(name)) for i, name in enumerate("abcd")}

    with pytest.raises(StoreConflict):
        store.add_checkpoint(make_checkpoint(2), {(0, 0): leaves[(0, 0)], (0, 1): node_hash(0, 1),
                                                  (1, 0): node_hash(1, 0)}, None)
    assert store.latest_checkpoint() is None
    assert store.read_nodes([(1, 0)]) == {}

    assert store.add_checkpoint(make_checkpoint(4), {**leaves, (1, 0): node_hash(1, 0)}, None)
    assert store.read_nodes([(0, 1), (1, 0)]) == {(0, 1): leaves[(0, 1)], (1, 0): node_hash(1, 0)}


def test_list_checkpoints_pages(store: Store) -> None:
    append_labels(store, *"abcdefgh")
    previous = None
    for size in (1, 2, 3, 5, 8):
        assert store.add_checkpoint(make_checkpoint(size), {}, previous)
        previous = size

    assert [c.size for c in store.list_checkpoints()] == [1, 2, 3, 5, 8]
    assert [c.size for c in store.list_checkpoints(after_size=2)] == [3, 5, 8]
    assert [c.size for c in store.list_checkpoints(after_size=3, limit=1)] == [5]
    assert [c.size for c in store.list_checkpoints(limit=2)] == [1, 2]
    assert store.list_checkpoints(after_size=8) == []
    assert store.list_checkpoints(after_size=2**64) == []
    assert [c.size for c in store.list_checkpoints(limit=2**64)] == [1, 2, 3, 5, 8]
    assert store.list_checkpoints(limit=0) == []


def test_concurrent_checkpoints_with_one_previous_size(store: Store) -> None:
    append_labels(store, *"abcdefgh")
    store.add_checkpoint(make_checkpoint(2), {}, None)

    results = race(lambda i: store.add_checkpoint(
        make_checkpoint(4 + i % 5, T0 + timedelta(seconds=i)), {(1, 1): node_hash(1, 1)}, 2
    ))

    assert results.count(True) == 1 and results.count(False) == THREADS - 1
    winner = results.index(True)
    assert store.latest_checkpoint() == make_checkpoint(4 + winner % 5, T0 + timedelta(seconds=winner))
    assert len(store.list_checkpoints()) == 2


def append_from_thread(store: Store, thread: int, total: int) -> list[tuple[list[int], list[str]]]:
    """Appends ``total`` entries in calls of 1 and 3 entries; returns each call's indexes and labels."""
    calls, n = [], 0
    while n < total:
        names = [f"t{thread}-{n + k}" for k in range(1 if len(calls) % 2 == 0 else 3)][: total - n]
        calls.append((append_labels(store, *names), names))
        n += len(names)
    return calls


def check_concurrent_log(store: Store, calls: list[tuple[list[int], list[str]]], total: int) -> None:
    assert store.log_size() == total
    stored = labels(store)
    assert len(stored) == total and len(set(stored)) == total
    for indexes, names in calls:
        assert indexes == list(range(indexes[0], indexes[0] + len(names)))  # contiguous within the call
        assert [stored[i] for i in indexes] == names  # and holding exactly this call's entries


def test_concurrent_appends_from_threads(store: Store) -> None:
    per_thread = 200
    before = store.commits

    results = race(lambda i: append_from_thread(store, i, per_thread))

    calls = [call for thread_calls in results for call in thread_calls]
    check_concurrent_log(store, calls, THREADS * per_thread)
    assert sorted(i for indexes, _ in calls for i in indexes) == list(range(THREADS * per_thread))
    # Group commit at work: concurrent calls shared transactions (SQLite) or pipelines (Redis). About 4 calls
    # per commit are usual here; test_log_group_commit.py stages exact groups.
    assert store.commits - before < len(calls) // 2


def append_in_process(url: str, name: str, count: int) -> None:
    store = open_store(url)
    try:
        for i in range(count):
            # Two entries and a credential per call: a call is one unit in every process.
            store.append_log([log_append(f"{name}-{i}-a"), issued(make_credential(f"urn:uuid:{name}-{i}"))])
    finally:
        store.close()


def test_concurrent_appends_from_processes(store: Store, store_url: str) -> None:
    # The store is untouched so far: the processes also race to create the SQLite schema.
    processes, count = 2, 150
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=append_in_process, args=(store_url, f"p{n}", count)) for n in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [w.exitcode for w in workers] == [0] * processes
    assert store.log_size() == processes * count * 2
    leaves = store.read_leaves(0, processes * count * 2)
    assert [leaf.index for leaf in leaves] == list(range(processes * count * 2))
    for n in range(processes):
        for i in range(count):
            credential = store.get_credential(f"urn:uuid:p{n}-{i}")
            assert credential == replace(make_credential(f"urn:uuid:p{n}-{i}"), leaf_index=credential.leaf_index)
            # The call's two entries are adjacent, in order.
            first = leaves[credential.leaf_index - 1]
            assert first.entry == entry_bytes(f"p{n}-{i}-a")
            assert leaves[credential.leaf_index].entry == issued(credential).entry
    # Each process's calls are in its own order.
    for n in range(processes):
        mine = [leaf.index for leaf in leaves if label_of(leaf.entry).startswith(f"p{n}-")]
        assert mine == sorted(mine) and len(mine) == count


# --- unavailable backends -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def unreachable_store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        not_a_dir = tmp_path / "regular-file"
        not_a_dir.write_text("")
        store = SqliteStore(not_a_dir / "store.db")
    else:
        store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", namespace="did_service_unreachable")
    yield store
    store.close()


def test_unreachable_backend_raises_store_unavailable(unreachable_store: Store) -> None:
    calls = [
        lambda s: s.ping(),
        lambda s: s.add_keys_if_none([make_key("key-1")]),
        lambda s: s.add_token(make_token("tok-1")),
        lambda s: s.revoke_token("tok-1", T0),
        lambda s: s.append_log([issued(make_credential("urn:uuid:1"))]),
        lambda s: s.get_credential("urn:uuid:1"),
        lambda s: s.get_credential_by_digest("00" * 32),
        lambda s: s.log_size(),
        lambda s: s.read_leaves(0, 1),
        lambda s: s.read_nodes([(0, 0), (1, 0)]),
        lambda s: s.find_leaf_index(leaf_hash(b"a")),
        lambda s: s.latest_checkpoint(),
        lambda s: s.list_checkpoints(),
        lambda s: s.add_checkpoint(make_checkpoint(0), {}, None),
        lambda s: s.halt_log("x", T0),
        lambda s: s.log_halted(),
        lambda s: s.resume_log(),
        lambda s: s.rotate_keys([], ["key-1"], [], [log_append("r")], T0),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            call(unreachable_store)


# --- open_store ---------------------------------------------------------------------------------------------


def test_open_store_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/rel.db")
    try:
        assert isinstance(store, SqliteStore)
        store.append_log([issued(make_credential("urn:uuid:1"))])
    finally:
        store.close()
    assert (tmp_path / "data" / "rel.db").is_file()


def test_open_store_sqlite_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "abs" / "store.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.append_log([issued(make_credential("urn:uuid:1"))])
    finally:
        store.close()
    assert str(path).startswith("/") and path.is_file()


def test_open_store_redis_namespace(redis_url: str, redis_namespace: str) -> None:
    separator = "&" if "?" in redis_url else "?"
    store = open_store(f"{redis_url}{separator}namespace={redis_namespace}")
    try:
        assert isinstance(store, RedisStore)
        store.append_log([issued(make_credential("urn:uuid:1"))])
        store.add_token(make_token("tok-1"))
        store.add_keys_if_none([make_key("key-1")], [log_append("added key-1")])
        store.rotate_keys([make_key("key-2")], ["key-1"], [log_append("added")], [log_append("retired")], T0)
        store.add_checkpoint(make_checkpoint(2), {(1, 0): node_hash(1, 0)}, None)
        store.halt_log("x", T0)
    finally:
        store.close()
    client = redis.Redis.from_url(redis_url)
    try:
        # Everything the store wrote carries the namespace as a Cluster hash tag.
        written = client.keys(f"*{redis_namespace}*")
    finally:
        client.close()
    assert written and all(k.startswith(f"{{{redis_namespace}}}:".encode()) for k in written)


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "REDIS://127.0.0.1:6379/0", "rediss://127.0.0.1:6380", "unix:///tmp/redis.sock?db=1"],
)
def test_open_store_redis_schemes(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, RedisStore)
    store.close()


def test_open_store_unix_socket_that_does_not_exist(tmp_path: Path) -> None:
    store = open_store(f"unix://{tmp_path}/absent.sock?namespace=x")
    try:
        with pytest.raises(StoreUnavailable):
            store.ping()
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:s3cret@example.org/store",
        "postgresql+psycopg://user:s3cret@db/store",
        "user:s3cret@localhost:6379",
        "",
        "sqlite://s3cret-host/store.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "redis://:s3cret@127.0.0.1:6379/0?namespace=",
        "redis://:s3cret@127.0.0.1:6379/0?namespace=a&namespace=b",
        "redis://:s3cret@127.0.0.1:6379/0?namespace=%7Bbad%7D",
        "redis://:s3cret@127.0.0.1:notaport/0",
    ],
)
def test_open_store_rejects_bad_urls_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caught.value.detail


def test_open_store_names_an_unknown_scheme() -> None:
    with pytest.raises(ConfigurationError, match="'ftp'"):
        open_store("ftp://example.org/store")


# --- SQLite specifics ---------------------------------------------------------------------------------------


def test_sqlite_pragmas(sqlite_store: SqliteStore, sqlite_path: Path) -> None:
    sqlite_store.ping()
    conn = sqlite_store._conn()

    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with sqlite3.connect(sqlite_path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("2",)
    raw.close()


def test_sqlite_refuses_an_unknown_schema_version(sqlite_store: SqliteStore, sqlite_path: Path) -> None:
    sqlite_store.ping()
    raw = sqlite3.connect(sqlite_path, isolation_level=None)
    raw.execute("UPDATE meta SET value = '999' WHERE name = 'schema_version'")
    raw.close()

    newer = SqliteStore(sqlite_path)
    try:
        with pytest.raises(ConfigurationError):
            newer.ping()
    finally:
        newer.close()


def test_sqlite_refuses_a_version_1_database(sqlite_path: Path) -> None:
    # The layout before the transparency log: no migration (pre-release), a clear refusal rather than a
    # missing-column failure later.
    sqlite_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(sqlite_path, isolation_level=None)
    raw.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    raw.execute("CREATE TABLE credentials (credential_id TEXT PRIMARY KEY, digest TEXT NOT NULL)")
    raw.close()

    old = SqliteStore(sqlite_path)
    try:
        with pytest.raises(ConfigurationError, match="version 1"):
            old.log_size()
    finally:
        old.close()
    with sqlite3.connect(sqlite_path) as raw:
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    assert tables == {"meta", "credentials"}  # nothing was added to it


def test_sqlite_read_nodes_is_one_statement(sqlite_store: SqliteStore) -> None:
    append_labels(sqlite_store, *"abcd")
    sqlite_store.add_checkpoint(make_checkpoint(4), {(1, 0): node_hash(1, 0), (2, 0): node_hash(2, 0)}, None)
    statements: list[str] = []
    sqlite_store._conn().set_trace_callback(statements.append)
    try:
        found = sqlite_store.read_nodes([(0, 3), (1, 0), (2, 0), (1, 1)])
    finally:
        sqlite_store._conn().set_trace_callback(None)
    assert len(found) == 3
    assert len(statements) == 1


def test_sqlite_threads_get_their_own_connections(sqlite_store: SqliteStore) -> None:
    conns = race(lambda i: sqlite_store._conn())
    assert len({id(c) for c in conns}) == THREADS


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sqlite_child_after_fork_opens_its_own_connection(sqlite_store: SqliteStore) -> None:
    sqlite_store.append_log([issued(make_credential("urn:uuid:parent"))])
    parent_conn = sqlite_store._conn()

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child_conn = sqlite_store._conn()
            sqlite_store.append_log([issued(make_credential("urn:uuid:child"))])
            sqlite_store.close()
            code = 0 if child_conn is not parent_conn else 2
        finally:
            os._exit(code)

    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sqlite_store.get_credential("urn:uuid:child").leaf_index == 1
    # The child's close() left the parent's connection alone.
    assert sqlite_store._conn() is parent_conn
    assert sqlite_store.append_log([issued(make_credential("urn:uuid:parent-again"))]) == [2]


# --- Redis specifics ----------------------------------------------------------------------------------------


def test_redis_a_retried_append_is_not_appended_twice(redis_store: RedisStore) -> None:
    # redis-py resends a command when the connection drops, and the first run may have happened: the script's
    # call key makes the second run report the first run's indexes.
    keys = [*redis_store._log_keys(), redis_store._k_credentials, redis_store._k_by_digest]
    append = [log_append("once"), issued(make_credential("urn:uuid:once"))]

    first = redis_store._append_log(keys=keys, args=_append_args(append))
    again = redis_store._append_log(keys=keys, args=_append_args(append))

    assert first == again == 0
    assert redis_store.log_size() == 2
    assert redis_store.get_credential("urn:uuid:once").leaf_index == 1


def test_redis_appends_reload_a_flushed_script_cache(durable_redis) -> None:
    store = RedisStore(durable_redis.url)
    client = redis.Redis.from_url(durable_redis.url)
    try:
        assert store.append_log([log_append("a")]) == [0]
        client.script_flush()  # as after a restart: every cached script is gone
        assert store.append_log([log_append("b"), issued(make_credential("urn:uuid:1"))]) == [1, 2]
        assert labels(store) == ["a", "b", "issued urn:uuid:1"]
    finally:
        client.close()
        store.close()


def test_a_halted_log_takes_no_checkpoint(store):
    """A publisher that checked before another process halted the log must still not get its checkpoint in."""
    from datetime import datetime, timezone

    from did_service.storage.base import CheckpointRecord, LogAppend
    import hashlib

    entry = b'{"v":1}'
    store.append_log([LogAppend(entry, hashlib.sha256(b"\x00" + entry).digest())])
    store.halt_log("test", datetime(2026, 1, 1, tzinfo=timezone.utc))
    record = CheckpointRecord(1, hashlib.sha256(b"\x00" + entry).digest(), "note", datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert store.add_checkpoint(record, {}, None) is False
    assert store.latest_checkpoint() is None
    store.resume_log()
    assert store.add_checkpoint(record, {}, None) is True
