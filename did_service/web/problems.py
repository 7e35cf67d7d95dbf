"""RFC 9457 problem documents for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from did_service.errors import DidServiceError, RateLimited, SchemaViolation, StoreUnavailable

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://did-service.dev/problems/"

# Werkzeug's own errors (routing, size limits) get the same stable codes as ours.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def problem(status: int, code: str, title: str, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _from_service_error(exc: DidServiceError) -> Response:
    extra: dict[str, Any] = {}
    if isinstance(exc, SchemaViolation) and exc.errors:
        extra["errors"] = exc.errors
    if exc.status >= 500 and not isinstance(exc, StoreUnavailable):
        log.error("server error %s", exc.code, exc_info=exc)
    response = problem(exc.status, exc.code, exc.title, exc.detail, **extra)
    if isinstance(exc, StoreUnavailable):
        response.headers["Retry-After"] = "5"
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="did_service"'
    return response


def _from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    response = problem(status, code, exc.name, exc.description)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _from_unexpected(exc: Exception) -> Response:
    # The traceback goes to the log (it holds no request body); the caller gets no internals.
    log.error("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "Internal error")


def init_app(app: Flask) -> None:
    app.register_error_handler(DidServiceError, _from_service_error)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(Exception, _from_unexpected)
