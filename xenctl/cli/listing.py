"""``xenctl list`` (xm list's exact layout) and ``xenctl events``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable

from xenctl.cli.context import host_of
from xenctl.engine.api import Domain, Event

HEADER = "%-40s %5s %5s %5s %10s %9s" % ("Name", "ID", "Mem", "VCPUs", "State", "Time(s)")


def format_domain(domain: Domain) -> str:
    return "%-40s %5s %5d %5d %10s %8.1f" % (
        domain.name,
        domain.domid,
        domain.memory,
        domain.vcpus,
        domain.state,
        domain.cpu_time,
    )


def format_list(domains: Iterable[Domain]) -> str:
    """xm list's table, sorted by name in ASCII order as xm sorts it."""
    rows = sorted(domains, key=lambda d: d.name)
    return "\n".join([HEADER, *(format_domain(d) for d in rows)])


def run_list(args: argparse.Namespace) -> int:
    with host_of(args) as host:
        driver = host.driver
        domains = [driver.domain(ref) for ref in args.domains] if args.domains else list(driver.snapshot().domains)
    print(format_list(domains))
    return 0


def format_time(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def format_event(event: Event) -> str:
    line = f"{event.seq:>6}  {format_time(event.at)}  {event.op:<14} {event.obj:<24} {event.outcome:<5}"
    if event.message:
        line += "  " + event.message.replace("\n", " ")
    return f"{line}  [{event.actor}]" if event.actor else line


def run_events(args: argparse.Namespace) -> int:
    with host_of(args) as host:
        events = host.driver.events(since=args.since, limit=args.last)
    for event in events:
        if args.json:
            print(json.dumps(event.to_json()))
        else:
            print(format_event(event))
    return 0
