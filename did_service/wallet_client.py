"""A minimal OpenID4VP 1.0 wallet for the command line: answer a verifier's cross-device request with an SD-JWT VC.

It does what a resident's wallet app does with the QR code: fetch the signed Request Object from
``request_uri``, check it was signed by a key of the DID its ``client_id`` names, disclose exactly the claims
the DCQL query asks for, bind the presentation to the request's nonce and client id, and post it to
``response_uri``. It exists so the verifier can be tried without a phone; it is not a full wallet (one
credential, one query, top-level claims).

did:web is fetched over HTTPS, except for a loopback host, so a service on this machine can be tried.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from did_service.core.did import public_key_from_jwk
from did_service.core.keys import SigningKey
from did_service.core.oid4vp.request import CLIENT_ID_PREFIX, REQUEST_MEDIA_TYPE, REQUEST_TYP
from did_service.core.proofs import jose, sd_jwt
from did_service.errors import DidServiceError

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
MAX_BYTES = 1024 * 1024


class WalletError(DidServiceError):
    code = "wallet_error"
    title = "The wallet could not answer the request"


@dataclass(frozen=True)
class PresentationRequest:
    client_id: str
    client_name: str | None
    nonce: str
    state: str
    response_uri: str
    query_id: str
    claims: list[str]


def read_request(link: str) -> PresentationRequest:
    """Fetch and check the Request Object an ``openid4vp://?client_id=...&request_uri=...`` link points to."""
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    client_id, request_uri = (params.get(name, [None])[0] for name in ("client_id", "request_uri"))
    if not client_id or not request_uri:
        raise WalletError("the link must carry client_id and request_uri")
    token = _get(request_uri, REQUEST_MEDIA_TYPE).decode("ascii", "replace").strip()
    parsed = jose.parse_compact(token)
    if parsed.header.get("typ") != REQUEST_TYP:
        raise WalletError("the request is not a signed OpenID4VP request object")
    payload = parsed.payload
    if payload.get("client_id") != client_id or not client_id.startswith(CLIENT_ID_PREFIX):
        raise WalletError("the request's client_id is not the link's, or not a decentralized identifier")
    did = client_id[len(CLIENT_ID_PREFIX):]
    kid = parsed.header.get("kid")
    if not isinstance(kid, str) or not kid.startswith(did + "#"):
        raise WalletError("the request is not signed by a key of its client's DID")
    document = _json(_get(_did_web_url(did), "application/did+json"))
    methods = document.get("verificationMethod") if isinstance(document, dict) else None
    method = next((m for m in methods if isinstance(m, dict) and m.get("id") == kid), None) \
        if isinstance(methods, list) else None
    if method is None or "publicKeyJwk" not in method:
        raise WalletError("the client's DID document has no such key")
    jose.verify_signature(parsed, public_key_from_jwk(method["publicKeyJwk"]))
    if not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
        raise WalletError("the request has expired")
    if payload.get("response_mode") != "direct_post" or payload.get("response_type") != "vp_token":
        raise WalletError("only response_type vp_token with response_mode direct_post is supported")
    credentials = (payload.get("dcql_query") or {}).get("credentials") or []
    if len(credentials) != 1 or credentials[0].get("format") != "dc+sd-jwt":
        raise WalletError("only a query for one dc+sd-jwt credential is supported")
    claims = [c["path"][0] for c in credentials[0].get("claims", []) if len(c.get("path", [])) == 1]
    return PresentationRequest(
        client_id=client_id, client_name=(payload.get("client_metadata") or {}).get("client_name"),
        nonce=payload["nonce"], state=payload["state"], response_uri=payload["response_uri"],
        query_id=credentials[0]["id"], claims=claims,
    )


def respond(request: PresentationRequest, credential: str, holder_key: SigningKey, now: datetime) -> tuple[int, Any]:
    """Present ``credential`` disclosing exactly what the request asks; post it; return (status, answer)."""
    presentation = sd_jwt.present(credential, reveal=[(name,) for name in request.claims], holder_key=holder_key,
                                  audience=request.client_id, nonce=request.nonce, now=now)
    form = urllib.parse.urlencode({"vp_token": json.dumps({request.query_id: [presentation]}),
                                   "state": request.state}).encode()
    outgoing = urllib.request.Request(request.response_uri, data=form, method="POST",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    _check_url(request.response_uri)
    try:
        with _OPENER.open(outgoing, timeout=10) as answer:
            return answer.status, _json(answer.read(MAX_BYTES) or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read(MAX_BYTES) or b"{}")
    except (urllib.error.URLError, OSError) as exc:
        raise WalletError("the verifier could not be reached") from exc


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        # A redirect would take the wallet somewhere the link did not name (and that _check_url did not see).
        raise WalletError("the verifier answered with a redirect, which the wallet does not follow")


_OPENER = urllib.request.build_opener(_NoRedirect)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise WalletError("the verifier's answer is not JSON") from exc


def _did_web_url(did: str) -> str:
    if not did.startswith("did:web:"):
        raise WalletError("only did:web client identifiers are supported")
    host, *path = did[len("did:web:"):].split(":")
    host = urllib.parse.unquote(host)
    scheme = "http" if host.split(":")[0] in _LOOPBACK or host.startswith("[::1]") else "https"
    return f"{scheme}://{host}/{'/'.join(path) + '/did.json' if path else '.well-known/did.json'}"


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")):
        return
    raise WalletError("the wallet talks to verifiers over https only (http for this machine)")


def _get(url: str, accept: str) -> bytes:
    _check_url(url)
    try:
        with _OPENER.open(urllib.request.Request(url, headers={"Accept": accept}), timeout=10) as answer:
            return answer.read(MAX_BYTES)
    except urllib.error.HTTPError as exc:
        raise WalletError(f"the verifier answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise WalletError("the verifier could not be reached") from exc
