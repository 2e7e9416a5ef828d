"""Imports point one way, as docs/architecture.md draws them.

sqm core → nothing of ours; detectors, alerts → core; streams → core, detectors;
api → core, alerts; only sqm/cli.py (and sqm/__main__.py) import everything.
"""

import ast
from pathlib import Path

import pytest

OURS = {"sqm", "streams", "detectors", "alerts", "api", "dashboards"}
ALLOWED = {
    "sqm": {"sqm"},
    "detectors": {"sqm", "detectors"},
    "alerts": {"sqm", "alerts"},
    "streams": {"sqm", "detectors", "streams"},
    "api": {"sqm", "alerts", "api"},
    "dashboards": set(),
}
COMPOSITION_ROOT = {Path("sqm/cli.py"), Path("sqm/__main__.py")}
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


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    bad = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel in COMPOSITION_ROOT:
            continue
        wrong = imported_packages(path) - ALLOWED[package]
        if wrong:
            bad[str(rel)] = sorted(wrong)
    assert not bad, f"imports against the layering: {bad}"


def test_the_checker_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom api.app import create_app\ndef f():\n    import streams.flow\n")
    assert imported_packages(sample) == {"api", "streams"}
