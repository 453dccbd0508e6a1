"""Sizes and durations as people write them: ``4G``, ``512M``, ``2048k``, ``30s``, ``5m``.

Sizes are binary (``1K`` = 1024 bytes), as in ``dd``, ``lvcreate`` and xm's ``memory``. A bare
number is a count of the default unit the caller names (xm's ``memory = 512`` means MiB).
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal
from fractions import Fraction

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

_SIZE_UNITS = {"": 1, "B": 1, "K": KIB, "M": MIB, "G": GIB, "T": TIB}
# A number and one unit letter, nothing between: "512M", "4G", "2048k". "512 MB" and "1GiB" are
# refused rather than guessed at (MB may mean 10^6 bytes to one reader and 2^20 to another).
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$", re.IGNORECASE)
MAX_SIZE = 1 << 62  # 4 EiB: more than any disk, and well inside SQLite's integers
MAX_DURATION = 4_000_000_000_000.0  # seconds: more than the 999,999,999 hours a spec can write
_DURATION_UNITS = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600), "": Fraction(1)}
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|)$", re.IGNORECASE)


class UnitError(ValueError):
    """A value that is not a size or a duration; the message says how to write one."""


def parse_size(value: object, *, default_unit: str = "B", whole_kib: bool = False) -> int:
    """Return a size in bytes from ``4G``, ``512M``, ``2048k``, ``1.5G`` or a bare number.

    A bare number counts ``default_unit`` (``"B"``, ``"K"``, ``"M"`` or ``"G"``). A size that is
    not a whole number of bytes (``0.1K``) is refused; with ``whole_kib`` every size is rounded up
    to a whole KiB instead (so it can always be written back exactly with a unit).
    """
    if type(value) is str:  # specs write the same few sizes thousands of times
        return _parse_size_text(value, default_unit, whole_kib)
    return _parse_size(value, default_unit=default_unit, whole_kib=whole_kib)


@functools.lru_cache(maxsize=4096)
def _parse_size_text(value: str, default_unit: str, whole_kib: bool) -> int:
    return _parse_size(value, default_unit=default_unit, whole_kib=whole_kib)


def _parse_size(value: object, *, default_unit: str = "B", whole_kib: bool = False) -> int:
    """Return a size in bytes from ``4G``, ``512M``, ``2048k``, ``1.5G`` or a bare number.

    A bare number counts ``default_unit`` (``"B"``, ``"K"``, ``"M"`` or ``"G"``). A size that is
    not a whole number of bytes (``0.1K``) is refused; with ``whole_kib`` every size is rounded up
    to a whole KiB instead (so it can always be written back exactly with a unit).
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a size; write 512M or 1G")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"{value!r} is not a size; a size cannot be negative")
        return _bounded(value * _SIZE_UNITS[default_unit.upper().rstrip("B") or "B"], value)
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a size; write 512M or 1G")
    match = _SIZE_RE.match(value.strip())
    if not match:
        raise UnitError(f"{value!r} is not a size; write 512M or 1G")
    number, unit = match.groups()
    unit = unit.upper() or (default_unit.upper().rstrip("B") or "B")
    size = Fraction(number) * _SIZE_UNITS[unit]  # exact: no float rounding of large sizes
    if whole_kib:
        size = Fraction(math.ceil(size / KIB) * KIB)
    elif size.denominator != 1:
        raise UnitError(f"{value!r} is not a whole number of bytes")
    return _bounded(int(size), value)


def _bounded(size: int, value: object) -> int:
    if size > MAX_SIZE:
        raise UnitError(f"{value!r} is too large (at most {format_size(MAX_SIZE)})")
    return size


def parse_duration(value: object) -> float:
    """Return seconds from ``30s``, ``5m``, ``1h``, ``250ms`` or a bare number of seconds."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a duration; write 30s or 5m")
    if isinstance(value, (int, float)):
        if not 0 <= value <= MAX_DURATION:  # also refuses nan
            raise UnitError(f"{value!r} is not a duration from 0 to {MAX_DURATION:g} seconds")
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a duration; write 30s or 5m")
    match = _DURATION_RE.match(value.strip())
    if not match:
        raise UnitError(f"{value!r} is not a duration; write 30s or 5m")
    number, unit = match.groups()
    seconds = float(Fraction(number) * _DURATION_UNITS[unit.lower()])  # 700ms is 0.7, not 0.7000000000000001
    if seconds > MAX_DURATION:
        raise UnitError(f"{value!r} is too long (at most {MAX_DURATION:g} seconds)")
    return seconds


def format_size(size: int) -> str:
    """The shortest exact spelling of a size in bytes: ``4G``, ``512M``, ``1536K``, ``100``."""
    for unit, factor in (("T", TIB), ("G", GIB), ("M", MIB), ("K", KIB)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def format_duration(seconds: float) -> str:
    """A duration as people read it, exactly: ``250ms``, ``30s``, ``5m``, ``1h``, ``90.5s``.

    A whole number of hours, minutes or seconds if it is one; else milliseconds below a second and
    seconds above, in at most three decimals (then the other units); never an exponent, never
    more than nine digits before the point. Spec files allow just these forms.
    """
    exact = Decimal(repr(float(seconds)))
    if exact == 0:
        return "0s"

    def as_unit(factor: Decimal, places: int) -> Decimal | None:
        value = exact / factor
        fits = value * factor == exact and value < 10**9
        return value if fits and value == value.quantize(Decimal(10) ** -places) else None

    for unit, factor in (("h", Decimal(3600)), ("m", Decimal(60)), ("s", Decimal(1))):
        if as_unit(factor, 0) is not None:
            return f"{int(exact / factor)}{unit}"
    order = (("ms", "0.001"), ("s", "1")) if exact < 1 else (("s", "1"), ("ms", "0.001"), ("m", "60"), ("h", "3600"))
    for unit, factor_text in order:
        value = as_unit(Decimal(factor_text), 3)
        if value is not None:
            return f"{value.normalize():f}{unit}"
    return f"{exact:f}s"
