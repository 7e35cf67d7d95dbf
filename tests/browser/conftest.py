"""Playwright driving the system Chromium (Debian package ``chromium``) against a real ``did-service serve``.

No browser is downloaded: ``playwright install`` is never run. A missing Chromium (or Playwright) fails the run
on CI (CI=true) and skips these tests elsewhere. Screenshots go to a folder under pytest's temporary directory
and are copied to ``test-artifacts/screenshots/`` at the repository root (gitignored) for a human to look at.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import DID_SERVICE, wait_ready
from tests.support import TESTS_DIR, free_port

ROOT = TESTS_DIR.parent
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}

# Runs before any page script (injected over CDP, so the page's CSP does not apply to it).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing("chromium is not installed (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def portal_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the served instance: CLI commands run with it act on the same instance."""
    folder = tmp_path_factory.mktemp("portal")
    env = {**os.environ, "DID_SERVICE_INSTANCE_DIR": str(folder / "instance"),
           "DID_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{free_port()}"}
    env.pop("DID_SERVICE_STORE_URL", None)
    return env


@pytest.fixture(scope="session")
def import_residents(portal_url: str, portal_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """Import a registry CSV into the served instance with the CLI, as an operator does; the letters' rows."""

    def run(registry: str) -> list[dict]:
        work = tmp_path_factory.mktemp("letters")
        (work / "registry.csv").write_text(registry, encoding="utf-8")
        result = subprocess.run([DID_SERVICE, "residents", "import", "registry.csv", "--codes", "letters.csv"],
                                cwd=work, env=portal_env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        with (work / "letters.csv").open(encoding="utf-8") as f:
            return list(csv.DictReader(f))

    return run


@pytest.fixture(scope="session")
def portal_url(portal_env: dict[str, str]) -> Iterator[str]:
    """A real ``did-service serve`` (gunicorn, SQLite) shared by the browser tests, as in tests/e2e."""
    base = portal_env["DID_SERVICE_PUBLIC_URL"]
    port = int(base.rsplit(":", 1)[1])
    folder = Path(portal_env["DID_SERVICE_INSTANCE_DIR"]).parent
    env = portal_env
    process = subprocess.Popen(
        [DID_SERVICE, "serve", "--port", str(port), "--workers", "2"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_ready(f"{base}/readyz", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()


@dataclass
class Watched:
    """A page and everything that went wrong on it: console errors, page errors, failed or >= 400 responses."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")

    def assert_clean(self) -> None:
        assert self.console_errors == []
        assert self.page_errors == []
        assert self.bad_responses == []
        assert self.csp_violations() == []


@pytest.fixture
def open_page(browser, portal_url: str) -> Iterator[Callable[..., Watched]]:
    """Open a path in a fresh browser context (its own cookies) with a viewport and a browser language."""
    contexts = []

    def open_(path: str = "/", *, viewport: dict = DESKTOP, locale: str = "ko-KR") -> Watched:
        context = browser.new_context(viewport=viewport, locale=locale, base_url=portal_url)
        contexts.append(context)
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        watched = Watched(page)
        page.on("console", lambda m: m.type == "error" and watched.console_errors.append(m.text))
        page.on("pageerror", lambda e: watched.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: watched.bad_responses.append(f"{r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and watched.bad_responses.append(f"{r.url} {r.status}"))
        page.goto(path)
        return watched

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[object, str], Path]:
    """Save a full-page PNG under pytest's tmp dir and copy it to test-artifacts/screenshots/."""

    def take(page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, ARTIFACTS / path.name)
        return path

    return take
