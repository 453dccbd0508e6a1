"""Where a command finds its host: the home directory, the clock, and opening the host."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from xenctl.errors import UsageError

if TYPE_CHECKING:
    import threading

    from xenctl.engine.sim.host import SimHost
    from xenctl.engine.sim.lock import HostLock

HOME_ENV = "XENCTL_HOME"
TIME_SCALE_ENV = "XENCTL_TIME_SCALE"
XEN_ROOT_ENV = "XENCTL_XEN_ROOT"


def xen_root(given: str | None, home: str | None = None) -> str:
    """Where xm config files and the auto directory live: ``--xen-root``, ``$XENCTL_XEN_ROOT``, else
    the simulated host's own ``<home>/etc/xen``: the host is a simulation, so its /etc/xen is too,
    and the machine's real /etc/xen is never written unless a user points there."""
    root = given if given is not None else os.environ.get(XEN_ROOT_ENV) or default_xen_root(home)
    if not root:
        raise UsageError("--xen-root cannot be empty")
    return root


def default_xen_root(home: str | None = None) -> str:
    return os.path.join(home or default_home(), "etc", "xen")


def default_home() -> str:
    """``$XENCTL_HOME``, else ``$XDG_DATA_HOME/xenctl``, else ``~/.local/share/xenctl``."""
    if os.environ.get(HOME_ENV):
        return os.environ[HOME_ENV]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "xenctl")


def time_scale() -> float:
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = -1.0
    if not 0 <= scale <= 1_000_000:  # refuses nan and inf too
        raise UsageError(f"{TIME_SCALE_ENV}={raw!r} is not a scale; write a number from 0 (instant) up, such as 1")
    return scale


def open_sim(home: str | None) -> SimHost:
    from xenctl.engine.sim import SystemClock, open_host

    if home is not None and not home:
        raise UsageError("--home cannot be empty")
    home = home or default_home()
    # The xen root's xend-config.sxp decides Domain-0's ballooning and CPUs, as xend's would.
    clock, actor = SystemClock(time_scale()), f"xenctl pid {os.getpid()}"
    return open_host(home, clock=clock, actor=actor, xen_root=xen_root(None, home))


def take_lock(host: SimHost, command: str, timeout: float, stop: threading.Event | None = None) -> HostLock:
    """The host's lock, waiting up to ``timeout``; with ``stop``, a wait that ends once it is set."""
    from xenctl.errors import LockError

    if stop is None:
        return host.acquire_lock(command, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return host.acquire_lock(command, timeout=max(0.0, min(0.5, deadline - time.monotonic())))
        except LockError:
            if stop.is_set() or time.monotonic() >= deadline:
                raise
