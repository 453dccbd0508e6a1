"""Reading one spec file's YAML: fast when it is right, precise when it is wrong.

The traps of YAML 1.1 are closed. Plain scalars resolve by YAML 1.2's core schema only: ``no``,
``off`` and ``yes`` stay strings, ``1:30`` and an unquoted MAC stay strings, and a number with a
leading zero (``0755``) is refused with a request to quote it rather than read as octal or
decimal. Duplicate keys are refused. Anchors and aliases work (with ``<<`` merge keys, for
templates), but a file whose aliases expand past a limit (an "anchor bomb") is refused before it
is built. Files over 16 MiB and files that are not UTF-8 are refused at once.

Files are parsed with libyaml when PyYAML has it. Line numbers are not kept while parsing; when a
file has an error at a path, ``locate`` re-reads that one file and walks its nodes to the line.
PyYAML is imported when a file is first parsed: a plan whose specs all come from the spec cache
never pays for it.
"""

from __future__ import annotations

import functools
import os
import stat
from typing import TYPE_CHECKING, Any

from xenctl.collector import collector_paused
from xenctl.spec.model import PathPart
from xenctl.spec.yamlquick import (
    BOOL,
    FLOAT,
    INT,
    LEADING_ZERO,
    NULL,
    NUMERIC_START,
    Unusual,
    quick,
)

if TYPE_CHECKING:
    import yaml

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_EXPANDED_NODES = 1_000_000

_TAG_LEADING_ZERO = "tag:xenctl,2026:leading-zero"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCANNING = {
    "while scanning a quoted scalar": "this quoted string is never closed",
    "while scanning a simple key": "a key needs ': ' after it (a space after the colon)",
    "while scanning a block scalar": "this block of text (| or >) is not written right",
}


class YamlProblem(Exception):
    """A file that is not acceptable YAML: the message, and where (line and column, from 1)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@functools.cache
def _spec_loader() -> Any:
    """The loader class (made once, when a file is first parsed: it imports PyYAML)."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _SpecLoader(base):  # type: ignore[misc]
        """Safe loading with the YAML 1.2 core schema and no duplicate keys."""

        def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
            if kind is yaml.ScalarNode and implicit[0] and value is not None:
                # By the first character, most scalars (names, paths, sizes) are text at once.
                first = value[:1]
                if first in NUMERIC_START:
                    if LEADING_ZERO.match(value):
                        return _TAG_LEADING_ZERO
                    if INT.match(value):
                        return "tag:yaml.org,2002:int"
                    if FLOAT.match(value):
                        return "tag:yaml.org,2002:float"
                elif not first or first in "~nN":
                    if NULL.match(value):
                        return "tag:yaml.org,2002:null"
                elif first in "tTfF":
                    if BOOL.match(value):
                        return "tag:yaml.org,2002:bool"
                elif value == "<<":
                    return _MERGE
                return _STR
            return str(super().resolve(kind, value, implicit))

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, yaml.Node] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
                    raise yaml.constructor.ConstructorError(
                        None, None, f"a key must be text; quote it ('{shown}')", key_node.start_mark
                    )
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
            return dict(super().construct_mapping(node, deep=deep))

    _SpecLoader.flatten_mapping = _flatten_mapping
    _SpecLoader.add_constructor("tag:yaml.org,2002:bool", _construct_core_bool)
    _SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)
    _SpecLoader.add_constructor(_TAG_LEADING_ZERO, _refuse_leading_zero)
    return _SpecLoader


def needs_quotes(value: str) -> bool:
    """Whether a string would read back as something else (or be refused) if written plain."""
    return bool(
        NULL.match(value)
        or BOOL.match(value)
        or INT.match(value)
        or FLOAT.match(value)
        or LEADING_ZERO.match(value)
        or value == "<<"
        or value.lower() in ("yes", "no", "on", "off", "y", "n")
    )


def _flatten_mapping(loader: Any, node: yaml.MappingNode) -> None:
    """YAML's merge key: ``<<: *t`` or ``<<: [*a, *b]`` brings in the templates' keys; the
    mapping's own keys win, then the first template listed, then the next."""
    import yaml

    keys = [key for key, _value in node.value if key.tag == _MERGE]
    if len(keys) > 1:  # a key like any other: twice is refused (one key merges a list of templates)
        why = f"duplicate key '<<' (first at line {keys[0].start_mark.line + 1}); merge several with <<: [*a, *b]"
        raise yaml.constructor.ConstructorError(None, None, why, keys[1].start_mark)
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            own.append((key_node, value_node))
            continue
        templates = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for template in reversed(templates):  # later entries of the list go first, to be overridden
            if not isinstance(template, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"a merge (<<) takes a mapping or a list of mappings, not {template.id}",
                    template.start_mark,
                )
            _flatten_mapping(loader, template)
            merged.extend(template.value)
    node.value = merged + own


def _construct_core_bool(loader: Any, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_core_int(loader: Any, node: yaml.ScalarNode) -> int:
    import yaml

    text = str(loader.construct_scalar(node))
    if len(text) > 40:
        raise yaml.constructor.ConstructorError(
            None, None, "a number this long is not one a spec needs", node.start_mark
        )
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text)


