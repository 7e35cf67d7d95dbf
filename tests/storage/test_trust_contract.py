"""The trust registry part of the Store contract, against SQLite and real Redis."""

from __future__ import annotations

from datetime import timedelta

from did_service.storage import Store, TrustRecord
from tests.storage.records import T0, race

ISSUER = "did:web:id.jeju.example"
OTHER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def test_add_list_remove(store: Store) -> None:
    assert store.list_trust() == []
    assert store.add_trust(TrustRecord(OTHER, "DiplomaCredential", T0)) is True
    assert store.add_trust(TrustRecord(ISSUER, "ResidentIdentityCredential", T0 + timedelta(seconds=1))) is True
    assert store.add_trust(TrustRecord(ISSUER, "DiplomaCredential", T0)) is True
    assert store.list_trust() == [  # by type, then issuer ("did:key" < "did:web")
        TrustRecord(OTHER, "DiplomaCredential", T0),
        TrustRecord(ISSUER, "DiplomaCredential", T0),
        TrustRecord(ISSUER, "ResidentIdentityCredential", T0 + timedelta(seconds=1)),
    ]
    assert store.remove_trust(ISSUER, "DiplomaCredential") is True
    assert store.remove_trust(ISSUER, "DiplomaCredential") is False
    assert store.remove_trust(OTHER, "ResidentIdentityCredential") is False  # trusted for another type only
    assert [(r.issuer, r.credential_type) for r in store.list_trust()] == [
        (OTHER, "DiplomaCredential"), (ISSUER, "ResidentIdentityCredential")]


def test_adding_twice_keeps_the_first_and_says_so(store: Store) -> None:
    assert store.add_trust(TrustRecord(ISSUER, "DiplomaCredential", T0)) is True
    assert store.add_trust(TrustRecord(ISSUER, "DiplomaCredential", T0 + timedelta(days=1))) is False
    assert store.list_trust() == [TrustRecord(ISSUER, "DiplomaCredential", T0)]


def test_issuers_with_spaces_or_unicode_round_trip(store: Store) -> None:
    # DIDs have neither, but the store must not be the layer that mangles what it was given.
    odd = "did:web:example.com:user%20name:홍"
    assert store.add_trust(TrustRecord(odd, "DiplomaCredential", T0))
    assert store.list_trust() == [TrustRecord(odd, "DiplomaCredential", T0)]
    assert store.remove_trust(odd, "DiplomaCredential")


def test_concurrent_adds_of_one_entry_succeed_once(store: Store) -> None:
    results = race(lambda i: store.add_trust(TrustRecord(ISSUER, "DiplomaCredential", T0 + timedelta(seconds=i))))
    assert results.count(True) == 1 and results.count(False) == len(results) - 1
    assert len(store.list_trust()) == 1
