"""Run the app under gunicorn with sync workers.

Sync (process) workers: pyld keeps process-wide caches that are not thread-safe (design.md section 8), and each
worker opens its own store connections after the fork.
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from did_service.config import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        from did_service.web import create_app

        return create_app(self._settings)


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        # Paths and status only: query strings and headers may carry tokens or personal data.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
        "preload_app": False,
    }
    _Gunicorn(settings, options).run()
