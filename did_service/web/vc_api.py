"""W3C VC API: issue and verify credentials."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, jsonify

from did_service.errors import InvalidJson, Unprocessable
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
    response = jsonify({"verifiableCredential": issued.verifiable_credential, "leafIndex": issued.leaf_index})
    response.status_code = 201
    return response


@bp.post("/credentials/verify")
def verify():
    """W3C VC API verify; with `options.policy: "certificate"` also a decision under the certificate policy.

    `options.document` (base64) is the file a notarized document credential certifies: its SHA-256 must be the
    credential's document digest. The document is hashed and dropped, never stored.
    """
    body = json_object()
    if "verifiableCredential" not in body:
        raise InvalidJson("the body must hold `verifiableCredential`", code="missing_credential")
    options = body.get("options", {})
    if not isinstance(options, dict) or set(options) - {"policy", "document"}:
        raise Unprocessable("`options` may hold `policy` and `document`", code="invalid_options")
    if "policy" not in options:
        if "document" in options:
            raise Unprocessable("`options.document` needs `options.policy: certificate`", code="invalid_options")
        return jsonify(services().verify_credential(body["verifiableCredential"]).to_dict())
    if options["policy"] != "certificate":
        raise Unprocessable("`options.policy` must be `certificate` here", code="unsupported_policy")
    document = _document_bytes(options.get("document"))
    report, decision = services().verify_certificate(body["verifiableCredential"], document)
    return jsonify({**report.to_dict(), "decision": decision.to_dict()})


def _document_bytes(value: object) -> bytes | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise Unprocessable("`options.document` must be base64", code="invalid_document") from exc


MAX_CHALLENGE = 512


@bp.post("/presentations/verify")
def verify_presentation():
    """W3C VC API: {verifiablePresentation, options: {challenge, domain}}; both options are required.

    The challenge (nonce) and domain (audience) are the verifier's own: without them a presentation could be
    replayed from anywhere, so a request without them is refused rather than verified weakly.
    """
    body = json_object()
    if "verifiablePresentation" not in body:
        raise InvalidJson("the body must hold `verifiablePresentation`", code="missing_presentation")
    if set(body) - {"verifiablePresentation", "options"}:
        raise Unprocessable("the body holds `verifiablePresentation` and `options` only", code="unsupported_request_field")
    options = body.get("options")
    if not isinstance(options, dict) or set(options) - {"challenge", "domain", "policy", "document"}:
        raise Unprocessable("`options` must be {challenge, domain, policy?, document?}", code="invalid_options")
    challenge, domain = options.get("challenge"), options.get("domain")
    for name, value in (("challenge", challenge), ("domain", domain)):
        if not isinstance(value, str) or not value or len(value) > MAX_CHALLENGE:
            raise Unprocessable(f"`options.{name}` is required: a string of 1 to {MAX_CHALLENGE} characters",
                                code=f"missing_{name}")
    if "policy" not in options:
        if "document" in options:
            raise Unprocessable("`options.document` needs `options.policy: certificate`", code="invalid_options")
        result = services().verify_presentation(body["verifiablePresentation"], challenge=challenge, domain=domain)
        return jsonify(result.to_dict())
    if options["policy"] != "certificate":
        raise Unprocessable("`options.policy` must be `certificate` here; account opening runs through "
                            "/verifier/v1/requests", code="unsupported_policy")
    result, decision = services().verify_presentation_certificate(
        body["verifiablePresentation"], challenge=challenge, domain=domain,
        document=_document_bytes(options.get("document")))
    return jsonify({**result.to_dict(), "decision": decision.to_dict()})


_STATUSES = ("revoked", "suspended", "active")


@bp.post("/credentials/status")
@require_role("issuer")
def update_status():
    """W3C VC API status update: {credentialId, credentialStatus: [{type, status}]}."""
    body = json_object()
    credential_id = body.get("credentialId")
    changes = body.get("credentialStatus")
    if set(body) - {"credentialId", "credentialStatus"} or not isinstance(credential_id, str) or len(credential_id) > 2048:
        raise Unprocessable("the body holds `credentialId` (a string) and `credentialStatus`", code="invalid_status_request")
    if not isinstance(changes, list) or not 1 <= len(changes) <= 2:
        raise Unprocessable("`credentialStatus` is a list of one or two changes", code="invalid_status_request")
    statuses = []
    for change in changes:
        if (not isinstance(change, dict) or set(change) - {"type", "status"}
                or change.get("type") not in ("BitstringStatusListCredential", "BitstringStatusListEntry")
                or change.get("status") not in _STATUSES):
            raise Unprocessable("each change is {type: BitstringStatusListCredential, status: revoked|suspended|active}",
                                code="invalid_status_request")
        statuses.append(change["status"])
    return jsonify({"credentialId": credential_id, "results": services().status.update(credential_id, statuses)})
