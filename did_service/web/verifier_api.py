"""The verifier over HTTP: the tenants' API (Bearer API keys) and the wallet's OpenID4VP endpoints (public).

Tenant endpoints, under /verifier/v1, need `Authorization: Bearer <key>`; a key anywhere in the URL is refused
(it would end up in access logs and browser history). Wallet endpoints, under /oid4vp, are reached through
the unguessable request id the QR code carries.
"""

from __future__ import annotations

import re
from functools import wraps
from typing import Callable, TypeVar

from flask import Blueprint, Response, g, jsonify, request, url_for

from did_service.core.oid4vp.request import REQUEST_MEDIA_TYPE
from did_service.errors import BadRequest, NotFound, UnsupportedMediaType, Unauthorized
from did_service.services.tenants import PREFIX as KEY_PREFIX, authenticate_tenant
from did_service.services.verifier import PresentationRejected
from did_service.web.extensions import services
from did_service.web.problems import problem
from did_service.web.request_parsing import json_object

bp = Blueprint("verifier_api", __name__)

F = TypeVar("F", bound=Callable)
_KEY_PARAMETERS = ("api_key", "apikey", "key", "access_token", "token")


def tenant_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if any(name.lower() in _KEY_PARAMETERS or any(KEY_PREFIX + "." in v for v in request.args.getlist(name))
               for name in request.args):
            raise Unauthorized("API keys are accepted only as `Authorization: Bearer <key>`, never in the URL",
                               code="api_key_in_query")
        svc = services()
        g.tenant, g.api_key = authenticate_tenant(svc.store, request.headers.get("Authorization"), svc.clock(),
                                                  svc.settings.verifier_rate_limit)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


# --- tenants -----------------------------------------------------------------------------------------------


@bp.post("/verifier/v1/requests")
@tenant_required
def create_request():
    """{policy, application?, webhook_url?} -> 201 {id, request_uri, qr_png_url, deep_link, expires_at}."""
    created = services().verifier.create_request(g.tenant, json_object())
    response = jsonify(created.body)
    response.status_code = 201
    response.headers["Location"] = url_for(".get_request", request_id=created.body["id"])
    return response


@bp.get("/verifier/v1/requests")
@tenant_required
def list_requests():
    """This tenant's requests, newest first (`?limit=`, 1 to 100): statuses and decisions, no claim values."""
    raw = request.args.get("limit", "20")
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= 100:
        raise BadRequest("`limit` is a whole number from 1 to 100", code="invalid_limit")
    return jsonify({"requests": services().verifier.list_requests(g.tenant, int(raw))})


@bp.get("/verifier/v1/requests/<request_id>")
@tenant_required
def get_request(request_id: str):
    return jsonify(services().verifier.result(g.tenant, request_id))


@bp.post("/verifier/v1/requests/<request_id>/evidence")
@tenant_required
def add_evidence(request_id: str):
    """{method, performedAt, source, succeeded}: a verification method the bank performed itself."""
    return jsonify(services().verifier.add_evidence(g.tenant, request_id, json_object()))


# --- public keys -------------------------------------------------------------------------------------------


@bp.get("/verifier/did.json")
def verifier_document():
    verifier = services().verifier
    return _did_json(verifier.document(verifier.did))


@bp.get("/verifiers/<tenant_id>/did.json")
def tenant_document(tenant_id: str):
    """A tenant's OpenID4VP client identity (did:web:<host>:verifiers:<tenant id>)."""
    svc = services()
    if len(tenant_id) > 64 or svc.store.get_tenant(tenant_id) is None:
        raise NotFound("no such verifier", code="verifier_not_found")
    return _did_json(svc.verifier.document(svc.verifier.tenant_did(tenant_id)))


@bp.get("/verifier/v1/keys")
def verifier_keys():
    """The keys decision receipts are signed with, as a JWKS (kid is the DID URL the receipt header names)."""
    response = jsonify(services().verifier.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _did_json(document: dict) -> Response:
    response = jsonify(document)
    response.mimetype = "application/did+json"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --- the wallet ---------------------------------------------------------------------------------------------


@bp.get("/oid4vp/requests/<request_id>")
def request_object(request_id: str):
    return Response(services().verifier.request_object(request_id), mimetype=REQUEST_MEDIA_TYPE)


@bp.get("/oid4vp/requests/<request_id>/qr.png")
def request_qr(request_id: str):
    return Response(services().verifier.qr_png(request_id), mimetype="image/png")


@bp.post("/oid4vp/responses/<request_id>")
def wallet_response(request_id: str):
    """OpenID4VP direct_post: a form with `vp_token` and `state` (or `error`)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the response as application/x-www-form-urlencoded")
    form = request.form
    if any(len(form.getlist(name)) > 1 for name in form):
        raise BadRequest("each response parameter may appear once", code="invalid_authorization_response")
    try:
        body = services().verifier.respond(request_id, form.to_dict())
    except PresentationRejected as exc:
        # The problem document carries the OAuth `error` member as well, for wallets that read only that.
        return problem(exc.status, exc.code, exc.title, exc.detail, error="invalid_request")
    return jsonify(body)
