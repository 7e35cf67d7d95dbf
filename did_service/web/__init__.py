"""The Flask application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from did_service.config import Settings
from did_service.services.container import Services, build_services
from did_service.web import admin_api, log_api, problems, status_api, type_metadata_api, vc_api, verifier_api, wellknown
from did_service.web import accounts, check, demo_bank, i18n, portal, wallet_api

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# HTML pages load their own CSS and scripts only; nothing inline, no frames, forms post back here.
HTML_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__, template_folder=str(settings.templates_dir), static_folder=str(STATIC_DIR))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["did_service"] = services or build_services(settings)
    problems.init_app(app)
    https = settings.public_url.startswith("https://")
    i18n.init_app(app, https=https)
    app.register_blueprint(vc_api.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(log_api.bp)
    app.register_blueprint(status_api.bp)
    app.register_blueprint(type_metadata_api.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(verifier_api.bp)
    accounts.init_app(app)
    app.register_blueprint(wallet_api.bp)
    app.register_blueprint(check.bp)
    app.register_blueprint(demo_bank.bp)
    portal.init_app(app)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        html = response.mimetype == "text/html"
        response.headers.setdefault("Content-Security-Policy", HTML_CSP if html else API_CSP)
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if html:
            response.vary.update(("Accept-Language", "Cookie"))
        return response

    return app
