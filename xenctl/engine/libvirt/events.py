"""libvirt's lifecycle events, so that a wait wakes when a domain starts, pauses or stops instead
of asking the host every 50 ms.

libvirt delivers events only through an event loop the program runs: ``event_loop()`` registers
libvirt's default implementation and runs it in a daemon thread, once per process, before the
first connection is opened (a remote connection joins the loop when it is opened). A
``LifecycleWatch`` on a connection counts the lifecycle events of its domains and wakes its
waiters on each. A waiter reads the count, then the domain's state, then sleeps until the count
moves (so an event between the read and the sleep is not lost) or a safety interval passes (an
event that never comes costs a second, not a hang).

When events cannot be had (``XENCTL_LIBVIRT_EVENTS=0``, the loop could not be registered, or the
host refuses the callback) ``watch`` gives None and waits poll, as they always did.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import libvirt

RECHECK = 1.0  # seconds a waiter sleeps at most between two reads, events or not

_loop_lock = threading.Lock()
_loop: threading.Thread | None = None


def enabled() -> bool:
    """Events are used unless ``XENCTL_LIBVIRT_EVENTS`` is 0 (or no, off, false)."""
    return os.environ.get("XENCTL_LIBVIRT_EVENTS", "1").strip().lower() not in ("0", "no", "off", "false")


def event_loop() -> bool:
    """libvirt's default event loop, running in a daemon thread of this process (started once);
    False when events are turned off or libvirt would not register the loop."""
    global _loop
    if not enabled():
        return False
    with _loop_lock:
        if _loop is None:
            try:
                libvirt.virEventRegisterDefaultImpl()
            except libvirt.libvirtError:
                return False
            _loop = threading.Thread(target=_run, name="libvirt-events", daemon=True)
            _loop.start()
    return True


def _run() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


class LifecycleWatch:
    """The lifecycle events of every domain of one connection, as a count waiters sleep on."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._changed = threading.Condition()
        self._count = 0
        self._id = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._event, None)

    def _event(self, _conn: object, _dom: object, _event: int, _detail: int, _opaque: object) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    @property
    def count(self) -> int:
        """How many lifecycle events have come so far: read it before reading a domain's state."""
        with self._changed:
            return self._count

    def sleep(self, seen: int, seconds: float) -> None:
        """Sleep until an event after ``seen`` comes, or ``seconds`` (at most RECHECK) pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._count != seen, timeout=max(0.0, min(seconds, RECHECK)))

    def close(self) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            self._conn.domainEventDeregisterAny(self._id)


def watch(conn: Any) -> LifecycleWatch | None:
    """A watch on ``conn``'s lifecycle events, or None: then waits poll."""
    if _loop is None or not enabled():
        return None
    try:
        return LifecycleWatch(conn)
    except libvirt.libvirtError:
        return None
