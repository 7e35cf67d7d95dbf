"""Reading untrusted request bodies: media type, size cap, strict JSON, objects only."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from did_service.core import strict_json
from did_service.errors import InvalidJson, PayloadTooLarge, UnsupportedMediaType

JSON_MEDIA_TYPES = ("application/json", "application/ld+json")


def json_object() -> dict[str, Any]:
    if request.mimetype not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType("send the body as application/json")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body may be at most {limit} bytes")
    # Read in chunks up to the cap, so chunked bodies without a Content-Length are bounded too.
    chunks, size = [], 0
    while chunk := request.stream.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body may be at most {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        value = strict_json.loads(body)
    except strict_json.StrictJsonError as exc:
        raise InvalidJson(f"the body is not acceptable JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidJson("the body must be a JSON object")
    return value
