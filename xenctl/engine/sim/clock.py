"""Time for the simulated host: a wall clock for real runs, a virtual clock for tests.

A domain's state is derived from timestamps and ``now()``, so nothing needs a daemon: boot and
shutdown "take" their simulated duration and any process that looks later sees the progress.
``scale`` shrinks every simulated duration (``XENCTL_TIME_SCALE``; 0 makes them instant).
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections.abc import Iterator
from typing import Protocol


class Clock(Protocol):
    scale: float

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time, shared by every process working on a host."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale < 0:
            raise ValueError("time scale cannot be negative")
        self.scale = scale

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Time that moves only when a test (or a waiting caller) moves it; sleep returns at once."""

    def __init__(self, start: float = 1_200_000_000.0, scale: float = 1.0) -> None:
        self._now = start
        self.scale = scale
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock cannot go back")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)


class EventClock:
    """Virtual time for work running side by side: it moves only when all work in flight sleeps.

    A discrete-event clock. Whoever starts a piece of work (the apply walker, per action) calls
    ``hold`` before handing it to a thread and ``release`` once it has taken in the result; the
    thread doing it runs inside ``working()``. While any held work is awake, time stands still; a
    ``sleep`` gives the thread's hold back until time reaches its wake-up, and when nothing held is
    awake the clock jumps to the earliest wake-up. Two 8 s boots side by side thus take 8 s of
    virtual time, as they would on a real host, and no wall time at all.

    A thread outside ``working()`` that sleeps simply waits its turn; with nothing held, time moves
    for it at once, like ``VirtualClock``.
    """

    def __init__(self, start: float = 1_200_000_000.0, scale: float = 1.0) -> None:
        self._now = start
        self.scale = scale
        self._cond = threading.Condition()
        self._awake = 0  # held work not asleep
        self._wakes: list[tuple[float, int, bool]] = []  # sleepers: wake-up, arrival, holding
        self._sleepers = 0
        self._local = threading.local()

    def now(self) -> float:
        with self._cond:
            return self._now

    def hold(self) -> None:
        with self._cond:
            self._awake += 1

    def release(self) -> None:
        with self._cond:
            if self._awake <= 0:
                raise RuntimeError("released more work than was held")
            self._awake -= 1
            self._move_if_idle()

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Mark this thread as doing held work: its sleeps give the hold back while they last."""
        self._local.holding = True
        try:
            yield
        finally:
            self._local.holding = False

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        holding = bool(getattr(self._local, "holding", False))
        with self._cond:
            wake = self._now + seconds
            if wake <= self._now:
                return  # too short to move a clock this far on: nothing to wait for, nothing queued
            self._sleepers += 1
            heapq.heappush(self._wakes, (wake, self._sleepers, holding))
            if holding:
                self._awake -= 1
            self._move_if_idle()
            while self._now < wake:
                self._cond.wait()

    def _move_if_idle(self) -> None:
        """Jump to the earliest wake-up; the held sleepers it wakes count as awake from this moment,
        so time cannot move on again before they have had their turn."""
        moved = False
        while self._awake == 0 and self._wakes:  # sleepers outside working() hold nothing: on past them
            self._now = max(self._now, self._wakes[0][0])
            while self._wakes and self._wakes[0][0] <= self._now:
                _wake, _seq, holding = heapq.heappop(self._wakes)
                self._awake += holding
            moved = True
        if moved:
            self._cond.notify_all()
