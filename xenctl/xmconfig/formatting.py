"""xm's ``%`` formatting of strings: the conversions a template holds, and one leniency.

Variables from the command line arrive as strings, so a ``%d`` takes an integer-like string as
the integer it spells. The evaluator holds each format to its limits before it is applied.
"""

from __future__ import annotations

import re
from typing import Any

INTEGER = re.compile(r"^[-+]?[0-9]+$")  # ASCII digits only: "²" and "--5" are not numbers
_CONVERSION_TAIL = re.compile(r"([#0 +-]*)(\*|[0-9]+)?(?:\.(\*|[0-9]+))?[hlL]?([diouxXeEfFgGcrsa%])")


def conversions(template: str) -> list[tuple[str | None, str | None, str]] | None:
    """Each conversion in a %-format as (width, precision, kind), mapping keys of any nesting
    skipped as Python skips them; None if the format is cut short."""
    found: list[tuple[str | None, str | None, str]] = []
    position = 0
    while True:
        position = template.find("%", position)
        if position < 0:
            return found
        position += 1
        if position < len(template) and template[position] == "(":
            depth = 0
            while position < len(template):
                depth += {"(": 1, ")": -1}.get(template[position], 0)
                position += 1
                if depth == 0:
                    break
            if depth:
                return None
        match = _CONVERSION_TAIL.match(template, position)
        if match is None:
            return None
        position = match.end()
        if match.group(4) != "%":
            found.append((match.group(2), match.group(3), match.group(4)))


def lenient_args(specs: list[tuple[str | None, str | None, str]], args: Any) -> Any:
    """The arguments of ``template % args``, an integer-like string made an integer for ``%d``."""
    if isinstance(args, dict):
        return args
    items = list(args) if isinstance(args, tuple) else [args]
    coerced = []
    for index, item in enumerate(items):
        conversion = specs[index][2] if index < len(specs) else "s"
        if conversion in "diouxX" and isinstance(item, str) and INTEGER.match(item):
            item = int(item)
        coerced.append(item)
    return tuple(coerced)
