"""The JSON calls the wallet page's script makes: a nonce for the key proof, and collecting a credential.

Both need a logged-in resident (the session cookie); the collecting POST also needs the session's CSRF token in
``X-CSRF-Token``, as every state-changing request does. Errors are problem documents like the rest of the API.
"""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from did_service.errors import BadRequest, DidServiceError, Unauthorized, Unprocessable
from did_service.web.accounts import current_account
from did_service.web.extensions import services
from did_service.web.request_parsing import json_object

bp = Blueprint("wallet_api", __name__, url_prefix="/wallet/api")


def _resident_subject() -> str:
    account = current_account()
    if account is None:
        raise Unauthorized("log in to use the wallet", code="not_logged_in")
    return account.session.subject


@bp.get("/nonce")
def nonce():
    subject = _resident_subject()
    svc = services()
    return jsonify({"c_nonce": svc.wallet.nonce(subject), "aud": svc.settings.public_url})


def _checked_post() -> str:
    """The logged-in resident of a state-changing call that carries the session's CSRF token."""
    subject = _resident_subject()
    account = current_account()
    if not services().sessions.check_csrf(account.session.session_id, request.headers.get("X-CSRF-Token")):
        raise BadRequest("the request lacks this session's CSRF token", code="csrf_failed")
    return subject


@bp.post("/credentials")
def collect():
    subject = _checked_post()
    svc = services()
    body = json_object()
    if set(body) != {"type", "proof"}:
        raise Unprocessable("the body is {type, proof}", code="invalid_request")
    collected = svc.wallet.collect(subject, body["type"], body["proof"])
    response = jsonify({"credential": collected.credential, "credential_type": collected.credential_type,
                        "leaf_index": collected.leaf_index})
    response.status_code = 201
    return response


@bp.post("/requests")
def read_request():
    """{link}: the verifier's request, checked, for the consent screen (who asks, for what, until when)."""
    _checked_post()
    body = json_object()
    if set(body) != {"link"}:
        raise Unprocessable("the body is {link}", code="invalid_request")
    found = services().presentation_requests.read(body["link"])
    return jsonify({
        "client_id": found.client_id, "verifier_name": found.verifier_name, "verified_name": found.verified_name,
        "verifier_role": found.verifier_role, "credential_type": found.credential_type, "claims": list(found.claims),
        "nonce": found.nonce, "expires_at": found.expires_at.isoformat(), "query_id": found.query_id,
    })


@bp.post("/presentations")
def present():
    """{link, presentation}: send the presentation the page signed to the verifier that asked for it.

    The request is read and checked again here, so the answer goes only to the response_uri a valid request
    names, with its state. This service's own verifier is answered directly; another verifier is not reachable
    from here yet (the guarded outbound POST comes with the hardening work)."""
    _checked_post()
    body = json_object()
    if set(body) != {"link", "presentation"} or not isinstance(body["presentation"], str):
        raise Unprocessable("the body is {link, presentation}", code="invalid_request")
    svc = services()
    found = svc.presentation_requests.read(body["link"])
    own = f"{svc.settings.public_url}/oid4vp/responses/"
    if not found.response_uri.startswith(own):
        raise Unprocessable("presenting to verifiers at other services is not supported yet",
                            code="unsupported_verifier")
    form = {"vp_token": json.dumps({found.query_id: [body["presentation"]]}), "state": found.state}
    try:
        svc.verifier.respond(found.response_uri[len(own):], form)
    except DidServiceError as exc:
        return jsonify({"accepted": False, "code": exc.code, "detail": exc.detail}), 200
    return jsonify({"accepted": True})
