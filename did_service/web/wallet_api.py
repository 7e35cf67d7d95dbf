"""The JSON calls the wallet page's script makes: a nonce for the key proof, and collecting a credential.

Both need a logged-in resident (the session cookie); the collecting POST also needs the session's CSRF token in
``X-CSRF-Token``, as every state-changing request does. Errors are problem documents like the rest of the API.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from did_service.errors import BadRequest, Unauthorized, Unprocessable
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


@bp.post("/credentials")
def collect():
    subject = _resident_subject()
    svc = services()
    account = current_account()
    if not svc.sessions.check_csrf(account.session.session_id, request.headers.get("X-CSRF-Token")):
        raise BadRequest("the request lacks this session's CSRF token", code="csrf_failed")
    body = json_object()
    if set(body) != {"type", "proof"}:
        raise Unprocessable("the body is {type, proof}", code="invalid_request")
    collected = svc.wallet.collect(subject, body["type"], body["proof"])
    response = jsonify({"credential": collected.credential, "credential_type": collected.credential_type,
                        "leaf_index": collected.leaf_index})
    response.status_code = 201
    return response
