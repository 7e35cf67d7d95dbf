"""A built wheel carries the whole package, the top-level schemas/ and templates/, and the JSON-LD contexts."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from did_service import config
from tests.support import TESTS_DIR

ROOT = TESTS_DIR.parent


def test_wheel_carries_package_schemas_and_templates(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("did_service-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"did_service/{p.relative_to(ROOT / 'did_service')}" for p in (ROOT / "did_service").rglob("*.py")}
    expected |= {f"did_service/contexts/{p.name}" for p in (ROOT / "did_service" / "contexts").glob("*.json*")}
    for folder in ("schemas", "templates"):
        expected |= {
            f"did_service/{folder}/{p.relative_to(ROOT / folder)}" for p in (ROOT / folder).rglob("*") if p.is_file()
        }
    assert expected - names == set()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "did-service = did_service.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_layout_is_preferred(tmp_path, monkeypatch):
    package = tmp_path / "site" / "did_service"
    (package / "schemas").mkdir(parents=True)
    monkeypatch.setattr(config, "_PACKAGE_DIR", package)
    assert config._resource_dir("schemas") == package / "schemas"
    (tmp_path / "site" / "templates").mkdir()
    assert config._resource_dir("templates") == tmp_path / "site" / "templates"
