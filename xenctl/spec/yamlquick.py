"""The quick reading of a spec file: its values straight from libyaml's events.

Most spec files are plain: mappings, sequences and plain or quoted scalars. For them, no node
tree is built and no resolver is called back per scalar; the values come out exactly as the
loader in ``yamlfile`` makes them, with the same limit on values counted. Anything the plain case does not
hold (an anchor, an alias, a tag, a merge key, a key that is not text, a duplicate key, a scalar
the core schema refuses, a second document, a limit passed) raises ``Unusual``, and the loader
reads the file again to build it or to say where it is wrong.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MAX_DEPTH = 200  # nesting deeper than this is the loader's to judge

# YAML 1.2 core schema, plus the one surprising form refused outright.
NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$")
FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")
NUMERIC_START = frozenset("0123456789+-.")


class Unusual(Exception):
    """Something the quick reading leaves to the loader."""


@functools.cache
def _libyaml() -> tuple[Any, Any]:
    """libyaml's parser (None without it) and PyYAML's events, imported when first needed."""
    import yaml

    return getattr(getattr(yaml, "_yaml", None), "CParser", None), yaml.events


def quick(text: str, limit: int) -> Any:
    """One document's values, or ``Unusual`` (or libyaml's own error) when it is not plain or
    holds more than ``limit`` values."""
    parser_class, events = _libyaml()
    if parser_class is None:
        raise Unusual
    parser = parser_class(text)
    try:
        get = parser.get_event
        get()  # the stream's start
        if type(get()) is not events.DocumentStartEvent:
            return None  # an empty file
        result = _document(get, limit, events)
        if type(get()) is not events.StreamEndEvent:
            raise Unusual  # a second document
        return result
    finally:
        parser.dispose()


def _document(get: Any, limit: int, events: Any) -> Any:
    """The values of the document whose start was just read, up to its end (the hot loop)."""
    scalar, mapping, sequence = events.ScalarEvent, events.MappingStartEvent, events.SequenceStartEvent
    ends = (events.MappingEndEvent, events.SequenceEndEvent)
    containers: list[Any] = []  # the open mappings and sequences, innermost last
    keys: list[Any] = []  # for each, the key waiting for its value (None: none; a sequence's is unused)
    # Each text once: a value written many times (a volume group, a vdev, a kernel, a volume's
    # name and the disks naming it) is one string in the model, and pickled once in the cache.
    texts: dict[str, str] = {}
    count = 0
    result: Any = None
    while True:
        event = get()
        kind = type(event)
        if kind is scalar:
            if event.anchor is not None or event.tag is not None:
                raise Unusual
            value: Any = plain(event.value) if event.implicit[0] else event.value
            if type(value) is str:
                value = texts.setdefault(value, value)
        elif kind is mapping or kind is sequence:
            if event.anchor is not None or event.tag is not None or len(containers) >= MAX_DEPTH:
                raise Unusual
            containers.append({} if kind is mapping else [])
            keys.append(None)
            continue
        elif kind in ends:
            value = containers.pop()
            keys.pop()
        elif kind is events.DocumentEndEvent:
            return result
        else:
            raise Unusual  # an alias
        count += 1
        if count > limit:
            raise Unusual
        if not containers:
            result = value
            continue
        top = containers[-1]
        if type(top) is list:
            top.append(value)
            continue
        key = keys[-1]
        if key is None:
            if type(value) is not str or value in top or value == "<<":
                raise Unusual  # a key not text, twice, or a merge
            keys[-1] = value
        else:
            top[key] = value
            keys[-1] = None


def plain(value: str) -> Any:
    """A plain scalar's value by the core schema, as the loader resolves and constructs it."""
    first = value[:1]
    if first in NUMERIC_START:
        if LEADING_ZERO.match(value):
            raise Unusual  # refused, with its line, by the loader
        if INT.match(value):
            if len(value) > 40:
                raise Unusual
            if value.startswith("0o"):
                return int(value[2:], 8)
            return int(value, 0) if value.startswith("0x") else int(value)
        if FLOAT.match(value):
            if not any(c.isdigit() for c in value):
                raise Unusual  # .inf and .nan: the loader's own constructor
            return float(value)
    elif (not first or first in "~nN") and NULL.match(value):
        return None
    elif first in "tTfF" and BOOL.match(value):
        return value.lower() == "true"
    return value
