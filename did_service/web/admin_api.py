"""Operator API (role admin): the verifier's trust registry."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from did_service.errors import NotFound, Unprocessable
from did_service.web.extensions import require_role, services
from did_service.web.request_parsing import json_object

bp = Blueprint("admin_api", __name__, url_prefix="/admin/v1")


@bp.get("/trust")
@require_role("admin")
def list_trust():
    return jsonify({"entries": services().trust.entries()})


@bp.post("/trust")
@require_role("admin")
def add_trust():
    """{issuer: DID, type: registered credential type} -> 201 when added, 200 when it already was."""
    body = json_object()
    if set(body) != {"issuer", "type"} or not isinstance(body["type"], str):
        raise Unprocessable("the body is {issuer, type}", code="invalid_trust_entry")
    svc = services()
    added = svc.trust.add(body["issuer"], body["type"], svc.clock())
    response = jsonify({"issuer": body["issuer"], "type": body["type"], "added": added})
    response.status_code = 201 if added else 200
    return response


@bp.delete("/trust")
@require_role("admin")
def remove_trust():
    """?issuer=DID&type=T; 404 when there is no such entry (the built-in entries cannot be removed)."""
    issuer, credential_type = request.args.get("issuer"), request.args.get("type")
    if not issuer or not credential_type:
        raise Unprocessable("`issuer` and `type` query parameters are required", code="invalid_trust_entry")
    if not services().trust.remove(issuer, credential_type):
        raise NotFound("no such trust entry", code="trust_entry_not_found")
    return jsonify({"issuer": issuer, "type": credential_type, "removed": True})
