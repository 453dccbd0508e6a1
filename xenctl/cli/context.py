"""Where a command finds its host: the home directory, the clock, and opening the host."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from xenctl.errors import UsageError

if TYPE_CHECKING:
    from xenctl.engine.sim.host import SimHost

HOME_ENV = "XENCTL_HOME"
TIME_SCALE_ENV = "XENCTL_TIME_SCALE"


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
        raise UsageError(f"{TIME_SCALE_ENV}={raw!r} is not a number; 0 makes simulated time instant") from None
    if scale < 0 or scale != scale:
        raise UsageError(f"{TIME_SCALE_ENV}={raw!r} cannot be negative")
    return scale


def open_sim(home: str | None) -> SimHost:
    from xenctl.engine.sim import SystemClock, open_host

    return open_host(home or default_home(), clock=SystemClock(time_scale()), actor=f"xenctl pid {os.getpid()}")
