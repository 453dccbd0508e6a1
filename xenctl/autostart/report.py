"""What a boot or a stop did: each step, as it ends reported to the hooks and kept in a ``Report``.

``Run`` is what one boot or stop shares across its worker threads: a driver per thread, the
clock, the hooks and the report; its ``walk`` runs an ``Order`` and reports what it skips.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from xenctl.autostart.order import Order
from xenctl.engine.api import Driver
from xenctl.reconcile.walker import STOPPING, Outcome, Pace, PerThread, WallPace, walk
from xenctl.xmconfig.auto import Broken


@dataclass(frozen=True)
class Step:
    """What happened to one domain: ``result`` is restored, started, already running, saved,
    shut down, destroyed, left running, failed or skipped; times in seconds from the run's start."""

    domain: str
    result: str
    ok: bool
    began: float
    ended: float
    entry: str | None = None
    detail: str = ""


@dataclass
class Report:
    """A boot or a stop: every step, the entries that could not be read, and the time it took."""

    action: str  # "boot" or "stop"
    steps: list[Step] = field(default_factory=list)
    broken: tuple[Broken, ...] = ()
    took: float = 0.0

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if not s.ok]

    @property
    def ok(self) -> bool:
        """No step failed, and (at boot) no entry was broken: an entry that cannot be read did
        not start, as xendomains' start failed on it; a stop of the running guests needs none."""
        return not self.failed and not (self.broken and self.action == "boot")


class Hooks(Protocol):
    """Progress, called from worker threads: a step begins (``doing`` says what), a step ends."""

    def began(self, domain: str, doing: str) -> None: ...
    def ended(self, step: Step) -> None: ...


class _Quiet:
    def began(self, domain: str, doing: str) -> None:
        return None

    def ended(self, step: Step) -> None:
        return None


class Run:
    """What one boot or stop shares across its threads: drivers, the clock, the report."""

    def __init__(
        self,
        action: str,
        connect: Callable[[], Driver],
        pace: Pace | None,
        hooks: Hooks | None,
        stop: threading.Event | None = None,
    ) -> None:
        self.stop = stop
        self.drivers = PerThread(connect)
        self.pace = pace or WallPace()
        self.hooks = hooks or _Quiet()
        self.report = Report(action)
        self.start = self.pace.now()

    def elapsed(self) -> float:
        return self.pace.now() - self.start

    def step(
        self, domain: str, result: str, ok: bool, began: float, entry: str | None = None, detail: str = ""
    ) -> Outcome:
        step = Step(domain, result, ok, began, self.elapsed(), entry, detail)
        self.report.steps.append(step)  # list.append is atomic: threads may add at once
        self.hooks.ended(step)
        return Outcome(entry or domain, ok, step.ended - began, None if ok else detail)

    def walk(
        self, order: Order, run: Callable[[str], Outcome], parallelism: int, shown: Callable[[str], str | None]
    ) -> None:
        """Walk ``order``; a skipped node is reported under the domain ``shown`` names (None: a
        barrier or a node outside this run, skipped without a word)."""

        def skip(node: str, root: str) -> Outcome:
            name = shown(node)
            if name is None:
                return Outcome(node, False, skipped_because=root)
            why = "not started: xenctl is stopping" if root == STOPPING else f"{root} did not start"
            entry = node if node in order.entries else None
            return self.step(name, "skipped", False, self.elapsed(), entry, why)

        walk(order.waits_on, run, skip, parallelism=parallelism, pace=self.pace, needs=order.needs, stop=self.stop)

    def finish(self) -> Report:
        self.drivers.close()
        self.report.took = self.elapsed()
        return self.report


def summary(report: Report) -> str:
    """``3 started, 1 already running, 1 failed, 1 skipped; 2 broken entries; 12.0s``."""
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.result] = counts.get(step.result, 0) + 1
    parts = [f"{n} {result}" for result, n in counts.items()] or ["nothing to do"]
    if report.broken:
        parts.append(f"{len(report.broken)} broken {'entry' if len(report.broken) == 1 else 'entries'}")
    return f"{', '.join(parts)}; {report.took:.1f}s"
