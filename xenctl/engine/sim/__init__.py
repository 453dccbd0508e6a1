"""The simulated Xen 3.x host: one SQLite file, a clock, and xend's rules."""

from xenctl.engine.sim.clock import EventClock, SystemClock, VirtualClock
from xenctl.engine.sim.host import SimHost
from xenctl.engine.sim.hostfile import host_exists, init_host, open_host

__all__ = ["EventClock", "SimHost", "SystemClock", "VirtualClock", "host_exists", "init_host", "open_host"]
