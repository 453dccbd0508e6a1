"""Reading one mapping of a host profile: each field checked, every error naming the file and field."""

from __future__ import annotations

from collections.abc import Mapping

from xenctl.errors import ProfileError
from xenctl.units import MIB, UnitError, parse_duration, parse_size


class Reader:
    """Reads one mapping of a profile, naming the field in every error."""

    def __init__(self, data: object, file: str, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ProfileError(f"expected a mapping, found {kind_of(data)}", file=file, path=path or None)
        self.data = data
        self.file = file
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> ProfileError:
        return ProfileError(message, file=self.file, path=self.where(key))

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                raise ProfileError(
                    f"unknown field; expected one of: {', '.join(allowed)}",
                    file=self.file,
                    path=self.where(str(key)),
                )

    def size_mib(self, key: str, default: int | None) -> int | None:
        if self.data.get(key) is None:
            return default
        return self.size(key, 0) // MIB

    def size(self, key: str, default: int | None) -> int:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise self.fail(key, "is required")
            return default
        try:
            return parse_size(value, default_unit="M")
        except UnitError as exc:
            raise self.fail(key, str(exc)) from None

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{value!r} is not a whole number")
        if not minimum <= value <= maximum:
            raise self.fail(key, f"{value} is out of range ({minimum} to {maximum})")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"{value!r} is not true or false")
        return value

    def string(self, key: str, default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, f"{value!r} is not a string")
        return value

    def duration(self, key: str, default: float) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except UnitError as exc:
            raise self.fail(key, str(exc)) from None


def kind_of(value: object) -> str:
    if value is None:
        return "nothing"
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
