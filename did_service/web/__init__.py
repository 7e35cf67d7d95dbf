"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from did_service.config import Settings
from did_service.services.container import Services, build_services
from did_service.web import admin_api, log_api, problems, status_api, type_metadata_api, vc_api, verifier_api, wellknown


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__, template_folder=str(settings.templates_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["did_service"] = services or build_services(settings)
    problems.init_app(app)
    app.register_blueprint(vc_api.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(log_api.bp)
    app.register_blueprint(status_api.bp)
    app.register_blueprint(type_metadata_api.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(verifier_api.bp)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        return response

    return app
