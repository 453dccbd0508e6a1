"""What apply will use, carried by each change: plans are data.

A plan's change says what happens to an object and why; its ``values`` say with what: the domain
config a create is given (and the memory, vCPUs and disks an update sets), the size a volume is
made or grown to, the volume a delete removes, the text an autostart entry is written as. They
are worked out once, when the plan is made (``attach``), from the specs and the host as read
then, so apply runs from the plan alone and never reads the specs again, and a saved plan
carries them whole (``planfile``).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from xenctl.engine.api import DomainConfig


@dataclass(frozen=True, slots=True)
class DomainValues:
    """A domain as apply makes or changes it; ``power`` is running, paused or stopped."""

    config: DomainConfig
    source: str  # the spec file that declares it: its ownership mark
    power: str = "running"


@dataclass(frozen=True, slots=True)
class VolumeValues:
    """A volume as apply makes, grows, formats or fills it."""

    kind: str  # lvm, snapshot, file or partition
    name: str
    path: str  # on the host: /dev/vg/name, the image's full path, the partition
    size: int = 0  # bytes: an LV's size, a snapshot's COW space, an image's size
    vg: str | None = None
    origin: str | None = None  # a snapshot's origin LV
    image: str | None = None  # an image's path as the spec wrote it (under the storage root)
    sparse: bool = True
    filesystem: str | None = None
    populate: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class GroupValues:
    name: str
    pvs: tuple[str, ...]
    source: str = ""


@dataclass(frozen=True, slots=True)
class ExportValues:
    server: str
    path: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class EntryValues:
    """An autostart entry as it is written into the auto directory."""

    text: str


@dataclass(frozen=True, slots=True)
class Removal:
    """What on the host a delete or a replacement removes, as it was when the plan read it:
    ``lv`` (``vg``/``name``), ``image`` (``path``), or nothing of its own (``none``)."""

    what: str
    path: str = ""
    vg: str = ""
    name: str = ""


Values = DomainValues | VolumeValues | GroupValues | ExportValues | EntryValues


# -- as JSON, for saved plans ------------------------------------------------------------------

_TYPES: dict[str, type[Values]] = {
    "domain": DomainValues,
    "volume": VolumeValues,
    "volume_group": GroupValues,
    "nfs_export": ExportValues,
    "autostart": EntryValues,
}


def to_json(values: Values | Removal) -> dict[str, Any]:
    """Plain JSON data; ``from_json`` reads it back."""
    kind = next((k for k, t in _TYPES.items() if isinstance(values, t)), "removal")
    return {"type": kind, **_plain(values)}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def from_json(data: object, where: str) -> Values | Removal:
    """Values read back from a saved plan: untrusted, so every field is checked against its type.
    A ValueError names ``where`` and the field."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: not an object")
    kind = data.get("type")
    target: type[Values | Removal] | None = Removal if kind == "removal" else _TYPES.get(str(kind))
    if target is None:
        raise ValueError(f"{where}.type: {kind!r} is not a kind of values")
    built: Values | Removal = _decode(target, {k: v for k, v in data.items() if k != "type"}, where)
    return built


def _decode(tp: Any, value: object, where: str) -> Any:
    """``value`` as the type ``tp`` (str, int, bool, enums, optionals, tuples, dataclasses)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _decode(next(a for a in args if a is not type(None)), value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{where}: not a list")
        return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: not an object")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"{where}.{unknown[0]}: not a field of {tp.__name__}")
        fields = {name: _decode(hints[name], item, f"{where}.{name}") for name, item in value.items()}
        try:
            return tp(**fields)
        except TypeError:
            raise ValueError(f"{where}: a field of {tp.__name__} is missing") from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a {tp.__name__}") from None
    if tp is int and not (isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**63):
        raise ValueError(f"{where}: not a whole number")
    if tp is bool and not isinstance(value, bool):
        raise ValueError(f"{where}: not true or false")
    if tp is str and not (isinstance(value, str) and "\0" not in value):
        raise ValueError(f"{where}: not a string")
    if tp not in (int, bool, str):
        raise ValueError(f"{where}: a field xenctl cannot read back")
    return value
