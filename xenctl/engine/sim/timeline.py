"""A domain's state and running time at any moment, derived from its row and the clock.

Pure functions of a ``domains`` row and a time: every reader and writer derives the same answer,
so nothing has to be stored as it changes.
"""

from __future__ import annotations

import sqlite3

from xenctl.engine.phase import Phase

IDLE_CPU_SHARE = 0.02  # of one CPU, once booted
DOM0_CPU_SHARE = 0.05  # of each of Domain-0's vCPUs, since the host started


def phase_of(row: sqlite3.Row, now: float) -> Phase:
    return phase_from(row["halted"], row["exit_kind"], row["paused"], row["up_at"], row["stopping"], now)


def phase_from(
    halted: str | None, exit_kind: str | None, paused: int, up_at: float, stopping: str | None, now: float
) -> Phase:
    """``phase_of`` from the row's columns (for readers of plain tuples)."""
    if halted == "shutdown":
        return Phase.SHUTDOWN
    if halted == "crashed":
        return Phase.CRASHED
    if exit_kind == "saved":
        return Phase.SAVING
    if paused:
        return Phase.PAUSED
    if now < up_at:
        return Phase.BOOTING  # a shutdown asked during the boot waits for the boot to end
    if stopping:
        return Phase.SHUTTING_DOWN
    return Phase.RUNNING


def run_time(row: sqlite3.Row, now: float) -> float:
    """Seconds the guest has been running (not paused, not halted) up to ``now``."""
    return run_time_from(row["run_since"], row["run_accum"], row["exit_at"], now)


def run_time_from(since: float | None, accum: float, exit_at: float | None, now: float) -> float:
    """``run_time`` from the row's columns (REAL: SQLite gives a float, even for a whole number;
    a snapshot works this out for every guest, and a call of ``float`` a value costs as much as
    the sum)."""
    if since is None:
        return accum
    end = now if exit_at is None or now < exit_at else exit_at
    return accum + max(0.0, end - since)


def cpu_time(row: sqlite3.Row, now: float) -> float:
    """CPU seconds: earlier instances' (before a save), then a busy boot and an idle guest."""
    ran = run_time(row, now)
    return cpu_time_from(ran, row["run_base"], row["up_at"], row["created_at"], row["cpu_base"])


def cpu_time_from(ran: float, run_base: float, up_at: float, created_at: float, cpu_base: float) -> float:
    """``cpu_time`` from the row's columns and the guest's ``run_time``."""
    ran = ran - run_base
    booting = min(ran, max(0.0, up_at - created_at))
    return cpu_base + booting + (ran - booting) * IDLE_CPU_SHARE


def dom0_cpu_time(now: float, started: float, vcpus: int) -> float:
    """Domain-0's CPU seconds: a small share of each of its vCPUs since the host started."""
    return max(0.0, now - started) * DOM0_CPU_SHARE * vcpus


def dom0_started(created: object, now: float) -> float:
    """When Domain-0 started: the host's ``created_at`` mark (``now`` on a host without one)."""
    return float(created) if isinstance(created, (int, float)) else now
