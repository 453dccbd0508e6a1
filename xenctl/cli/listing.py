"""``xenctl list`` (xm list's exact layout) and ``xenctl events``.

``list`` on a simulated host reads its rows straight from the host's file (``engine.sim.xmlist``)
whenever that gives the driver's answer, so the command an operator types all day imports
neither the driver nor the live-state model; anything else takes the driver's path.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from xenctl.cli.context import host_of, host_url, time_scale, xen_root_of

if TYPE_CHECKING:
    from xenctl.engine.api import Event


class Listed(Protocol):
    """What a row of ``xm list`` shows: a ``Domain``, or the quick path's ``ListRow``."""

    @property
    def name(self) -> str: ...
    @property
    def domid(self) -> int: ...
    @property
    def memory(self) -> int: ...
    @property
    def vcpus(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def cpu_time(self) -> float: ...


HEADER = "%-40s %5s %5s %5s %10s %9s" % ("Name", "ID", "Mem", "VCPUs", "State", "Time(s)")


def format_domain(domain: Listed) -> str:
    return "%-40s %5s %5d %5d %10s %8.1f" % (
        domain.name,
        domain.domid,
        domain.memory,
        domain.vcpus,
        domain.state,
        domain.cpu_time,
    )


def format_list(domains: Iterable[Listed]) -> str:
    """xm list's table, sorted by name in ASCII order as xm sorts it."""
    rows = sorted(domains, key=lambda d: d.name)
    return "\n".join([HEADER, *(format_domain(d) for d in rows)])


def run_list(args: argparse.Namespace) -> int:
    rows = _quick_rows(args)
    if rows is not None:
        print(format_list(rows))
        return 0
    with host_of(args) as host:
        driver = host.driver
        domains = [driver.domain(ref) for ref in args.domains] if args.domains else list(driver.snapshot().domains)
    print(format_list(domains))
    return 0


def _quick_rows(args: argparse.Namespace) -> list[Listed] | None:
    """The rows read straight from a simulated host's file, or None for the driver's path."""
    from xenctl.app.urls import sim_home

    home = sim_home(host_url(args))
    xen_root = xen_root_of(args)
    time_scale()  # a bad XENCTL_TIME_SCALE is an error whichever path reads the host
    if home is None:
        return None
    from xenctl.engine.sim.xmlist import list_rows

    rows = list_rows(home, xen_root, time.time(), tuple(args.domains))
    return None if rows is None else list(rows)


def format_time(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def format_event(event: Event) -> str:
    line = f"{event.seq:>6}  {format_time(event.at)}  {event.op:<14} {event.obj:<24} {event.outcome:<5}"
    if event.message:
        line += "  " + event.message.replace("\n", " ")
    return f"{line}  [{event.actor}]" if event.actor else line


def run_events(args: argparse.Namespace) -> int:
    import json

    with host_of(args) as host:
        events = host.driver.events(since=args.since, limit=args.last)
    for event in events:
        if args.json:
            print(json.dumps(event.to_json()))
        else:
            print(format_event(event))
    return 0
