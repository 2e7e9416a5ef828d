"""Imports point one way, as docs/architecture.md draws them.

sqm core → nothing of ours; detectors, alerts, sim → core; streams → core, detectors;
api → core, alerts, improve; improve → core; sqm_cli (the ``sqm`` command) → everything, and nothing imports it.
"""

import ast
from pathlib import Path

import pytest

OURS = {"sqm", "sqm_cli", "sim", "streams", "detectors", "alerts", "api", "improve", "dashboards", "tools"}
ALLOWED = {
    "sqm": {"sqm"},
    "detectors": {"sqm", "detectors"},
    "alerts": {"sqm", "alerts"},
    "sim": {"sqm", "sim"},
    "streams": {"sqm", "detectors", "streams"},
    "improve": {"sqm", "improve"},
    "api": {"sqm", "alerts", "improve", "api"},
    "dashboards": set(),
    "sqm_cli": OURS - {"tools"},
}
ROOT = Path(__file__).resolve().parents[1]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


def _violations(package: str, allowed: set[str]) -> dict[str, list[str]]:
    bad = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = imported_packages(path) - allowed
        if wrong:
            bad[str(path.relative_to(ROOT))] = sorted(wrong)
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    assert not _violations(package, ALLOWED[package]), "imports against the layering"


@pytest.mark.parametrize("folder", ["tests", "bench", "tools"])
def test_nothing_imports_the_command_but_its_tests(folder):
    users = {rel for rel, pkgs in _violations(folder, OURS - {"sqm_cli"}).items() if "sqm_cli" in pkgs}
    allowed = {"tests/sqm_cli/test_cli.py", "tests/test_deploy.py"}
    assert users <= allowed, f"only the command's own tests may import sqm_cli: {sorted(users - allowed)}"


def test_every_product_package_is_checked():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "tools"}
    assert packages == set(ALLOWED)


def test_the_checker_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom api.app import create_app\ndef f():\n    import streams.flow\n")
    assert imported_packages(sample) == {"api", "streams"}
    bad = tmp_path / "sqm"
    bad.mkdir()
    (bad / "y.py").write_text("from alerts.engine import Engine\n")
    assert imported_packages(bad / "y.py") - ALLOWED["sqm"] == {"alerts"}
