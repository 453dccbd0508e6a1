"""Boot makespan of generated autostart entries, against the critical path and one at a time.

500 entries (by default) go into a fresh auto directory, with a generated dependency graph: a
third in order groups, most of the rest ``after`` one to three earlier entries, some with an
``up`` delay. The host boots them on an EventClock, so the makespan (the boot's first start to
its last end) and each domain's time (create, boot, up delay) are exact and cost no wall time.

- critical path: the longest chain of the boot graph weighted by those times; no boot can be
  quicker. Target (issue 6): makespan within 1.1x of it.
- one at a time, as xendomains does: every entry in file-name order, ``xm create`` and then
  ``XENDOMAINS_CREATE_USLEEP`` (5 s) before the next; it knows no dependencies, so a domain
  may start before what it needs. Measured on a fresh host as well.
- one at a time in dependency order (``--parallelism 1``): the same boot, one domain after another.
- at the default ``--parallelism 10``: a domain's ``up`` delay keeps its place among the ten, so
  this is well above the critical path when many domains start at once.

    python bench/boot.py [--entries N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from typing import Any

from plan import big_profile  # the benchmark beside this one (its directory leads sys.path)

from xenctl.autostart.order import boot_order
from xenctl.autostart.runlevels import Report, boot
from xenctl.engine.api import DomainConfig
from xenctl.engine.sim import EventClock, open_host
from xenctl.engine.sim.profile import profile_from_dict
from xenctl.xmconfig.auto import AutoDir, Ordering, render_entry

TARGETS = {"makespan_over_critical_path": 1.1}
CREATE_USLEEP = 5.0  # xendomains' XENDOMAINS_CREATE_USLEEP, in seconds


def write_entries(auto: AutoDir, entries: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(entries):
        ordering = Ordering()
        if i < entries // 3:
            ordering = Ordering(order=rng.choice((10, 20, 30)), up=rng.choice((0.0, 0.0, 2.0, 5.0)))
        elif i < entries * 9 // 10:
            after = rng.sample(range(i), k=rng.choice((1, 1, 2, 3)))
            ordering = Ordering(after=tuple(f"dom{j:04d}" for j in after), up=rng.choice((0.0, 0.0, 0.0, 3.0)))
        config = DomainConfig(name=f"dom{i:04d}", memory=rng.choice((64, 128)), kernel="/boot/vmlinuz-2.6.18-xen")
        auto.write(f"dom{i:04d}", render_entry(config, ordering, "bench"))


def critical_path(auto: AutoDir, report: Report) -> float:
    """The longest chain of the boot graph, each entry weighted by the time it took."""
    entries, _broken = auto.read()
    order = boot_order(entries)
    took = {s.entry: s.ended - s.began for s in report.steps if s.entry is not None}
    longest: dict[str, float] = {}
    pending = dict(order.waits_on)
    while pending:  # the graph is acyclic: each round settles at least one node
        for node, before in list(pending.items()):
            if all(b in longest for b in before):
                longest[node] = max((longest[b] for b in before), default=0.0) + took.get(node, 0.0)
                del pending[node]
    return max(longest.values(), default=0.0)


def booted(entries: int, seed: int, parallelism: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-boot-") as scratch:
        home, auto = os.path.join(scratch, "home"), AutoDir(os.path.join(scratch, "xen"))
        write_entries(auto, entries, seed)
        clock = EventClock()
        profile = profile_from_dict(big_profile(entries * 3), file="bench")
        open_host(home, clock=clock, profile=profile).close()
        wall = time.perf_counter()
        report = boot(lambda: open_host(home, clock=clock), auto, parallelism=parallelism, pace=clock)
        wall = time.perf_counter() - wall
        assert report.ok, [f"{s.domain}: {s.detail}" for s in report.failed][:3]
        return {"makespan_s": report.took, "critical_path_s": critical_path(auto, report), "wall_s": wall}


def xendomains(entries: int, seed: int) -> float:
    """xendomains' start: each entry in file-name order, create, then 5 s; done when the last is up."""
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-xendomains-") as scratch:
        home, auto = os.path.join(scratch, "home"), AutoDir(os.path.join(scratch, "xen"))
        write_entries(auto, entries, seed)
        clock = EventClock()
        profile = profile_from_dict(big_profile(entries * 3), file="bench")
        found, _broken = auto.read()
        with open_host(home, clock=clock, profile=profile) as host:
            began = clock.now()
            last = None
            for entry in found:  # read() gives file-name order
                last = host.create_domain(entry.config)
                clock.sleep(CREATE_USLEEP)
            if last is not None:
                host.wait_domain(str(last.domid), "up")
            return clock.now() - began


def run(entries: int = 500, seed: int = 6) -> dict[str, Any]:
    enough = booted(entries, seed, parallelism=entries * 2)
    default = booted(entries, seed, parallelism=10)
    one = booted(entries, seed, parallelism=1)
    sequential = xendomains(entries, seed)
    return {
        "entries": entries,
        "critical_path_s": enough["critical_path_s"],
        "makespan_s": enough["makespan_s"],
        "makespan_over_critical_path": enough["makespan_s"] / enough["critical_path_s"],
        "makespan_at_parallelism_10_s": default["makespan_s"],
        "xendomains_one_at_a_time_s": sequential,
        "speedup_over_xendomains": sequential / enough["makespan_s"],
        "speedup_over_xendomains_at_parallelism_10": sequential / default["makespan_s"],
        "one_at_a_time_in_dependency_order_s": one["makespan_s"],
        "speedup_over_one_at_a_time": one["makespan_s"] / enough["makespan_s"],
        "wall_s": enough["wall_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    for key, value in run(args.entries, args.seed).items():
        print(f"{key:>38}: {value:.3f}" if isinstance(value, float) else f"{key:>38}: {value}")


if __name__ == "__main__":
    main()
