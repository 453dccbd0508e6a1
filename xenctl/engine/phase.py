"""A domain's phase and the six letters ``xm list`` prints for it.

Kept apart from the domain model (``domain``) so that ``xenctl list`` can render a domain's state
without building the model's classes: this module imports nothing but ``enum``.
"""

from __future__ import annotations

import enum


class Phase(str, enum.Enum):
    """Where a domain is in its life; ``state_letters`` renders it as ``xm list`` does."""

    BOOTING = "booting"  # created, guest kernel not up yet (r-----)
    RUNNING = "running"  # guest up (-b----, or r----- for Domain-0)
    PAUSED = "paused"  # --p---
    SHUTTING_DOWN = "shutting-down"  # shutdown asked, guest still going down (-b----)
    SHUTDOWN = "shutdown"  # guest halted, kept by on_poweroff=preserve (---s--)
    CRASHED = "crashed"  # guest crashed, kept by on_crash=preserve (----c-)
    SAVING = "saving"  # being saved to a file (migrating-<name>)


_LETTERS = {
    Phase.BOOTING: "r-----",
    Phase.RUNNING: "-b----",
    Phase.PAUSED: "--p---",
    Phase.SHUTTING_DOWN: "-b----",
    Phase.SHUTDOWN: "---s--",
    Phase.CRASHED: "----c-",
    Phase.SAVING: "-b---d",
}


def state_letters(phase: Phase, domid: int = 1) -> str:
    """The six-letter ``xm list`` state: ``r b p s c d`` or ``-`` each (Domain-0 runs, never blocks)."""
    if domid == 0 and phase is Phase.RUNNING:
        return "r-----"
    return _LETTERS[phase]
