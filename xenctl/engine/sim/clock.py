"""Time for the simulated host: a wall clock for real runs, a virtual clock for tests.

A domain's state is derived from timestamps and ``now()``, so nothing needs a daemon: boot and
shutdown "take" their simulated duration and any process that looks later sees the progress.
``scale`` shrinks every simulated duration (``XENCTL_TIME_SCALE``; 0 makes them instant).
"""

from __future__ import annotations

import threading
import time
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
