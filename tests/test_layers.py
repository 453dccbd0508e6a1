"""The layering written in README.md's "Layers" table holds for every import in the package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xenctl"
BASE = ("errors", "units", "collector", "filenames")


def written_layers() -> dict[str, tuple[str, ...]]:
    """README's table: each layer and the xenctl modules (by prefix) it may import."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Layers", 1)[1]
    layers: dict[str, tuple[str, ...]] = {}
    for row in re.findall(r"^\| (.+?) \| (.+?) \|$", section, flags=re.M):
        layer, allowed = row
        if layer in ("layer", "---"):
            continue
        names = [n.strip() for n in allowed.split(",")]
        prefixes: list[str] = []
        for name in names:
            if name == "base":
                prefixes += [f"xenctl.{b}" for b in BASE]
            elif name != "nothing of xenctl":
                prefixes.append(f"xenctl.{name}")
        if layer.startswith("base"):
            for module in BASE:
                layers[f"{module}.py"] = tuple(prefixes)
        else:
            name = layer.strip("`")
            layers[name] = (f"xenctl.{name}", *prefixes)
    return layers


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "xenctl" or name.startswith("xenctl.")}


def test_each_layer_imports_only_what_the_readme_says_it_may() -> None:
    broken = []
    for layer, allowed in written_layers().items():
        target = PACKAGE / layer
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        assert files, f"README names a layer {layer} that is not in the package"
        for path in files:
            for name in _imports(path):
                if name == "xenctl":
                    continue  # the package itself: its version, nothing else
                if not any(name == a or name.startswith(a + ".") for a in allowed):
                    broken.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert broken == []


def test_every_part_of_the_package_is_in_a_layer() -> None:
    layers = written_layers()
    parts = {p.name for p in PACKAGE.iterdir() if (p.is_dir() and p.name != "__pycache__") or p.suffix == ".py"}
    unlisted = parts - set(layers) - {"__init__.py", "__main__.py"}
    assert unlisted == set(), f"in no row of README's Layers table: {sorted(unlisted)}"


def test_the_engine_may_import_only_the_base() -> None:
    assert written_layers()["engine"] == ("xenctl.engine", *(f"xenctl.{b}" for b in BASE))
