"""The portal's public HTML pages (Korean and English), and HTML error pages for browsers.

API paths keep their RFC 9457 problem documents; only a request that prefers text/html and is outside the
API gets an HTML error page.
"""

from __future__ import annotations

import base64
import logging
from datetime import timezone

from flask import Blueprint, Flask, render_template, request
from werkzeug.exceptions import HTTPException

from did_service.errors import DidServiceError
from did_service.web import problems
from did_service.web.extensions import services

log = logging.getLogger(__name__)
bp = Blueprint("portal", __name__)

API_PREFIXES = (
    "/credentials", "/presentations", "/verifier", "/oid4vp", "/admin/v1", "/log/v1", "/status", "/vct", "/wallet/api",
    "/.well-known",
)


@bp.get("/")
def index():
    return render_template("portal/index.html", issuer_did=services().issuer_did)


@bp.get("/log")
def log_page():
    svc = services()
    latest = svc.log.checkpoint()
    return render_template(
        "portal/log.html",
        size=latest.size,
        origin=latest.note.split("\n", 1)[0],
        root_hash=base64.b64encode(latest.root_hash).decode("ascii"),
        published=latest.created_at.astimezone(timezone.utc),
        public_url=svc.settings.public_url,
    )


def is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


def wants_html() -> bool:
    """True for a browser's page request off the API: text/html ranks above JSON (``*/*`` alone means JSON)."""
    accept = request.accept_mimetypes
    return not is_api_path(request.path) and accept["text/html"] > accept["application/json"]


def _html_or(problem_handler):
    """Wrap a problem-document handler: it still runs (logging, Allow, Retry-After...), and a browser gets its
    status and headers with an HTML page instead of the JSON body."""
    def handler(exc):
        response = problem_handler(exc)
        if wants_html():
            try:
                page = render_template("errors/error.html", status=response.status_code)
            except Exception:  # the page failed too: the problem document still answers
                log.exception("the HTML error page could not be rendered")
                return response
            response.set_data(page)
            response.mimetype = "text/html"
        return response
    return handler


def init_app(app: Flask) -> None:
    """Call after problems.init_app: these handlers wrap the problem-document ones."""
    app.register_blueprint(bp)
    app.register_error_handler(DidServiceError, _html_or(problems._from_service_error))
    app.register_error_handler(HTTPException, _html_or(problems._from_http_exception))
    app.register_error_handler(Exception, _html_or(problems._from_unexpected))
