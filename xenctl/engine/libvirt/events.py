"""libvirt's lifecycle events, so that a wait wakes when a domain starts, pauses or stops instead
of asking the host every 50 ms.

libvirt delivers events only through an event loop the program runs, and only to connections
opened after the loop was registered. So the first wait that must sleep registers libvirt's
default event implementation (once per process), runs it in a daemon thread (one per process),
and opens a connection of its own to the host for the events: a ``LifecycleWatch``, which counts
the lifecycle events of the host's domains and wakes its waiters on each. A waiter reads the
count, then the domain's state, then sleeps until the count moves (so an event between the read
and the sleep is not lost) or a safety interval passes (an event that never comes costs a
second, not a hang).

The thread runs only while a watch is open: it stops within half a second of the last one
closing, so a process that is done waiting has no thread left (xenctl's spec loader forks a
helper only in a process without threads).

When events cannot be had (``XENCTL_LIBVIRT_EVENTS=0``, the loop could not be registered, the
host refuses the callback, or a second connection cannot be opened) ``watch`` gives None and
waits poll, as they always did.
"""

from __future__ import annotations

import contextlib
import os
import threading

import libvirt

RECHECK = 1.0  # seconds a waiter sleeps at most between two reads, events or not
TICK_MS = 500  # the loop wakes this often to see whether it is still wanted

_lock = threading.Lock()
_registered = False  # libvirt's default implementation: registered once, for the process's life
_loop: threading.Thread | None = None
_watches = 0  # watches open: the loop runs while there is one


def enabled() -> bool:
    """Events are used unless ``XENCTL_LIBVIRT_EVENTS`` is 0 (or no, off, false)."""
    return os.environ.get("XENCTL_LIBVIRT_EVENTS", "1").strip().lower() not in ("0", "no", "off", "false")


def running() -> bool:
    """The event loop's thread runs (while a watch is open)."""
    return _loop is not None


def _join() -> bool:
    """One more watch: the loop registered and its thread running; False when it cannot be."""
    global _registered, _loop, _watches
    with _lock:
        if not _registered:
            try:
                libvirt.virEventRegisterDefaultImpl()
                libvirt.virEventAddTimeout(TICK_MS, lambda _timer, _opaque: None, None)
            except libvirt.libvirtError:
                return False
            _registered = True
        _watches += 1
        if _loop is None:
            _loop = threading.Thread(target=_run, name="libvirt-events", daemon=True)
            _loop.start()
    return True


def _leave() -> None:
    global _watches
    with _lock:
        _watches -= 1


def _run() -> None:
    global _loop
    while True:
        libvirt.virEventRunDefaultImpl()
        with _lock:
            if _watches == 0:
                _loop = None
                return


class LifecycleWatch:
    """The lifecycle events of every domain of a host, on a connection of the watch's own, as a
    count waiters sleep on."""

    def __init__(self, url: str) -> None:
        self._changed = threading.Condition()
        self._count = 0
        self._conn = libvirt.open(url)  # after the loop's registration: it joins the loop
        try:
            self._id = self._conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._event, None)
        except libvirt.libvirtError:
            self._conn.close()
            raise

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
        with contextlib.suppress(libvirt.libvirtError):
            self._conn.close()
        _leave()


def watch(url: str) -> LifecycleWatch | None:
    """A watch on the lifecycle events of the host at ``url``, or None: then waits poll."""
    if not enabled() or not _join():
        return None
    try:
        return LifecycleWatch(url)
    except libvirt.libvirtError:
        _leave()
        return None
