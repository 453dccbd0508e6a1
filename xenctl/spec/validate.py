"""Checking a parsed spec file against the schema: a fast compiled check, and the reference one.

Most files are right, so each is first checked by the schema compiled to Python (fastjsonschema,
kept in the spec cache); a file it refuses is checked again by the reference validator
(jsonschema), which finds every error, worded with its file, line and field path.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import re
import sys
import tempfile
import types
from functools import cache
from typing import Any

from xenctl.errors import SpecIssue
from xenctl.spec.cache import SpecCache
from xenctl.spec.devices import disk_choices_hold
from xenctl.spec.files import code_stamp
from xenctl.spec.locate import Locator, SpecFile
from xenctl.spec.messages import describe_error
from xenctl.spec.model import Origin
from xenctl.spec.schema import schema


@cache
def _validator() -> Any:
    """The reference validator: every error, with its path, for the messages."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


@cache
def fast_check(directory: str | None = None) -> Any:
    """The schema compiled to Python (fastjsonschema): about ten times quicker than the reference
    validator on a file that is right, which most are. It stops at the first error, so a file it
    refuses is checked again by the reference validator for every error, worded.

    Making the code takes longer than checking a large file with it, so the compiled code is
    kept in the spec cache (``directory``), by this xenctl, the validator's version and Python's.
    """
    import fastjsonschema
    from fastjsonschema.ref_resolver import RefResolver

    formats: dict[str, Any] = {}
    definition = _without_choices(schema(), formats)
    stamp = "\0".join([code_stamp(), fastjsonschema.VERSION, sys.implementation.cache_tag or "", sys.version])
    name = f"validator-{hashlib.blake2b(stamp.encode(), digest_size=16).hexdigest()}.code"
    kept = os.path.join(directory, name) if directory else None
    code = None
    if kept:
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError), open(kept, "rb") as stream:
            code = marshal.load(stream)
    if not isinstance(code, types.CodeType):
        # A refusal's details are never read (the reference validator words every error), so the
        # code raises bare exceptions: a quarter of the text, compiled in a third of the time.
        source = _without_locals(fastjsonschema.compile_to_code(definition, formats=formats, detailed_exceptions=False))
        code = compile(source, "<spec schema>", "exec")
        if directory and kept:
            with contextlib.suppress(OSError):
                os.makedirs(directory, mode=0o700, exist_ok=True)
                fd, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
                with os.fdopen(fd, "wb") as stream:
                    marshal.dump(code, stream)
                os.replace(temporary, kept)
                for entry in os.scandir(directory):  # another xenctl's, or another Python's
                    if entry.name.startswith("validator-") and entry.name != name:
                        os.unlink(entry.path)
    scope: dict[str, Any] = {}
    exec(code, scope)
    check = scope[RefResolver.from_schema(definition, handlers={}, store={}).get_scope_name()]
    return functools.partial(check, custom_formats=formats)


def _without_locals(source: str) -> str:
    """The generated code with each item's name (``data.domains[3]``, for its error message) made
    by an f-string instead of ``"...[{i}]".format(**locals())``: the same text, without copying
    every local variable into a dict for each domain, disk and volume checked (a sixth of the
    time of a large file)."""
    return _FORMAT_LOCALS.sub(lambda found: f'f"{found.group(1)}"', source)


# A string whose fields name local variables, formatted with all of them: fastjsonschema's names
# of list items. (Only fields of plain names: anything else is left as it is.)
_FORMAT_LOCALS = re.compile(r'"((?:[^"\\{}\n]|\{[A-Za-z_][A-Za-z0-9_]*\})*)"\.format\(\*\*locals\(\)\)')


def _without_choices(node: Any, formats: dict[str, Any]) -> Any:
    """The schema less what the compiled validator checks by raising and catching an exception:
    its "exactly one of these keys" rules (``x-choices``, checked by ``_choices_hold`` instead)
    and its "must not match" patterns (``not: {pattern}``, the names that are not allowed), made
    formats of their own. Together they were more than a third of the time of a large file."""
    if isinstance(node, list):
        return [_without_choices(v, formats) for v in node]
    if not isinstance(node, dict):
        return node
    built = {k: _without_choices(v, formats) for k, v in node.items() if not (k == "oneOf" and "x-choices" in node)}
    refused = node.get("not")
    if isinstance(refused, dict) and set(refused) == {"pattern"} and "format" not in node:
        name = f"x-not-{len(formats)}"
        formats[name] = _not_matching(re.compile(refused["pattern"]))
        del built["not"]
        built["format"] = name
    return built


def _not_matching(pattern: re.Pattern[str]) -> Any:
    return lambda value: not isinstance(value, str) or pattern.search(value) is None


def _one_of(item: Any, choices: tuple[str, ...]) -> bool:
    return isinstance(item, dict) and sum(1 for choice in choices if choice in item) == 1


_VOLUME_CHOICES = ("lvm", "file", "partition")


def _choices_hold(data: dict[str, Any]) -> bool:
    """The ``x-choices`` rules, on a file the compiled validator passed (so the shapes are right)."""
    for domain in data.get("domains") or ():
        if not all(disk_choices_hold(disk) for disk in domain.get("disks") or ()):
            return False
    storage = data.get("storage") or {}
    return all(_one_of(volume, _VOLUME_CHOICES) for volume in storage.get("volumes") or ())


def valid_quickly(data: dict[str, Any], cache: SpecCache | None) -> bool:
    import fastjsonschema

    try:
        fast_check(cache.directory if cache else None)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return _choices_hold(data)


def schema_issues(spec: SpecFile, locator: Locator) -> list[SpecIssue]:
    found: dict[tuple[object, ...], SpecIssue] = {}
    for error in _validator().iter_errors(spec.data):
        path = tuple(error.absolute_path)
        message, point_at = describe_error(error, path)
        issue = locator.issue(Origin(spec.path, path), message, point_at=point_at, at_key=point_at is not None)
        found.setdefault((issue.line, issue.column, issue.path, issue.message), issue)  # one mistake, one line
    return list(found.values())
