"""A spec file as parsed, and where in it a problem is: file, line, column and field path.

Lines are found only when a problem needs one: the composed YAML of a file is made the first time
a problem in it is located, and a file that came from the cache is parsed only if a check across
files names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from xenctl.errors import SpecIssue, one_line
from xenctl.spec import yamlfile
from xenctl.spec.model import Origin, PathPart


@dataclass
class SpecFile:
    """One spec file, parsed; not frozen: its YAML tree is composed the first time a problem needs a line."""

    path: str
    text: str
    data: dict[str, Any]
    tree: Any = None  # the composed YAML, made once, the first time a problem needs a line

    def locate(self, path: tuple[PathPart, ...], *, key: bool = False) -> tuple[int, int] | None:
        if self.tree is None:
            self.tree = yamlfile.compose(self.text) or False
        return yamlfile.locate(self.tree or None, path, key=key)


class Locator:
    """Turns an Origin into file, line, column and a readable field path."""

    def __init__(self) -> None:
        self.files: dict[str, SpecFile] = {}
        self.texts: dict[str, str] = {}  # files that came from the cache, parsed only if needed

    def file(self, name: str) -> SpecFile | None:
        if name not in self.files and name in self.texts:
            self.files[name] = SpecFile(name, self.texts[name], yamlfile.parse(self.texts[name]) or {})
        return self.files.get(name)

    def issue(
        self, origin: Origin, message: str, *, point_at: tuple[PathPart, ...] | None = None, at_key: bool = False
    ) -> SpecIssue:
        message = _PLACE_RE.sub(self._place, message)
        spec = self.file(origin.file)
        if spec is None:
            return SpecIssue(origin.file, None, None, render_path(None, origin.path), message)
        path = point_at if point_at is not None else origin.path
        where = spec.locate(path, key=at_key)
        line, column = where if where else (None, None)
        return SpecIssue(origin.file, line, column, render_path(spec.data, path), message)

    def _place(self, match: re.Match[str]) -> str:
        file, raw = match.group(1), match.group(2)
        path = tuple(int(p) if p.isdigit() else p for p in raw.split("/") if p)
        spec = self.file(file)
        where = spec.locate(path) if spec else None
        return f"{file}:{where[0]}" if where else file


_PLACE_RE = re.compile(r"\{at:([^|}]*)\|([^}]*)\}")


def render_path(data: Any, path: Iterable[PathPart]) -> str:
    """``domains[web1].memory``: list items by their name where they have one, else by index."""
    text = ""
    node = data
    for part in path:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = None
            if isinstance(item, dict):
                label = item.get("name") or item.get("domain") or item.get("vdev")
            text += f"[{one_line(label)}]" if isinstance(label, str) and label else f"[{part}]"
            node = item
        else:
            text += f".{one_line(part)}" if text else one_line(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


def parse_file(path: str, text: str, issues: list[SpecIssue]) -> SpecFile | None:
    try:
        data = yamlfile.parse(text)
    except yamlfile.YamlProblem as problem:
        issues.append(SpecIssue(path, problem.line, problem.column, "", problem.message))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false"}.get(
            type(data), "a value"
        )
        issues.append(
            SpecIssue(path, 1, 1, "", f"a spec file is a mapping with domains, storage or autostart; this is {kind}")
        )
        return None
    return SpecFile(path, text, data)
