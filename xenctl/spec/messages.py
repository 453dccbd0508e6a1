"""Schema errors in a person's words: what is wrong with a value, and where to point."""

from __future__ import annotations

import difflib
import re
from typing import Any

from xenctl.spec.model import PathPart

_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}
_WITH_HINT = ("pattern", "not", "oneOf", "type", "minLength", "maxLength")


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return str(value)


def describe_error(error: Any, path: tuple[PathPart, ...]) -> tuple[str, tuple[PathPart, ...] | None]:
    """A schema error in a person's words, and the path to point at (None: the error's own path)."""
    validator, instance, sub = error.validator, error.instance, error.schema
    hint = sub.get("x-error") if isinstance(sub, dict) else None
    if hint and validator in _WITH_HINT:
        if isinstance(instance, dict):
            given = [choice for choice in sub.get("x-choices", ()) if choice in instance]
            names = " and ".join(given) if given else "none of them"
            return f"{hint} (this names {names})" if sub.get("x-choices") else hint, None
        return f"{_shown(instance)} {hint}", None
    if validator == "required":
        missing = [name for name in sub["required"] if name not in instance]
        return f"missing field {', '.join(repr(m) for m in missing)}", None
    if validator == "additionalProperties":
        known = set(sub.get("properties", {}))
        patterns = [re.compile(p) for p in sub.get("patternProperties", {})]
        unknown = sorted(str(k) for k in instance if k not in known and not any(p.search(str(k)) for p in patterns))
        key = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(key, sorted(known), n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(sorted(known))}"
        return f"unknown field {key!r}{suggestion}", (*path, key)  # pointing at the key itself
    if validator == "enum":
        return f"{_shown(instance)} is not one of {', '.join(str(v) for v in error.validator_value)}", None
    if validator == "type":
        wanted = error.validator_value
        types = [str(t) for t in (wanted if isinstance(wanted, list) else [wanted])]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        return f"{_shown(instance)} is not {words}", None
    if validator == "minimum":
        return f"{instance} is less than {error.validator_value}, the least allowed", None
    if validator == "maximum":
        return f"{instance} is more than {error.validator_value}, the most allowed", None
    if validator == "minItems":
        count = error.validator_value
        return f"needs at least {'one item' if count == 1 else f'{count} items'}", None
    if validator == "uniqueItems":
        twice = next((item for i, item in enumerate(instance) if item in instance[:i]), None)
        return f"names {_shown(twice)} twice", None
    return str(error.message), None
