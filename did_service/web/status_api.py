"""Bitstring Status Lists: the signed list credentials, and the history of one position with log receipts."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from did_service.core import tlog
from did_service.core.tlog.entries import format_time
from did_service.core.tlog.receipt import Receipt
from did_service.errors import BadRequest
from did_service.web.extensions import services

bp = Blueprint("status_api", __name__, url_prefix="/status")

_LIST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _list_id(list_id: str) -> str:
    if not _LIST_ID.fullmatch(list_id):
        raise BadRequest("malformed status list id", code="invalid_parameter")
    return list_id


@bp.get("/<list_id>")
def status_list(list_id: str):
    svc = services().status
    published = svc.published(_list_id(list_id))
    if request.if_none_match.contains(published.etag):
        response = Response(status=304)
    else:
        response = Response(published.token, mimetype="application/vc+jwt")
    response.set_etag(published.etag)
    response.headers["Cache-Control"] = f"public, max-age={svc.max_age}"
    return response


@bp.get("/<list_id>/history/<index>")
def history(list_id: str, index: str):
    """Every status change of one position, each with a receipt, so a relying party can show the status at a time."""
    if not index.isascii() or not index.isdigit() or len(index) > 9:
        raise BadRequest("the index is a non-negative decimal integer", code="invalid_parameter")
    svc = services()
    leaf_indexes = svc.status.history(_list_id(list_id), int(index))
    checkpoint = svc.log.checkpoint()
    changes = []
    for leaf_index in leaf_indexes:
        if leaf_index >= checkpoint.size:
            continue  # appended but not yet published: no receipt can exist for it yet
        (leaf,) = svc.store.read_leaves(leaf_index, leaf_index + 1)
        entry = tlog.decode_entry(leaf.entry)
        receipt = Receipt(leaf_index, leaf.entry, checkpoint.note, tuple(svc.log.inclusion_path(leaf_index, checkpoint.size)))
        changes.append({"value": entry.value, "purpose": entry.purpose, "time": format_time(entry.time),
                        "receipt": receipt.to_json()})
    return jsonify({"statusListCredential": svc.status.list_url(list_id), "statusListIndex": index, "changes": changes})
