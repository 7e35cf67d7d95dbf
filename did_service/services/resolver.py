"""DID resolution: did:key and did:jwk offline, our own did:web locally, other did:web over HTTPS only.

This is the only module that reaches the network. A foreign did:web must name a DNS host (no IP literals, no
localhost), is fetched over HTTPS without redirects, with a timeout and a size cap. A later hardening pass
pins the connection to a checked address; until then the host name rules below are the guard.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping
from urllib.parse import urlsplit

from did_service.core import did as dids
from did_service.core import strict_json
from did_service.core.status_list import StatusListError
from did_service.errors import InvalidDid, ResolutionError

MAX_DOCUMENT_BYTES = 256 * 1024
TIMEOUT_SECONDS = 5.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        raise ResolutionError("the host answered with a redirect, which is not followed", code="did_resolution_failed")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        # inet_aton accepts what the C resolver accepts: 127.1, 2130706433, 0x7f.0.0.1, octal parts...
        socket.inet_aton(host)
        return True
    except OSError:
        return False


def is_public_host_name(host: str) -> bool:
    """A host name (not an IP literal, not localhost) that may name a public server; where it points is checked
    when connecting."""
    host = host.rstrip(".").lower()
    return bool(host) and host != "localhost" and not host.endswith(".localhost") and not _is_ip_literal(host)


def _check_web_host(url: str) -> None:
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https":
        raise InvalidDid("did:web is resolved over HTTPS only")
    if not host or host == "localhost" or host.endswith(".localhost"):
        raise InvalidDid("did:web may not name localhost")
    if _is_ip_literal(host):
        raise InvalidDid("did:web may not name an IP address")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionError("the did:web host name does not resolve", transient=True) from exc
    # Refuse names that resolve to private, loopback, link-local or reserved space (SSRF). The connection
    # that follows resolves again; pinning it to the checked address is the later hardening step.
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        raise InvalidDid("the did:web host resolves to a non-public address")


def guarded_get(
    url: str, accept: str, max_bytes: int, extra_headers: Mapping[str, str] | None = None
) -> tuple[bytes, Mapping[str, str]]:
    """GET over HTTPS to a public host: no redirects, a timeout, at most ``max_bytes``. ResolutionError otherwise.
    A 304 answer (to a conditional request) comes back as an empty body with a ``status`` header of "304"."""
    _check_web_host(url)
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )
    request = urllib.request.Request(url, headers={"Accept": accept, **(extra_headers or {})})
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(max_bytes + 1)
            headers = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return b"", {**{k.lower(): v for k, v in exc.headers.items()}, "status": "304"}
        raise ResolutionError(f"the host answered HTTP {exc.code}", transient=exc.code >= 500) from exc
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        raise ResolutionError("the host could not be reached", transient=True) from exc
    if len(body) > max_bytes:
        raise ResolutionError("the response is too large")
    return body, headers


MAX_WEBHOOK_ANSWER_BYTES = 64 * 1024


def post_webhook(url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """POST a tenant's webhook over HTTPS to a public host, under the same guards as every outbound fetch:
    no redirects, a timeout, a bounded answer. ResolutionError unless the host answers 2xx."""
    _check_web_host(url)
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(MAX_WEBHOOK_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        raise ResolutionError(f"the host answered HTTP {exc.code}", transient=exc.code >= 500) from exc
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        raise ResolutionError("the host could not be reached", transient=True) from exc


def fetch_did_web_document(url: str) -> dict:
    body, _ = guarded_get(url, "application/did+json, application/json", MAX_DOCUMENT_BYTES)
    try:
        document = strict_json.loads(body)
    except strict_json.StrictJsonError as exc:
        raise ResolutionError("did:web document is not strict JSON") from exc
    if not isinstance(document, dict):
        raise ResolutionError("did:web document is not a JSON object")
    return document


MAX_STATUS_LIST_BYTES = 1024 * 1024  # a signed list is a few KiB; the decompressed bits are capped separately


@dataclass(frozen=True)
class FetchedList:
    token: str | None  # None: not modified since ``etag`` (a 304)
    max_age: int
    etag: str | None


def fetch_status_list_text(url: str, etag: str | None = None) -> FetchedList:
    """Another issuer's signed status list credential, how long it may be cached (Cache-Control max-age) and its
    ETag; with ``etag``, a conditional request that may answer "not modified"."""
    try:
        body, headers = guarded_get(url, "application/vc+jwt, application/json", MAX_STATUS_LIST_BYTES,
                                    {"If-None-Match": etag} if etag else None)
    except (ResolutionError, InvalidDid) as exc:
        raise StatusListError(f"the status list could not be fetched: {exc.detail}", code="status_retrieval_error") from exc
    match = re.search(r"max-age=(\d{1,6})", headers.get("cache-control", ""))
    max_age = int(match.group(1)) if match else 300
    if headers.get("status") == "304":
        return FetchedList(None, max_age, etag)
    try:
        return FetchedList(body.decode("ascii").strip(), max_age, headers.get("etag"))
    except UnicodeDecodeError as exc:
        raise StatusListError("the status list is not a compact JWT", code="status_retrieval_error") from exc


class StatusListCache:
    """Fetched status lists kept for their max-age, then revalidated with their ETag, so a verifier does not ask the
    issuer for every check (which would also tell the issuer which credential was being checked, and when)."""

    def __init__(
        self, fetch: Callable[[str, str | None], FetchedList], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch, self._clock = fetch, clock
        self._entries: dict[str, tuple[float, str, str | None]] = {}

    def __call__(self, url: str) -> str:
        now = self._clock()
        cached = self._entries.get(url)
        if cached and cached[0] > now:
            return cached[1]
        fetched = self._fetch(url, cached[2] if cached else None)
        if fetched.token is None:
            if cached is None:
                raise StatusListError("the list server answered 'not modified' to a first request", code="status_retrieval_error")
            token, etag = cached[1], cached[2]
        else:
            token, etag = fetched.token, fetched.etag
        if len(self._entries) > 1024:
            self._entries.clear()
        self._entries[url] = (now + fetched.max_age, token, etag)
        return token


class Resolver:
    """Resolve DIDs to DID documents (plain dicts)."""

    def __init__(
        self,
        own_did: str,
        own_document: Callable[[], dict],
        fetch: Callable[[str], dict] = fetch_did_web_document,
    ) -> None:
        self.own_did = own_did
        self._own_document = own_document
        self._fetch = fetch

    def __call__(self, did: str) -> dict:
        return self.resolve(did)

    def resolve(self, did: str) -> dict:
        if not isinstance(did, str):
            raise InvalidDid("a DID must be a string")
        if did == self.own_did:
            return self._own_document()
        if did.startswith("did:key:"):
            return _resolve_did_key(did)
        if did.startswith("did:jwk:"):
            return _resolve_did_jwk(did)
        if did.startswith("did:web:"):
            document = self._fetch(dids.did_web_document_url(did))
            if document.get("id") != did:
                raise ResolutionError("the did:web document is for another DID")
            return document
        raise InvalidDid("unsupported DID method")


# Offline methods are pure functions of the identifier, so caching them is safe and saves the point decoding.
@lru_cache(maxsize=4096)
def _resolve_did_key_cached(did: str) -> str:
    return json.dumps(dids.resolve_did_key(did))


@lru_cache(maxsize=4096)
def _resolve_did_jwk_cached(did: str) -> str:
    return json.dumps(dids.resolve_did_jwk(did))


def _resolve_did_key(did: str) -> dict:
    return json.loads(_resolve_did_key_cached(did))


def _resolve_did_jwk(did: str) -> dict:
    return json.loads(_resolve_did_jwk_cached(did))