def _refuse_leading_zero(loader: Any, node: yaml.ScalarNode) -> None:
    import yaml

    value = loader.construct_scalar(node)
    raise yaml.constructor.ConstructorError(
        None, None, f"{value} has a leading zero; quote it ('{value}') or write it without the zero", node.start_mark
    )


def read_text(path: str) -> str:
    """The file's text, refused when it is too large, unreadable, or not UTF-8."""
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            raise YamlProblem("not a regular file (a spec is a file of YAML text)")
        size = status.st_size
        if size > MAX_FILE_BYTES:
            raise YamlProblem(
                f"the file is {size / 1024 / 1024:.1f} MiB; spec files may be at most "
                f"{MAX_FILE_BYTES // 1024 // 1024} MiB (split it into several files)"
            )
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlProblem(f"cannot read the file: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlProblem(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})", line, column) from None


def parse(text: str) -> Any:
    """Parse one document; raises YamlProblem with a line for any syntax or construction error."""
    import yaml

    with collector_paused():
        try:
            return quick(text, MAX_EXPANDED_NODES)
        except (Unusual, yaml.YAMLError):
            pass  # anchors, tags, merge keys, or something wrong: the loader knows them all, and says where
        return _parse_fully(text)


def _parse_fully(text: str) -> Any:
    import yaml

    loader = _spec_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, aliases="*" in text)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        scanning = exc.context or ""
        if exc.context_mark is not None and scanning in _SCANNING:
            # The scanner only notices far on (at the end of the file, or the next line); what is
            # wrong starts where it began.
            mark = exc.context_mark
            problem = _SCANNING[scanning]
        if exc.context and exc.problem and exc.context.startswith("expected"):
            problem = f"{exc.context}, {exc.problem}"  # "expected a single document in the stream, but found another"
        if mark is None:
            raise YamlProblem(problem) from None
        raise YamlProblem(problem, mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlProblem(f"a control character (U+{code:04X}) cannot be in YAML text", line, column) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlProblem("the file nests too deeply") from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, *, aliases: bool = True) -> None:
    """Refuse a document whose aliases would expand to more than MAX_EXPANDED_NODES values.

    Without a ``*`` in the text there is no alias, every node is its own, and a flat count (no
    sizes kept per node) says the same thing at a fraction of the cost.
    """
    import yaml

    if not aliases:
        _count_nodes(root)
        return
    sizes: dict[int, int] = {}
    shared = False

    def size(node: yaml.Node, depth: int = 0) -> int:
        nonlocal shared
        known = sizes.get(id(node))
        if known is not None:
            shared = True
            return known
        if depth > 200:
            raise YamlProblem("the file nests too deeply", node.start_mark.line + 1, node.start_mark.column + 1)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        sizes[id(node)] = total
        if total > MAX_EXPANDED_NODES:
            what = "anchors and aliases expand this file to" if shared else "this file holds"
            raise YamlProblem(
                f"{what} more than {MAX_EXPANDED_NODES:,} values",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        return total

    size(root)


def _count_nodes(root: yaml.Node) -> None:
    """The node count and depth of a tree without aliases, against the same limits."""
    import yaml

    if isinstance(root, yaml.ScalarNode):
        return
    count = 1
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
        if children and depth + 1 > 200:  # the same limit as with aliases, scalars counted
            deep = children[0]
            raise YamlProblem("the file nests too deeply", deep.start_mark.line + 1, deep.start_mark.column + 1)
        count += len(children)
        if count > MAX_EXPANDED_NODES:
            raise YamlProblem(
                f"this file holds more than {MAX_EXPANDED_NODES:,} values",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        stack.extend((child, depth + 1) for child in children if not isinstance(child, yaml.ScalarNode))


def compose(text: str) -> yaml.Node | None:
    """A document's node tree, with the marks ``locate`` reads (None if it does not parse)."""
    import yaml

    try:
        return yaml.compose(text, Loader=_spec_loader())
    except yaml.YAMLError:
        return None


def locate(
    document: str | yaml.Node | None, path: tuple[PathPart, ...], *, key: bool = False
) -> tuple[int, int] | None:
    """The line and column (from 1) of the value at ``path`` in a document (of its key, with
    ``key``), or of its nearest parent. Give the tree from ``compose`` to locate many paths."""
    node = compose(document) if isinstance(document, str) else document
    if node is None:
        return None
    best = node.start_mark
    for index, part in enumerate(path):
        found = _child(node, part)
        if found is None:
            break
        key_node, node = found
        last = index == len(path) - 1
        best = key_node.start_mark if key and last and key_node is not None else node.start_mark
    return best.line + 1, best.column + 1


def _child(node: yaml.Node, part: PathPart) -> tuple[yaml.Node | None, yaml.Node] | None:
    """(key node, value node) of ``part`` in ``node``; merged templates searched in the order
    they are listed, the first one's keys winning as YAML's merge says."""
    import yaml

    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE and key.value == str(part):
                return key, value
        for key, value in node.value:
            if key.tag == _MERGE:
                templates = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for template in templates:
                    merged = _child(template, part)
                    if merged is not None:
                        return merged
    return None
