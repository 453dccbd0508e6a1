"""The options of the application's functions, as typed, frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xenctl.errors import UsageError


@dataclass(frozen=True)
class PlanOptions:
    """How a plan is made: take over hand-made objects, allow losing data, only one object."""

    adopt: bool = False
    destroy_data: bool = False
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"adopt": self.adopt, "destroy_data": self.destroy_data, "target": self.target}


@dataclass(frozen=True)
class RunOptions:
    """How a mutating command runs: actions at once, and how long it waits for the host's lock."""

    parallelism: int = 10
    lock_timeout: float = 0.0

    def __post_init__(self) -> None:
        if self.parallelism < 1:
            raise UsageError("--parallelism must be 1 or more")
