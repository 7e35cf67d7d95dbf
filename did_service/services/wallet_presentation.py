"""Reading a verifier's OpenID4VP request for the portal wallet, before the resident is asked to consent.

The portal (not the browser, whose page may fetch only its own origin) follows the link the bank's QR code
holds and checks everything a wallet must before showing the request:

* the link carries ``client_id`` and ``request_uri``; the request object comes from this service's own verifier
  directly, or over HTTPS from a public host through the guarded client (no redirects, no private addresses);
* it is a JWS of ``typ oauth-authz-req+jwt`` whose ``client_id`` is the link's, a ``decentralized_identifier``
  whose DID document holds the ``kid`` that signed it;
* it has not expired, asks for ``vp_token`` by ``direct_post``, and its ``response_uri`` is on the client's own
  host (a request cannot send the resident's data somewhere its signer does not answer for);
* its DCQL query asks for one SD-JWT VC of a type this issuer issues.

The verifier's name shown to the resident is *verified* only for this service's own tenants (their registered
name and role); another verifier's self-declared ``client_name`` is shown as unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from did_service.core.credential import credential_type_from_vct
from did_service.core.did import public_key_from_jwk
from did_service.core.oid4vp import dcql
from did_service.core.oid4vp.request import CLIENT_ID_PREFIX, REQUEST_MEDIA_TYPE, REQUEST_TYP
from did_service.core.proofs import jose
from did_service.errors import DidServiceError, Unprocessable
from did_service.services.resolver import guarded_get
from did_service.storage.base import Store

MAX_LINK = 4096
MAX_REQUEST_BYTES = 64 * 1024


class InvalidPresentationRequest(Unprocessable):
    code = "invalid_presentation_request"
    title = "The verifier's request is not acceptable"


def _refuse(detail: str, code: str = "invalid_presentation_request") -> InvalidPresentationRequest:
    return InvalidPresentationRequest(detail, code=code)


@dataclass(frozen=True)
class PresentationRequest:
    client_id: str
    verifier_name: str | None
    verifier_role: str | None  # "financial-institution" | "general" for this service's tenants, else None
    verified_name: bool  # the name is this service's record of the tenant, not the request's own say
    nonce: str
    state: str
    response_uri: str
    query_id: str
    credential_type: str
    claims: tuple[str, ...]
    expires_at: datetime


class RequestReader:
    def __init__(self, *, public_url: str, store: Store, registry_types: Callable[[], list[str]],
                 own_request: Callable[[str], str], own_document: Callable[[str], dict], tenant_did_base: str,
                 resolve: Callable[[str], dict], clock: Callable[[], datetime],
                 fetch: Callable[[str], bytes] | None = None) -> None:
        self._public_url = public_url.rstrip("/")
        self._store, self._types = store, registry_types
        self._own_request, self._own_document, self._tenant_base = own_request, own_document, tenant_did_base
        self._resolve, self._clock = resolve, clock
        self._fetch = fetch or (lambda url: guarded_get(url, REQUEST_MEDIA_TYPE, MAX_REQUEST_BYTES)[0])

    def read(self, link: str) -> PresentationRequest:
        client_id, request_uri = _link_parameters(link)
        token = self._request_object(request_uri)
        try:
            parsed = jose.parse_compact(token)
        except jose.JoseError as exc:
            raise _refuse("the request object is not a signed JWS", "unsigned_request") from exc
        if parsed.header.get("typ") != REQUEST_TYP:
            raise _refuse("the request object is not an OpenID4VP request (typ)", "unsigned_request")
        claims = parsed.payload
        if claims.get("client_id") != client_id:
            raise _refuse("the request's client_id is not the one the link names", "client_id_mismatch")
        if not client_id.startswith(CLIENT_ID_PREFIX):
            raise _refuse("only decentralized_identifier clients are supported", "unsupported_client")
        did = client_id[len(CLIENT_ID_PREFIX):]
        kid = parsed.header.get("kid")
        if not isinstance(kid, str) or not kid.startswith(did + "#"):
            raise _refuse("the request is not signed by a key of its client's DID", "invalid_request_signature")
        tenant = self._own_tenant(did)
        document = self._document(did, tenant is not None)
        methods = document.get("verificationMethod") if isinstance(document, dict) else None
        method = next((m for m in methods or [] if isinstance(m, dict) and m.get("id") == kid), None)
        if method is None or not isinstance(method.get("publicKeyJwk"), dict):
            raise _refuse("the client's DID document has no such key", "invalid_request_signature")
        try:
            jose.verify_signature(parsed, public_key_from_jwk(method["publicKeyJwk"]))
        except (DidServiceError, ValueError) as exc:
            raise _refuse("the request's signature does not verify", "invalid_request_signature") from exc

        now = self._clock()
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int) or exp <= now.timestamp():
            raise _refuse("the request has expired", "request_expired")
        if claims.get("response_type") != "vp_token" or claims.get("response_mode") != "direct_post":
            raise _refuse("only vp_token by direct_post is supported", "unsupported_response_mode")
        response_uri = claims.get("response_uri")
        if not isinstance(response_uri, str) or not self._response_uri_ok(response_uri, did, tenant is not None):
            raise _refuse("the response_uri is not on the client's own host", "response_uri_mismatch")
        nonce, state = claims.get("nonce"), claims.get("state")
        if not all(isinstance(v, str) and 0 < len(v) <= 512 for v in (nonce, state)):
            raise _refuse("the request lacks a nonce or state")
        query_id, credential_type, wanted = self._query(claims.get("dcql_query"))
        metadata = claims.get("client_metadata") if isinstance(claims.get("client_metadata"), dict) else {}
        declared = metadata.get("client_name") if isinstance(metadata.get("client_name"), str) else None
        return PresentationRequest(
            client_id=client_id,
            verifier_name=tenant.name if tenant is not None else (declared[:200] if declared else None),
            verifier_role=tenant.role if tenant is not None else None,
            verified_name=tenant is not None,
            nonce=nonce, state=state, response_uri=response_uri, query_id=query_id,
            credential_type=credential_type, claims=wanted,
            expires_at=datetime.fromtimestamp(exp, now.tzinfo),
        )

    # --- pieces ----------------------------------------------------------------------------------------------

    def _request_object(self, request_uri: str) -> str:
        own = f"{self._public_url}/oid4vp/requests/"
        if request_uri.startswith(own):
            try:
                return self._own_request(request_uri[len(own):])
            except DidServiceError as exc:
                raise _refuse("the verifier no longer has this request (answered or expired)", "request_gone") from exc
        parts = urlsplit(request_uri)
        if parts.scheme != "https":
            raise _refuse("request_uri must be https", "request_uri_refused")
        try:
            body = self._fetch(request_uri)
        except DidServiceError as exc:
            # The guard refuses private and loopback addresses, redirects and oversize answers alike.
            raise _refuse("the request could not be fetched from a public https host", "request_uri_refused") from exc
        try:
            return body.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise _refuse("the request object is not a compact JWS", "unsigned_request") from exc

    def _own_tenant(self, did: str):
        if not did.startswith(self._tenant_base):
            return None
        tenant = self._store.get_tenant(did[len(self._tenant_base):])
        if tenant is None:
            raise _refuse("no such verifier at this service", "unknown_client")
        return tenant

    def _document(self, did: str, own: bool) -> dict[str, Any]:
        if own:
            return self._own_document(did)
        try:
            return self._resolve(did)
        except DidServiceError as exc:
            raise _refuse("the client's DID could not be resolved", "unknown_client") from exc

    def _response_uri_ok(self, response_uri: str, did: str, own: bool) -> bool:
        if own:
            return response_uri.startswith(f"{self._public_url}/oid4vp/responses/")
        parts = urlsplit(response_uri)
        if parts.scheme != "https" or not did.startswith("did:web:"):
            return False
        host = unquote(did[len("did:web:"):].split(":", 1)[0]).lower()
        return (parts.netloc or "").lower() == host

    def _query(self, value: Any) -> tuple[str, str, tuple[str, ...]]:
        try:
            query = dcql.parse_query(value)
        except DidServiceError as exc:
            raise _refuse("the request's DCQL query is not valid", "unsupported_query") from exc
        if len(query.credentials) != 1 or query.credentials[0].format != dcql.SD_JWT_VC:
            raise _refuse("only a query for one SD-JWT VC is supported", "unsupported_query")
        wanted = query.credentials[0]
        types = {credential_type_from_vct(v) for v in wanted.vct_values
                 if v.startswith(self._public_url + "/vct/")} & set(self._types())
        if len(types) != 1:
            raise _refuse("the request asks for a credential this issuer does not issue", "unsupported_query")
        names = []
        for claim in wanted.claims or ():
            if len(claim.path) != 1 or not isinstance(claim.path[0], str):
                raise _refuse("only top-level claims can be asked for", "unsupported_query")
            names.append(claim.path[0])
        return wanted.id, types.pop(), tuple(names)


def _link_parameters(link: str) -> tuple[str, str]:
    if not isinstance(link, str) or len(link) > MAX_LINK:
        raise _refuse("paste the whole link the verifier shows", "invalid_request_link")
    parts = urlsplit(link.strip())
    params = parse_qs(parts.query, max_num_fields=10)
    client_id, request_uri = (params.get(name, [None]) for name in ("client_id", "request_uri"))
    if parts.scheme not in ("openid4vp", "https") or len(client_id) != 1 or len(request_uri) != 1 \
            or not client_id[0] or not request_uri[0]:
        raise _refuse("the link must carry one client_id and one request_uri", "invalid_request_link")
    return client_id[0], request_uri[0]
