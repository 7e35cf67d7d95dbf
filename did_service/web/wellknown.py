"""Public documents: the issuer's DID document, and health probes."""

from __future__ import annotations

from flask import Blueprint, jsonify

from did_service.errors import LogHalted
from did_service.web.extensions import services

bp = Blueprint("wellknown", __name__)


@bp.get("/.well-known/did.json")
def did_document():
    response = jsonify(services().did_document)
    response.mimetype = "application/did+json"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    store = services().store
    store.ping()
    halted = store.log_halted()
    if halted:
        raise LogHalted(halted)
    return jsonify({"status": "ready"})
