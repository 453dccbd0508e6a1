"""Naming many objects in one message: a few by name, the rest counted.

A refusal on a host of thousands of domains must stay readable: "web1, web2, web3, web4, web5
and 1,995 others", never one line holding every name. Names come in natural order (web2 before
web10), each once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SHOWN = 5  # names given before the rest are counted
LINES = 5  # lines of one kind of problem given before the rest are counted


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts web2 before web10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def few(names: Iterable[str], limit: int = SHOWN) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 1,995 others``."""
    unique = sorted(set(names), key=natural)
    if len(unique) <= limit:
        return ", ".join(unique)
    rest = len(unique) - limit
    return f"{', '.join(unique[:limit])} and {rest:,} {'other' if rest == 1 else 'others'}"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 domain``, ``2,000 domains``."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def capped(lines: list[str], limit: int = LINES) -> list[str]:
    """At most ``limit`` lines of each kind (the text before the first colon), the rest counted."""
    kept: list[str] = []
    dropped: dict[str, int] = {}
    shown: dict[str, int] = {}
    for line in lines:
        kind = line.split(":", 1)[0]
        if shown.get(kind, 0) < limit:
            shown[kind] = shown.get(kind, 0) + 1
            kept.append(line)
        else:
            dropped[kind] = dropped.get(kind, 0) + 1
    kept += [f"{kind}: {count(n, 'more problem')} of this kind" for kind, n in dropped.items()]
    return kept


def who(names: list[str]) -> str:
    """``web1 wants`` or ``2,000 domains (web1, web2, ... and 1,995 others) want``."""
    unique = set(names)
    if len(unique) == 1:
        return f"{names[0]} wants"
    return f"{count(len(unique), 'domain')} ({few(unique)}) want"


def of_domains(names: list[str]) -> str:
    unique = set(names)
    return f"of {few(unique)}" if len(unique) <= 1 else f"of {count(len(unique), 'domain')}: {few(unique)}"
