"""Waiting for a libvirt domain: woken by libvirt's lifecycle events, or polling without them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import libvirt

from xenctl.engine.api import DOMAIN0, Domain, Phase, WaitResult
from xenctl.engine.libvirt import events, reading
from xenctl.errors import NotFoundError, UsageError


class LibvirtWaiting:
    """The waiting half of ``LibvirtDriver``."""

    conn: Any
    url: str
    _watch: events.LifecycleWatch | None
    _watched: bool  # a watch was asked for (None then: waits poll)

    if TYPE_CHECKING:  # ``LibvirtDriver`` defines it

        def domain(self, ref: str) -> Domain: ...

    def _phase(self, domid: int) -> Phase | None:
        """The state of the running domain ``domid``; None when there is none."""
        try:
            dom = self.conn.lookupByID(domid)
            state = dom.info()[0] if dom is not None and dom.isActive() else None
        except libvirt.libvirtError:
            return None
        return None if state is None else reading.PHASES.get(state, Phase.RUNNING)

    def lifecycle_watch(self) -> events.LifecycleWatch | None:
        """The watch on this host's lifecycle events (made on first use, with a connection of its
        own), or None: waits poll."""
        if not self._watched:
            self._watched = True
            self._watch = events.watch(self.url)
        return self._watch

    def wait_domain(self, ref: str, until: str, timeout: float | None = None) -> WaitResult:
        """Wait until the domain is ``up`` or ``gone`` (this instance: a domain that reboots under
        a new domid is gone), or ``timeout`` passes; returns at once, not reached, when the
        awaited state can no longer come. Woken by libvirt's lifecycle events where they can be
        had, else polling every 50 ms (see events.py)."""
        if until not in ("up", "gone"):
            raise UsageError(f"cannot wait until {until!r}; expected 'up' or 'gone'")
        if ref in (DOMAIN0, "0"):
            return WaitResult(until == "up", Phase.RUNNING, 0.0)
        start = time.monotonic()
        try:
            domid = ref if ref.isdigit() else str(self.domain(ref).domid)
        except NotFoundError:
            if until == "gone":
                return WaitResult(True, None, 0.0)
            raise
        watch = self._watch  # asked for only when a wait must first sleep
        unseen = ref.isdigit()  # not looked up yet: not there at the first look is not found
        while True:
            seen = watch.count if watch is not None else 0
            waited = time.monotonic() - start
            phase = self._phase(int(domid))  # the state alone: a wait needs no XML
            if phase is None:
                if unseen and until == "up":
                    raise NotFoundError(f"domain {ref!r} does not exist", op="wait", obj=ref)
                return WaitResult(until == "gone", None, waited)
            unseen = False
            if until == "up" and phase in (Phase.RUNNING, Phase.SHUTTING_DOWN):
                return WaitResult(True, phase, waited)
            if until == "up" and phase in (Phase.SHUTDOWN, Phase.CRASHED):
                return WaitResult(False, phase, waited)
            if timeout is not None and waited >= timeout:
                return WaitResult(False, phase, waited)
            if watch is None and not self._watched:
                watch = self.lifecycle_watch()
                if watch is not None:
                    continue  # read again, now that no event can slip by unseen
            if watch is None:
                time.sleep(0.05)
            else:
                watch.sleep(seen, events.RECHECK if timeout is None else timeout - waited)
