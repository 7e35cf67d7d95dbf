from __future__ import annotations

import pytest

from did_service.clock import utcnow
from did_service.services import tokens
from did_service.services.container import build_services
from did_service.web import create_app
from tests.support import make_settings


@pytest.fixture
def services(tmp_path):
    svc = build_services(make_settings(tmp_path / "instance"))
    yield svc
    svc.store.close()


@pytest.fixture
def app(services):
    return create_app(services=services)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def issuer_token(services):
    token, _ = tokens.create_token(services.store, "issuer", utcnow())
    return token


@pytest.fixture
def auth(issuer_token):
    return {"Authorization": f"Bearer {issuer_token}"}
