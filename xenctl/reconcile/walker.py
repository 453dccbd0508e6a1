"""``walk``: run the nodes of a dependency graph, each as soon as everything it waits on is done.

Not level by level: graphlib's TopologicalSorter keeps the ready set, and at most
``parallelism`` nodes run at once. A node that fails skips only its descendants, each told which
root failure stopped it; the rest finish. Apply walks its plan with it, and the runlevel code
walks its boot and stop orders with it.

Time is the ``Pace``'s: on a real host (and the simulation on the wall clock) time is time. A
discrete-event clock (``EventClock``) moves virtual time only while every node in flight waits,
so a walk's makespan can be measured exactly: the walker holds the clock for a node before it
submits it and releases it once it has taken in the result and started what that freed.
"""

from __future__ import annotations

import contextlib
import graphlib
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Protocol, TypeVar

from xenctl.engine.api import Driver

N = TypeVar("N", bound=Hashable)
STOPPING = "(stopping)"  # the root named for nodes not started because the walk was asked to stop


class Pace(Protocol):
    """How the walker tells time and shares it with the host's clock."""

    def now(self) -> float: ...
    def hold(self) -> None: ...
    def release(self) -> None: ...
    def working(self) -> contextlib.AbstractContextManager[None]: ...


class WallPace:
    def now(self) -> float:
        return time.monotonic()

    def hold(self) -> None:
        return None

    def release(self) -> None:
        return None

    def working(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class ScaledPace(WallPace):
    """The walk's clock in a simulated host's seconds: wall time divided by its time scale, so a
    report says "up after 8.0s" for an 8 s boot however fast the simulation runs."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def now(self) -> float:
        seconds = time.monotonic()
        return seconds / self.scale if self.scale > 0 else seconds


@dataclass(frozen=True)
class Outcome:
    address: str
    ok: bool
    elapsed: float = 0.0
    error: str | None = None
    skipped_because: str | None = None  # the root failure's address, for a skipped node
    started: float | None = None  # on the walk's clock, for a node that ran


def walk(
    waits_on: Mapping[N, Iterable[N]],
    run: Callable[[N], Outcome],
    skip: Callable[[N, str], Outcome],
    *,
    parallelism: int = 10,
    pace: Pace | None = None,
    needs: Mapping[N, Iterable[N]] | None = None,
    stop: threading.Event | None = None,
) -> dict[N, Outcome]:
    """Run every node of ``waits_on`` (node -> the nodes it waits on) with ``run``, on worker
    threads; a node behind a failure gets ``skip(node, root_address)`` instead, on this thread.
    ``needs`` (default: ``waits_on``) says which of those waits are needs: only a failure of
    what a node needs skips it; the other waits only order it. ``run`` reports a failure in its
    outcome; an exception from it is a bug and ends the walk once the nodes in flight have
    finished. Nodes are started in the order of ``waits_on`` when more are ready than may run.
    Once ``stop`` is set, the nodes in flight finish and every other is skipped (root ``STOPPING``)."""
    pace = pace or WallPace()
    limit = max(1, parallelism)
    before = {node: tuple(deps) for node, deps in waits_on.items()}
    needed = before if needs is None else {node: tuple(deps) for node, deps in needs.items()}
    outcomes: dict[N, Outcome] = {}
    sorter = graphlib.TopologicalSorter(before)
    sorter.prepare()
    root_of: dict[N, str] = {}  # a failed or skipped node -> the root failure behind it
    ready: deque[N] = deque()
    running: dict[Future[Outcome], N] = {}
    taken_in = 0  # finished nodes whose hold on the clock ends once their dependents are started
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="walk") as pool:
        try:
            while sorter.is_active():
                ready.extend(sorter.get_ready())
                # Only as many in flight as may run: waiting on queued work would cost a look at each.
                while ready and len(running) < limit:
                    node = ready.popleft()
                    blocked = _blocked(node, needed, root_of, stop)
                    if blocked is not None:
                        root_of[node] = blocked
                        outcomes[node] = skip(node, blocked)
                        sorter.done(node)
                        ready.extend(sorter.get_ready())
                    else:
                        pace.hold()
                        running[pool.submit(_run_paced, pace, run, node)] = node
                for _ in range(taken_in):
                    pace.release()
                taken_in = 0
                if not running:
                    continue
                done, _pending = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    node = running.pop(future)
                    taken_in += 1  # before result(): a bug that raises must not keep the clock held
                    _take_in(node, future.result(), outcomes, root_of, sorter)
        finally:
            _release_all(pace, taken_in, running)
    return outcomes


def _run_paced(pace: Pace, run: Callable[[N], Outcome], node: N) -> Outcome:
    with pace.working():
        return run(node)


def _blocked(
    node: N, needed: Mapping[N, tuple[N, ...]], root_of: Mapping[N, str], stop: threading.Event | None
) -> str | None:
    """The root failure that keeps ``node`` from running (``STOPPING`` once the walk must stop)."""
    if stop is not None and stop.is_set():
        return STOPPING
    return next((root_of[p] for p in needed.get(node, ()) if p in root_of), None)


def _take_in(
    node: N, outcome: Outcome, outcomes: dict[N, Outcome], root_of: dict[N, str], sorter: graphlib.TopologicalSorter[N]
) -> None:
    """Record a node's outcome; a failure becomes the root of what it holds back."""
    outcomes[node] = outcome
    if not outcome.ok:
        root_of[node] = outcome.address
    sorter.done(node)


def _release_all(pace: Pace, taken_in: int, running: Mapping[Future[Outcome], N]) -> None:
    """Normally nothing is left. After an error that is not the host's (a bug, Ctrl-C), the nodes
    in flight finish; each hold goes as its node ends, so the others' time moves."""
    for _ in range(taken_in):
        pace.release()
    for _finished in as_completed(list(running)):
        pace.release()


class PerThread:
    """One driver per worker thread, opened on first use (a SQLite connection is not shared
    between threads), all closed by ``close``."""

    def __init__(self, connect: Callable[[], Driver]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._opened: list[Driver] = []
        self._lock = threading.Lock()

    def get(self) -> Driver:
        if not hasattr(self._local, "driver"):
            self._local.driver = self._connect()
            with self._lock:
                self._opened.append(self._local.driver)
        found: Driver = self._local.driver
        return found

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for driver in opened:
            close = getattr(driver, "close", None)
            if close is not None:
                close()
