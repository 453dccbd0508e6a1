"""One read of the host shared by the requests that come at once.

Fifty pages polling the domain list, or fifty scripts reading ``/api/v1/domains``, would each
read the whole host (a snapshot: about 2 ms at 100 domains, most of a request's cost). A
snapshot is kept here with the host's change token read just before it: the next read of the
same host within ``MAX_AGE`` seconds whose token is unchanged gets the same snapshot, and any
change (an operation, by this service or by ``xenctl`` in a terminal, or a boot or shutdown
falling due) moves the token, so a read after a change always sees it. Only the CPU time a
running guest keeps adding can lag, by at most ``MAX_AGE``; the sample says when it was taken,
so CPU % stays right. A driver without a change token (libvirt) is read every time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from xenctl.app.host import Host
from xenctl.engine.api import HostState

MAX_AGE = 0.25  # seconds


@dataclass(frozen=True)
class Read:
    state: HostState
    at: float  # when it was read (time.time())
    token: str | None
    monotonic: float


class Reads:
    """The last snapshot of each host, by URL (see the module's docstring)."""

    def __init__(self, max_age: float = MAX_AGE) -> None:
        self.max_age = max_age
        self._last: dict[str, Read] = {}
        self._lock = threading.Lock()

    def snapshot(self, host: Host) -> tuple[HostState, float]:
        """The host's state, and the time.time() it was read at."""
        token = host.driver.change_token()
        now = time.monotonic()
        if token is not None:
            with self._lock:
                last = self._last.get(host.url)
            if last is not None and last.token == token and now - last.monotonic < self.max_age:
                return last.state, last.at
        read = Read(host.driver.snapshot(), time.time(), token, now)
        if token is not None:
            with self._lock:
                self._last[host.url] = read
        return read.state, read.at
