"""SD-JWT VC type metadata: at the vct URL itself and at its well-known location."""

from __future__ import annotations

from flask import Blueprint, jsonify

from did_service.core.type_metadata import type_metadata
from did_service.errors import NotFound
from did_service.web.extensions import services

bp = Blueprint("type_metadata", __name__)


@bp.get("/vct/<type_name>")
@bp.get("/.well-known/vct/vct/<type_name>")
def vct(type_name: str):
    svc = services()
    if type_name not in svc.registry.names():
        raise NotFound("no credential type with this name", code="unknown_credential_type")
    response = jsonify(type_metadata(svc.registry, type_name, svc.settings.public_url))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
