"""The options of the application's functions, as typed, immutable values.

Named tuples rather than dataclasses: a ``xenctl plan`` answered from the plan cache imports this
module and ``dataclasses`` (with ``inspect``) would be a tenth of its whole time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from xenctl.errors import UsageError


class PlanOptions(NamedTuple):
    """How a plan is made: take over hand-made objects, allow losing data, only one object."""

    adopt: bool = False
    destroy_data: bool = False
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"adopt": self.adopt, "destroy_data": self.destroy_data, "target": self.target}


class _Run(NamedTuple):
    parallelism: int = 10
    lock_timeout: float = 0.0


class RunOptions(_Run):
    """How a mutating command runs: actions at once, and how long it waits for the host's lock."""

    __slots__ = ()

    def __new__(cls, parallelism: int = 10, lock_timeout: float = 0.0) -> RunOptions:
        if parallelism < 1:
            raise UsageError("--parallelism must be 1 or more")
        return super().__new__(cls, parallelism, lock_timeout)
