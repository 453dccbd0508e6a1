"""Building the live-state model's frozen values from data a driver wrote itself, quickly.

A snapshot of a large host makes about a hundred thousand of them (domains, their configs, disks
and interfaces, logical volumes). The dataclasses' own ``__init__`` sets each field through
``object.__setattr__`` (they are frozen) and fills defaults by keyword. The constructors made here
fill an instance of a twin of the class (a subclass of the same layout, not frozen: each store
is the interpreter's own fast slot store) and then make it an instance of the class: about three
times as fast, and the value is the same in every respect (type, equality, hash, repr, frozen).
They check nothing, so they are for rows the engine wrote, never for user input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T], **fixed: Any) -> Callable[..., T]:
    """A positional constructor of ``cls`` (a frozen dataclass with slots) taking every field but
    the ``fixed`` ones, which it sets to the values given here (fewer arguments, a faster call)."""
    names = _fields(cls)
    taken = [n for n in names if n not in fixed]
    if len(taken) + len(fixed) != len(names):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(fixed) - set(names))}")
    space = {f"_fixed_{n}": value for n, value in fixed.items()}
    body = "".join(f"    o.{n} = {n if n in taken else '_fixed_' + n}\n" for n in names)
    return _compile(cls, f"def make({', '.join(taken)}):\n    o = _new(_twin)\n{body}", space)


def filler(cls: type[T], base: T, *fixed: str) -> Callable[..., T]:
    """A constructor of ``cls`` values for records that keep only what differs from ``base``:
    ``fill(values, *fixed_values)`` is ``base`` with the fields a mapping gives (by field name;
    a null one keeps ``base``'s), then the ``fixed`` fields, given after the mapping."""
    names = _fields(cls)
    space = {f"_base_{n}": getattr(base, n) for n in names}
    body = "".join(f"    o.{n} = _base_{n}\n" for n in names)
    body += "    for key, value in values.items():\n        if value is not None:\n            _set(o, key, value)\n"
    body += "".join(f"    o.{n} = {n}\n" for n in fixed)
    return _compile(cls, f"def fill({', '.join(('values', *fixed))}):\n    o = _new(_twin)\n{body}", space)


def copier(cls: type[T], *changed: str) -> Callable[..., T]:
    """A constructor of ``cls`` values like another but for the ``changed`` fields:
    ``copy(proto, *values)`` is ``proto`` with those fields set to ``values``, in that order."""
    names = _fields(cls)
    if not set(changed) <= set(names):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(changed) - set(names))}")
    body = "".join(f"    o.{n} = {n if n in changed else '_proto.' + n}\n" for n in names)
    return _compile(cls, f"def copy({', '.join(('_proto', *changed))}):\n    o = _new(_twin)\n{body}", {})


def _fields(cls: type) -> list[str]:
    names = [f.name for f in dataclasses.fields(cls)]
    if not names or tuple(names) != getattr(cls, "__slots__", None):
        raise TypeError(f"{cls.__name__} is not a dataclass with slots")
    return names


def _compile(cls: type[Any], source: str, space: dict[str, Any]) -> Callable[..., Any]:
    """The function ``source`` defines (it fills ``o``), ending by making ``o`` a ``cls``."""
    space.update({"_new": object.__new__, "_twin": _twin(cls), "_cls": cls, "_set": setattr})
    exec(f"{source}    o.__class__ = _cls\n    return o\n", space)  # made of the class's own field names
    name = source[4 : source.index("(")]
    made: Callable[..., Any] = space[name]
    made.__qualname__ = made.__name__ = f"{name}_{cls.__name__}"
    return made


def _twin(cls: type) -> type:
    """A subclass of ``cls`` that adds nothing to its layout and sets fields as a plain class does.

    Python makes an instance of it a ``cls`` at once: a class and its subclass of one layout need
    no more checks (two unrelated classes of one layout have their slots compared first, a third
    of the cost of changing the class)."""
    if cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__} is not a dataclass with slots of its own")
    plain = {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__}
    twin = type(f"_{cls.__name__}Fields", (cls,), plain)
    probe: Any = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError now, not at the first value, if it cannot
    return twin
