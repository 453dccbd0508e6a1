"""The layering of DESIGN.md holds: the engine imports nothing of xenctl but errors, units and collector."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "xenctl"

# For each layer, the xenctl modules it may import (by prefix).
ALLOWED = {
    "engine": ("xenctl.engine", "xenctl.errors", "xenctl.units", "xenctl.collector"),
    "spec": ("xenctl.spec", "xenctl.errors", "xenctl.units", "xenctl.collector"),
    "xmconfig": (
        "xenctl.xmconfig",
        "xenctl.spec",
        "xenctl.engine.api",
        "xenctl.engine.devices",
        "xenctl.errors",
        "xenctl.units",
        "xenctl.collector",
    ),
    "reconcile": (
        "xenctl.reconcile",
        "xenctl.spec",
        "xenctl.engine.api",
        "xenctl.engine.devices",
        "xenctl.xmconfig",
        "xenctl.errors",
        "xenctl.units",
        "xenctl.collector",
    ),
    "autostart": (
        "xenctl.autostart",
        "xenctl.reconcile",
        "xenctl.spec",
        "xenctl.engine.api",
        "xenctl.engine.devices",
        "xenctl.xmconfig",
        "xenctl.errors",
        "xenctl.units",
        "xenctl.collector",
    ),
    "errors.py": (),
    "units.py": (),
    "collector.py": (),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "xenctl" or name.startswith("xenctl.")}


def test_each_layer_imports_only_what_it_may() -> None:
    broken = []
    for layer, allowed in ALLOWED.items():
        target = PACKAGE / layer
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for path in files:
            for name in _imports(path):
                if name == "xenctl":
                    continue  # the package itself: its version, nothing else
                if not any(name == a or name.startswith(a + ".") for a in allowed):
                    broken.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert broken == []


def test_the_engine_layer_exists_and_is_checked() -> None:
    assert list((PACKAGE / "engine").rglob("*.py")), "the layering test would check nothing"
