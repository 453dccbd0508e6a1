"""Spec objects pickled without the fields they leave at their defaults (the spec cache's entries)."""

from __future__ import annotations

from dataclasses import MISSING, fields


class Compact:
    """A spec object pickled without the fields it leaves at their defaults.

    A domain declares a handful of its thirty fields; the spec cache keeps thousands of them, and
    reading them back (every plan after an edit reads every file's model) costs by the field.
    Unpickled, the missing fields read as the class's defaults, which ``dataclass`` keeps as class
    attributes; a field made by a factory has no such default and is always kept.
    """

    __slots__ = ()

    def __getstate__(self) -> dict[str, object]:
        defaults = _defaults(type(self))
        return {
            key: value for key, value in self.__dict__.items() if key not in defaults or not _same(value, defaults[key])
        }


def _same(value: object, default: object) -> bool:
    return value is default or (type(value) is type(default) and value == default)


_DEFAULTS: dict[type, dict[str, object]] = {}


def _defaults(cls: type) -> dict[str, object]:
    """The fields of ``cls`` that have a plain default, and that default (as its class attribute)."""
    found = _DEFAULTS.get(cls)
    if found is None:
        found = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        assert all(getattr(cls, name) is value for name, value in found.items())
        _DEFAULTS[cls] = found
    return found
