"""The size standard: no module of the package over 400 lines, no function over 60 (tables aside)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "xenctl"
MAX_MODULE = 400
MAX_FUNCTION = 60
TABLES = {"xenctl/cli/main.py:_add_xm"}  # argparse tables: one line an option, long by nature


def test_no_module_is_over_400_lines() -> None:
    long = [
        f"{path.relative_to(PACKAGE.parent)}: {lines}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE
    ]
    assert long == []


def test_no_function_is_over_60_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text(), filename=name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and f"{name}:{node.name}" not in TABLES:
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION:
                    long.append(f"{name}:{node.lineno} {node.name}: {lines}")
    assert long == []
