"""detectors/text is pure: the core, River, the segmenter and the standard library, no I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3] / "detectors" / "text"
ALLOWED = {"sqm", "detectors", "river", "rjieba", "__future__"}
IO = {"os", "io", "socket", "subprocess", "pathlib", "open", "redis", "httpx", "shutil", "tempfile"}


def test_imports_of_detectors_text():
    for path in sorted(ROOT.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED or (top in sys.stdlib_module_names and top not in IO), f"{path.name}: {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{path.name}: open()"
