"""Per-app state lives in app.extensions; blueprints reach it through these helpers."""

from __future__ import annotations

from functools import wraps
from typing import Callable, TypeVar

from flask import current_app, g, request

from did_service.services.container import Services
from did_service.services.tokens import authenticate

F = TypeVar("F", bound=Callable)


def services() -> Services:
    return current_app.extensions["did_service"]


def require_role(role: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            g.token = authenticate(services().store, request.headers.get("Authorization"), role)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
