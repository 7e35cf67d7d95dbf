from __future__ import annotations

import pytest

from did_service.core import did as dids
from did_service.core.keys import generate_private_key
from did_service.errors import InvalidDid, ResolutionError
from did_service.services.resolver import Resolver, fetch_did_web_document


def test_own_did_resolves_locally_without_fetching():
    def no_network(url):
        raise AssertionError("must not fetch")

    resolver = Resolver("did:web:127.0.0.1%3A5000", lambda: {"id": "did:web:127.0.0.1%3A5000"}, fetch=no_network)
    assert resolver("did:web:127.0.0.1%3A5000")["id"] == "did:web:127.0.0.1%3A5000"


def test_offline_methods():
    key = generate_private_key("EdDSA").public_key()
    resolver = Resolver("did:web:me.example", dict)
    for did in (dids.did_key_from_public_key(key), dids.did_jwk_from_public_key(key)):
        document = resolver(did)
        assert document["id"] == did
        document["id"] = "mutated"
        assert resolver(did)["id"] == did  # cached documents are not shared mutable state


@pytest.mark.parametrize(
    "did",
    [
        "did:web:127.0.0.1",
        "did:web:10.0.0.1%3A8443",
        "did:web:169.254.169.254",
        "did:web:localhost",
        "did:web:localhost%3A5000",
        "did:web:api.localhost",
    ],
)
def test_foreign_did_web_refuses_ip_literals_and_localhost(did):
    with pytest.raises(InvalidDid):
        Resolver("did:web:me.example", dict).resolve(did)


@pytest.mark.parametrize("url", ["http://issuer.example/.well-known/did.json", "https://[::1]/did.json", "https://127.0.0.1/x"])
def test_fetch_guard(url):
    with pytest.raises(InvalidDid):
        fetch_did_web_document(url)


def test_foreign_document_must_be_for_the_requested_did():
    resolver = Resolver("did:web:me.example", dict, fetch=lambda url: {"id": "did:web:evil.example"})
    with pytest.raises(ResolutionError):
        resolver("did:web:issuer.example")


def test_unsupported_methods():
    for did in ("did:example:123", "did:ion:abc", 42, "web:x"):
        with pytest.raises(InvalidDid):
            Resolver("did:web:me.example", dict).resolve(did)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "did",
    [
        "did:web:127.1",
        "did:web:2130706433",
        "did:web:0x7f.0.0.1",
        "did:web:0251.0376.0251.0376",
        "did:web:10.1",
        "did:web:017700000001%3A8443",
    ],
)
def test_shorthand_ip_spellings_are_ip_literals(did):
    with pytest.raises(InvalidDid):
        Resolver("did:web:me.example", dict).resolve(did)


@pytest.mark.parametrize("address", ["10.0.0.7", "169.254.169.254", "127.0.0.1", "::1", "fd00::1", "100.64.0.1"])
def test_names_resolving_to_private_space_are_refused(monkeypatch, address):
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(family, socket.SOCK_STREAM, 6, "", (address, 443))])
    with pytest.raises(InvalidDid) as info:
        fetch_did_web_document("https://issuer.example/.well-known/did.json")
    assert "non-public" in info.value.detail


def test_status_list_cache_keeps_lists_for_their_max_age_then_revalidates():
    from did_service.services.resolver import FetchedList, StatusListCache

    asked = []
    answers = iter([FetchedList("token-1", 300, '"v1"'), FetchedList(None, 300, None), FetchedList("token-2", 60, '"v2"')])

    def fetch(url, etag):
        asked.append(etag)
        return next(answers)

    now = [0.0]
    cache = StatusListCache(fetch, clock=lambda: now[0])
    url = "https://a.example/status/1"
    assert cache(url) == "token-1"
    now[0] = 299.0
    assert cache(url) == "token-1"  # within max-age: no second request
    now[0] = 301.0
    assert cache(url) == "token-1"  # revalidated: 304, keeps the token
    now[0] = 602.0
    assert cache(url) == "token-2"  # changed
    assert asked == [None, '"v1"', '"v1"']


def test_status_list_fetch_refuses_private_hosts():
    from did_service.core.status_list import StatusListError
    from did_service.services.resolver import fetch_status_list_text

    for url in ("http://issuer.example/status/1", "https://127.0.0.1/status/1", "https://localhost/status/1"):
        with pytest.raises(StatusListError) as info:
            fetch_status_list_text(url)
        assert info.value.code == "status_retrieval_error"
