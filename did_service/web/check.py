"""The public certificate check page: paste or upload a credential and read a verdict with every check.

For anyone an applicant hands a certificate to (an employer, a university, an embassy). The credential is
verified under the certificate policy, and a notarized document's file, when given, must be the one notarized
(its SHA-256 is compared, the file is not kept). Nothing submitted is stored or logged; the page shows the
credential's type and issuer and the checks, not the person's claims.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from did_service.core import strict_json
from did_service.web.accounts import csrf_ok, csrf_refused
from did_service.web.extensions import services

bp = Blueprint("check", __name__)

MAX_CREDENTIAL_BYTES = 256 * 1024
MAX_DOCUMENT_BYTES = 512 * 1024


@bp.get("/check")
def check_form():
    return render_template("portal/check.html", errors=[], result=None)


@bp.post("/check")
def check():
    if not csrf_ok():
        return csrf_refused()
    errors: list[str] = []
    text = request.form.get("credential", "")
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_CREDENTIAL_BYTES + 1)
        if len(data) > MAX_CREDENTIAL_BYTES:
            errors.append("too_large")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                errors.append("unreadable")
    document = None
    attached = request.files.get("document")
    if attached is not None and attached.filename:
        document = attached.stream.read(MAX_DOCUMENT_BYTES + 1)
        if len(document) > MAX_DOCUMENT_BYTES:
            errors.append("document_too_large")
    text = text.strip()
    if not errors and not text:
        errors.append("missing")
    if not errors and len(text) > MAX_CREDENTIAL_BYTES:
        errors.append("too_large")
    value: object = text
    if not errors and text.startswith("{"):
        try:
            value = strict_json.loads(text)
        except strict_json.StrictJsonError:
            errors.append("unreadable")
        else:
            if isinstance(value, dict) and "verifiableCredential" in value:
                value = value["verifiableCredential"]
    if errors:
        return render_template("portal/check.html", errors=errors, result=None), 400
    report, decision = services().verify_certificate(value, document)
    credential = report.to_dict()
    return render_template("portal/check.html", errors=[], result={
        "approved": decision.approved,
        "checks": [*credential["checks"], *[c.to_dict() for c in decision.checks]],
        "document_checked": document is not None,
    })
