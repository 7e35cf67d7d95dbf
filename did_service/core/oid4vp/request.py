"""OpenID for Verifiable Presentations 1.0, the verifier's side of a cross-device flow (``direct_post``).

The verifier signs a Request Object (JAR, ``typ: oauth-authz-req+jwt``) the wallet fetches by reference from
``request_uri``; the QR code / deep link carries only ``client_id`` and ``request_uri``. The client identifier
uses the ``decentralized_identifier`` prefix: the wallet resolves the DID and checks the request's signature
with the verification method the JWS ``kid`` names. The wallet posts ``vp_token`` and ``state`` as a form to
``response_uri``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlencode

from did_service.core import strict_json
from did_service.errors import BadRequest, Unprocessable

REQUEST_TYP = "oauth-authz-req+jwt"
REQUEST_MEDIA_TYPE = "application/oauth-authz-req+jwt"
CLIENT_ID_PREFIX = "decentralized_identifier:"
# Static discovery (section 5.8): the audience of a request object sent to any wallet.
STATIC_AUDIENCE = "https://self-issued.me/v2"
DEEP_LINK_SCHEME = "openid4vp://"
SD_JWT_ALGS = ["ES256", "EdDSA"]

MAX_VP_TOKEN_CHARS = 256 * 1024
MAX_STATE_CHARS = 512
MAX_PRESENTATIONS = 4
# OAuth error codes a wallet may answer with (RFC 6749 section 4.1.2.1, OpenID4VP section 8.5). Anything else is
# reported as `wallet_error`, so a wallet cannot put free text into a stored decision.
WALLET_ERRORS = frozenset({
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
    "server_error", "temporarily_unavailable", "vp_formats_not_supported", "invalid_request_uri_method",
    "invalid_transaction_data", "wallet_unavailable",
})


class InvalidAuthorizationResponse(BadRequest):
    code = "invalid_authorization_response"
    title = "The authorization response is not acceptable"


class StateMismatch(Unprocessable):
    code = "state_mismatch"
    title = "The response's state is not the request's"


def client_id_for(did: str) -> str:
    return CLIENT_ID_PREFIX + did


def request_object(
    *, client_id: str, response_uri: str, nonce: str, state: str, dcql_query: Mapping[str, Any],
    issued_at: datetime, expires_at: datetime, client_name: str,
) -> dict[str, Any]:
    """The Request Object's claims (section 5): everything the wallet needs, nothing about the person."""
    return {
        "iss": client_id,
        "aud": STATIC_AUDIENCE,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "client_id": client_id,
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": response_uri,
        "nonce": nonce,
        "state": state,
        "dcql_query": dict(dcql_query),
        "client_metadata": {
            "client_name": client_name,
            "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": SD_JWT_ALGS, "kb-jwt_alg_values": SD_JWT_ALGS}},
        },
    }


def deep_link(client_id: str, request_uri: str) -> str:
    """What the QR code holds: the request by reference (section 5.10), fetched with GET."""
    return DEEP_LINK_SCHEME + "?" + urlencode({"client_id": client_id, "request_uri": request_uri})


@dataclass(frozen=True)
class WalletResponse:
    state: str
    vp_token: dict[str, list[str]] | None  # per Credential Query id, the presentations (compact SD-JWT+KB)
    error: str | None = None  # the wallet declined or failed: an OAuth error code from WALLET_ERRORS


def parse_response(form: Mapping[str, str], expected_state: str) -> WalletResponse:
    """Read a ``direct_post`` body: ``vp_token`` (a JSON object) and ``state``, or an error response.

    InvalidAuthorizationResponse for a malformed body; StateMismatch when ``state`` is not the request's.
    Unknown parameters are ignored, as OAuth requires.
    """
    state = form.get("state")
    if not isinstance(state, str) or not state or len(state) > MAX_STATE_CHARS:
        raise InvalidAuthorizationResponse("the response must carry the request's `state`", code="missing_state")
    if state != expected_state:
        raise StateMismatch("the response's `state` is not the one this request sent")
    if "error" in form:
        error = form["error"]
        return WalletResponse(state, None, error if error in WALLET_ERRORS else "wallet_error")
    raw = form.get("vp_token")
    if not isinstance(raw, str) or not raw:
        raise InvalidAuthorizationResponse("the response must carry `vp_token` or `error`", code="missing_vp_token")
    if len(raw) > MAX_VP_TOKEN_CHARS:
        raise InvalidAuthorizationResponse("the vp_token is too large", code="invalid_vp_token")
    try:
        token = strict_json.loads(raw)  # bounded nesting, no duplicate keys: the wallet is not trusted yet
    except strict_json.StrictJsonError as exc:
        raise InvalidAuthorizationResponse("the vp_token must be a JSON object", code="invalid_vp_token") from exc
    if not isinstance(token, dict) or not token:
        raise InvalidAuthorizationResponse("the vp_token must be a non-empty JSON object keyed by credential query id",
                                           code="invalid_vp_token")
    count = 0
    for key, presentations in token.items():
        if not isinstance(presentations, list) or not presentations \
                or not all(isinstance(p, str) and p for p in presentations):
            raise InvalidAuthorizationResponse("each vp_token value must be a non-empty array of presentations",
                                               code="invalid_vp_token")
        count += len(presentations)
    if count > MAX_PRESENTATIONS:
        raise InvalidAuthorizationResponse(f"at most {MAX_PRESENTATIONS} presentations per response",
                                           code="invalid_vp_token")
    return WalletResponse(state, token)
