from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from did_service.clock import utcnow
from did_service.core.keys import decode_kek, encode_kek, new_kek
from did_service.errors import ConfigurationError, KeyDecryptionError
from did_service.services.keyring import ensure_issuer_keys, load_kek
from did_service.storage.sqlite import SqliteStore
from tests.support import make_settings

DID = "did:web:issuer.example"


def test_kek_file_is_created_0600_once(tmp_path):
    settings = make_settings(tmp_path / "instance")
    first = load_kek(settings, create=True)
    assert stat.S_IMODE(settings.kek_file.stat().st_mode) == 0o600
    assert load_kek(settings, create=True) == first == decode_kek(settings.kek_file.read_text())


def test_missing_kek_without_create_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError):
        load_kek(make_settings(tmp_path), create=False)


def test_kek_from_environment_wins(tmp_path):
    kek = new_kek()
    settings = make_settings(tmp_path, kek_b64=encode_kek(kek))
    assert load_kek(settings, create=True) == kek
    assert not settings.kek_file.exists()


def test_world_readable_kek_is_refused_in_production(tmp_path):
    settings = make_settings(tmp_path)
    load_kek(settings, create=True)
    os.chmod(settings.kek_file, 0o644)
    load_kek(settings, create=False)  # development: a warning only
    with pytest.raises(ConfigurationError):
        load_kek(make_settings(tmp_path, env="production"), create=False)


def test_issuer_keys_are_created_once_and_stored_encrypted(tmp_path):
    store = SqliteStore(tmp_path / "db.sqlite")
    kek = new_kek()
    with ThreadPoolExecutor(4) as pool:
        rings = list(pool.map(lambda _: ensure_issuer_keys(store, kek, DID, utcnow()), range(4)))
    kids = {tuple(sorted(k.kid for k in ring.keys)) for ring in rings}
    assert len(kids) == 1
    records = store.list_keys()
    assert sorted((r.purpose, r.alg) for r in records) == [
        ("issuer", "ES256"), ("issuer", "EdDSA"), ("log", "EdDSA"), ("verifier", "ES256")]
    # Each key's creation is the log's first entries, in the same write.
    assert sorted(r.log_index for r in records) == [0, 1, 2, 3] and store.log_size() == 4
    ring = rings[0]
    assert ring.log_key.kid in {r.kid for r in records if r.purpose == "log"}
    for record in records:
        key = next(k for k in (*ring.keys, ring.log_key, *(s.key for s in ring.verifier_keys)) if k.kid == record.kid)
        assert record.public_jwk["x"] == key.public_jwk["x"]
        assert "d" not in record.public_jwk
        raw = key.private_key.private_bytes_raw() if record.alg == "EdDSA" else key.private_key.private_numbers().private_value.to_bytes(32, "big")
        assert raw not in record.encrypted_private_key
    assert (tmp_path / "db.sqlite").read_bytes().find(raw) == -1
    with pytest.raises(KeyDecryptionError):
        ensure_issuer_keys(store, new_kek(), DID, utcnow())
    assert ring.for_alg("ES256").alg == "ES256"
