from __future__ import annotations

import pytest

from did_service.clock import utcnow
from did_service.errors import Forbidden, NotFound, Unauthorized
from did_service.services import tokens
from did_service.storage.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path):
    return SqliteStore(tmp_path / "db.sqlite")


def test_only_the_hash_is_stored(store, tmp_path):
    token, record = tokens.create_token(store, "issuer", utcnow())
    assert token.startswith("dsv1.") and record.token_id in token
    assert record.token_hash == tokens.token_hash(token)
    assert token.split(".")[2].encode() not in (tmp_path / "db.sqlite").read_bytes()
    assert tokens.authenticate(store, f"Bearer {token}", "issuer").token_id == record.token_id


def test_roles(store):
    issuer, _ = tokens.create_token(store, "issuer", utcnow())
    admin, _ = tokens.create_token(store, "admin", utcnow())
    assert tokens.authenticate(store, f"Bearer {admin}", "issuer")
    assert tokens.authenticate(store, f"Bearer {admin}", "admin")
    with pytest.raises(Forbidden):
        tokens.authenticate(store, f"Bearer {issuer}", "admin")
    with pytest.raises(ValueError):
        tokens.create_token(store, "root", utcnow())


@pytest.mark.parametrize("by", ["token", "id"])
def test_revoke(store, by):
    token, record = tokens.create_token(store, "issuer", utcnow())
    tokens.revoke_token(store, token if by == "token" else record.token_id, utcnow())
    with pytest.raises(Unauthorized) as info:
        tokens.authenticate(store, f"Bearer {token}", "issuer")
    assert info.value.code == "token_revoked"
    with pytest.raises(NotFound):
        tokens.revoke_token(store, "nope", utcnow())


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Token abc", "Bearer " + "x" * 300, "Bearer dsv1.a.b"])
def test_bad_headers(store, header):
    with pytest.raises(Unauthorized):
        tokens.authenticate(store, header, "issuer")
