"""W3C VC API: issue and verify credentials."""

from __future__ import annotations

from flask import Blueprint, jsonify

from did_service.errors import InvalidJson
from did_service.web.extensions import require_role, services
from did_service.web.request_parsing import json_object

bp = Blueprint("vc_api", __name__)


@bp.post("/credentials/issue")
@require_role("issuer")
def issue():
    body = json_object()
    svc = services()
    issued = svc.issuance.issue(body, svc.clock())
    # The leaf index says where the credential is anchored; its receipt is at /log/v1/receipt/<digest>.
    response = jsonify({"verifiableCredential": issued.enveloped, "leafIndex": issued.leaf_index})
    response.status_code = 201
    return response


@bp.post("/credentials/verify")
def verify():
    body = json_object()
    if "verifiableCredential" not in body:
        raise InvalidJson("the body must hold `verifiableCredential`", code="missing_credential")
    report = services().verify_credential(body["verifiableCredential"])
    return jsonify(report.to_dict())
