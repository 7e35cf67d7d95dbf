"""The transparency log over HTTP, shaped like RFC 6962 section 4 (JSON, base64 hashes) plus C2SP checkpoints.

Every read publishes what was appended first (TransparencyLog.checkpoint), and proofs are served only for
tree sizes some signed checkpoint covers.
"""

from __future__ import annotations

import base64
import binascii
import re

from flask import Blueprint, Response, jsonify, request

from did_service.core.tlog import HASH_SIZE
from did_service.errors import BadRequest, NotFound
from did_service.web.extensions import services

bp = Blueprint("log_api", __name__, url_prefix="/log/v1")

MAX_ENTRIES = 1000
MAX_CHECKPOINTS = 1000
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _int_param(name: str, *, default: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            raise BadRequest(f"query parameter `{name}` is required", code="invalid_parameter")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise BadRequest(f"`{name}` must be a non-negative decimal integer", code="invalid_parameter")
    return int(raw)


def _published_size() -> int:
    return services().log.checkpoint().size


@bp.get("/checkpoint")
def checkpoint():
    return Response(services().log.checkpoint().note, mimetype="text/plain")


@bp.get("/key")
def key():
    return Response(services().log.identity.vkey + "\n", mimetype="text/plain")


@bp.get("/get-sth")
def get_sth():
    latest = services().log.checkpoint()
    return jsonify(
        {
            "tree_size": latest.size,
            "timestamp": int(latest.created_at.timestamp() * 1000),
            "sha256_root_hash": _b64(latest.root_hash),
            "checkpoint": latest.note,
        }
    )


@bp.get("/checkpoints")
def checkpoints():
    """Every signed checkpoint after `after` (a tree size), ascending: what an auditor replays."""
    services().log.checkpoint()
    after = _int_param("after", default=0) if "after" in request.args else -1
    limit = min(_int_param("limit", default=MAX_CHECKPOINTS), MAX_CHECKPOINTS)
    records = services().store.list_checkpoints(after_size=after, limit=max(limit, 1))
    return jsonify({"checkpoints": [{"tree_size": r.size, "checkpoint": r.note} for r in records]})


@bp.get("/get-sth-consistency")
def get_sth_consistency():
    first, second = _int_param("first"), _int_param("second")
    if first > second or not second <= _published_size():
        raise BadRequest("need first <= second <= the published tree size", code="invalid_parameter")
    return jsonify({"consistency": [_b64(h) for h in services().log.consistency_path(first, second)]})


@bp.get("/get-proof-by-hash")
def get_proof_by_hash():
    raw = request.args.get("hash", "")
    try:
        leaf_hash = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        leaf_hash = b""
    if len(leaf_hash) != HASH_SIZE:
        raise BadRequest("`hash` must be a base64 SHA-256 leaf hash", code="invalid_parameter")
    tree_size = _int_param("tree_size")
    if tree_size == 0:
        raise BadRequest("`tree_size` must be a published tree size", code="invalid_parameter")
    index = services().store.find_leaf_index(leaf_hash)
    if index is None:
        raise NotFound("no such leaf", code="leaf_not_found")
    if not 0 < tree_size <= _published_size():
        raise BadRequest("`tree_size` must be a published tree size", code="invalid_parameter")
    if index >= tree_size:
        raise NotFound("no such leaf in a tree of that size", code="leaf_not_found")
    return jsonify({"leaf_index": index, "audit_path": [_b64(h) for h in services().log.inclusion_path(index, tree_size)]})


@bp.get("/get-entry-and-proof")
def get_entry_and_proof():
    index, tree_size = _int_param("leaf_index"), _int_param("tree_size")
    if index >= tree_size or tree_size > _published_size():
        raise BadRequest("need leaf_index < tree_size <= the published tree size", code="invalid_parameter")
    (leaf,) = services().store.read_leaves(index, index + 1)
    path = services().log.inclusion_path(index, tree_size)
    return jsonify({"leaf_input": _b64(leaf.entry), "audit_path": [_b64(h) for h in path]})


@bp.get("/get-entries")
def get_entries():
    """RFC 6962 4.6: `end` is inclusive; at most MAX_ENTRIES come back, the client asks again for the rest."""
    start, end = _int_param("start"), _int_param("end")
    if start > end:
        raise BadRequest("need start <= end", code="invalid_parameter")
    size = _published_size()
    if start >= size:
        raise BadRequest("need start <= end and start below the published tree size", code="invalid_parameter")
    end = min(end, size - 1, start + MAX_ENTRIES - 1)
    leaves = services().store.read_leaves(start, end + 1)
    return jsonify({"entries": [{"leaf_index": leaf.index, "leaf_input": _b64(leaf.entry)} for leaf in leaves]})


@bp.get("/receipt/<digest>")
def receipt(digest: str):
    if not _DIGEST.fullmatch(digest):
        raise BadRequest("the credential digest is 64 lowercase hex characters", code="invalid_parameter")
    return jsonify(services().log.receipt(digest).to_json())
