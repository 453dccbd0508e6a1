"""The simulated Xen 3.x host: one SQLite file, a clock, and xend's rules.

The names below are imported when first used, so that a module of this package (``xmlist``, the
quick path of ``xenctl list``) can be imported without the whole driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xenctl.engine.sim.clock import EventClock, SystemClock, VirtualClock
    from xenctl.engine.sim.host import SimHost
    from xenctl.engine.sim.hostfile import host_exists, init_host, open_host

_HOMES = {
    "EventClock": "clock",
    "SystemClock": "clock",
    "VirtualClock": "clock",
    "SimHost": "host",
    "host_exists": "hostfile",
    "init_host": "hostfile",
    "open_host": "hostfile",
}

__all__ = ["EventClock", "SimHost", "SystemClock", "VirtualClock", "host_exists", "init_host", "open_host"]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
