"""Which host a command works on, from the command line and the environment.

``-c/--connect URI`` names the host (as virsh's ``-c``), else ``--home DIR`` (the simulated host
in DIR), else ``$XENCTL_CONNECT`` (as ``$LIBVIRT_DEFAULT_URI``), else the simulated host in
``$XENCTL_HOME`` or the default home. ``--xen-root`` or ``$XENCTL_XEN_ROOT`` move the xm config
files and ``auto/`` away from where the host keeps them; ``$XENCTL_TIME_SCALE`` scales a
simulated host's durations.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from xenctl.app.urls import CONNECT_ENV, default_home, sim_url
from xenctl.errors import UsageError

if TYPE_CHECKING:  # the Host handle is imported when a command opens a host, not to name one
    from xenctl.app.host import Host, Settings

TIME_SCALE_ENV = "XENCTL_TIME_SCALE"
XEN_ROOT_ENV = "XENCTL_XEN_ROOT"
OUTSIDE_LINKS_ENV = "XENCTL_AUTO_OUTSIDE_LINKS"

__all__ = ["command_line", "host_of", "host_url", "settings_of", "time_scale", "xen_root_of"]


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


def _xen_root(given: str | None) -> str | None:
    root = given if given is not None else os.environ.get(XEN_ROOT_ENV) or None
    if given is not None and not given:
        raise UsageError("--xen-root cannot be empty")
    return root


def host_url(args: argparse.Namespace) -> str:
    """The URI of the host the command line names (see the module's docstring)."""
    url: str | None = getattr(args, "connect", None)
    home: str | None = getattr(args, "home", None)
    if home is not None and not home:
        raise UsageError("--home cannot be empty")
    if url is not None and not url:
        raise UsageError("--connect cannot be empty")
    if url and home:
        raise UsageError("give --connect or --home, not both (--home DIR is --connect sim://DIR made absolute)")
    if url:
        return url
    if home:
        return sim_url(home)
    return os.environ.get(CONNECT_ENV) or sim_url(default_home())


def xen_root_of(args: argparse.Namespace) -> str | None:
    """The xen root the command line or the environment names (None: the driver's own)."""
    return _xen_root(getattr(args, "xen_root", None))


def settings_of(args: argparse.Namespace) -> Settings:
    from xenctl.app.host import Settings

    allowed = bool(getattr(args, "allow_outside_links", False)) or os.environ.get(OUTSIDE_LINKS_ENV, "") in (
        "1",
        "yes",
        "true",
    )
    return Settings(
        xen_root=_xen_root(getattr(args, "xen_root", None)),
        outside_links=allowed,
        time_scale=time_scale(),
        actor=f"xenctl pid {os.getpid()}",
    )


def host_of(args: argparse.Namespace) -> Host:
    """The host the command line names, not opened yet; close it (or use ``with``)."""
    from xenctl.app.host import connect

    return connect(host_url(args), settings_of(args))


def command_line() -> str:
    """This command as typed, for the host's lock (who holds it, doing what)."""
    return " ".join(["xenctl", *sys.argv[1:]])[:200]


def colour() -> bool:
    """Whether output may be coloured: a terminal, and no ``$NO_COLOR``."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
