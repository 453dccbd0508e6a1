"""A fleet of hosts: how well and how fast xenctl places domains (``xenctl.fleet.placement.place``).

Figures, one function each:

- placement quality: 200 small random fleets (3-6 hosts, some draining, labels, a volume group on
  one host) and 4-12 requests each (mixed sizes, labels, spread groups, storage of their own or on
  a host, a few pins). Each fleet's optimum, the fewest hosts that take every request, is found by
  exhaustive search (with a budget of search steps; a fleet that runs out counts as unsolved). The
  hosts ``place()`` uses over the optimum: the mean and the worst (target: at most 1.1x), and the
  requests it left out where the optimum placed them all (target: none).
- placement time: 10,000 domains on 50 hosts (labels, spread groups, storage), the median of 3.
- the fleet's operations on 50 simulated hosts and 200 domains (mixed sizes, spread groups, a label,
  a third depending on another): the plan (every host read, placed, each host planned; median of 3),
  the apply at a time scale where a guest's boot takes real time, its makespan over the critical
  path (the longest chain of dependencies, each domain weighted by the time from its creation to
  its guest up; target: 1.5), and the evacuation of the busiest host (live migrations one after
  another: the simulated makespan and the total downtime).

    python bench/fleet.py [--fleets 200] [--seed 7] [--domains 10000] [--hosts 50] [--fleet-domains 200]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from xenctl.fleet.placement import HostRoom, Request, place

TARGETS = {
    "placement_mean_over_optimum": 1.1,
    "placement_worst_over_optimum": 1.1,  # under 1.1 on fleets of at most 6 hosts: the optimum every time
    "placement_left_out": 1,  # none
    "placement_10000_on_50_s": 0.5,  # "well under a second"
    "fleet_apply_makespan_over_critical_path": 1.5,
}

SIZES = ((512, 1), (1024, 1), (2048, 2), (4096, 2), (4096, 4), (8192, 4), (12288, 8))


def small_fleet(rng: random.Random) -> tuple[list[HostRoom], list[Request]]:
    """A random fleet of 3-6 hosts and 4-12 requests that is tight enough for the choice of hosts to matter."""
    hosts = []
    for n in range(rng.randint(3, 6)):
        memory = rng.choice((8192, 16384, 16384, 24576, 32768))
        labels = frozenset(label for label in ("ssd", "gpu") if rng.random() < 0.3)
        storage = frozenset({"vg0"}) if n == 0 and rng.random() < 0.5 else frozenset()
        hosts.append(HostRoom(f"h{n}", memory, memory // 2048, labels, storage, accepting=rng.random() > 0.1))
    requests = []
    for n in range(rng.randint(4, 12)):
        memory, vcpus = rng.choice(SIZES)
        labels = frozenset({"ssd"}) if rng.random() < 0.15 else frozenset()
        spread = rng.choice(("web", "db")) if rng.random() < 0.3 else None
        storage = frozenset()
        if rng.random() < 0.15:
            storage = frozenset({rng.choice(("vg0", "img0", "img1"))})
        pin = rng.choice(hosts).name if rng.random() < 0.05 else None
        requests.append(Request(f"r{n}", memory, vcpus, labels, spread, pin, storage))
    return hosts, requests


class OutOfSteps(Exception):
    pass


def fits_on(hosts: Sequence[HostRoom], requests: Sequence[Request], budget: list[int]) -> bool:
    """Whether every request fits on ``hosts`` (every rule kept), by backtracking; ``budget[0]``: steps left."""
    order = sorted(requests, key=lambda r: (r.pin is None, -r.memory, -r.vcpus))
    memory = [h.memory for h in hosts]
    vcpus = [h.vcpus for h in hosts]
    groups: list[set[str]] = [set() for _ in hosts]
    made: dict[str, int] = {}
    everywhere = {key for h in hosts for key in h.storage}  # the rest are made by their first user

    def may(i: int, r: Request) -> bool:
        h = hosts[i]
        if not h.accepting or not r.labels <= h.labels or (r.pin is not None and r.pin != h.name):
            return False
        if r.spread is not None and r.spread in groups[i]:
            return False
        if memory[i] < r.memory or vcpus[i] < r.vcpus:
            return False
        return all(key in h.storage if key in everywhere else made.get(key, i) == i for key in r.storage)

    def go(n: int) -> bool:
        if n == len(order):
            return True
        budget[0] -= 1
        if budget[0] < 0:
            raise OutOfSteps
        r = order[n]
        tried: set[tuple[object, ...]] = set()
        for i in range(len(hosts)):
            if not may(i, r):
                continue
            mine = frozenset(key for key, at in made.items() if at == i)
            shape = (memory[i], vcpus[i], frozenset(groups[i]), hosts[i].labels, hosts[i].storage, mine)
            if shape in tried:
                continue  # a host just like one tried (same room, labels, storage, groups) gives the same answer
            tried.add(shape)
            memory[i] -= r.memory
            vcpus[i] -= r.vcpus
            if r.spread is not None:
                groups[i].add(r.spread)
            new = [key for key in r.storage if key not in everywhere and key not in made]
            for key in new:
                made[key] = i
            if go(n + 1):
                return True
            for key in new:
                del made[key]
            if r.spread is not None:
                groups[i].discard(r.spread)
            memory[i] += r.memory
            vcpus[i] += r.vcpus
        return False

    return go(0)


def optimum(hosts: Sequence[HostRoom], requests: Sequence[Request], upper: int, steps: int) -> int | None:
    """The fewest hosts that take every request (None: not all fit anywhere), searching below ``upper``."""
    budget = [steps]
    all_keys = {key for h in hosts for key in h.storage}
    for k in range(1, upper + 1):
        for subset in itertools.combinations(hosts, k):
            held = {key for h in subset for key in h.storage}
            if any(key in all_keys and key not in held for r in requests for key in r.storage):
                continue
            if sum(h.memory for h in subset if h.accepting) < sum(r.memory for r in requests):
                continue
            if fits_on(subset, requests, budget):
                return k
    return None


def placement_quality(fleets: int = 200, seed: int = 7, steps: int = 200_000) -> dict[str, Any]:
    rng = random.Random(seed)
    ratios: list[float] = []
    left_out = infeasible = unsolved = 0
    slowest = 0.0
    started = time.perf_counter()
    while len(ratios) + left_out < fleets:
        hosts, requests = small_fleet(rng)
        began = time.perf_counter()
        placed = place(hosts, requests)
        slowest = max(slowest, time.perf_counter() - began)
        used = len({p.host for p in placed if p.host is not None})
        try:
            best = optimum(hosts, requests, used if all(p.host for p in placed) else len(hosts), steps)
        except OutOfSteps:
            unsolved += 1
            continue
        if best is None:
            infeasible += 1  # not every request fits anywhere: no optimum to compare with
            continue
        if not all(p.host for p in placed):
            left_out += 1
            continue
        ratios.append(used / best)
        if (len(ratios) + left_out) % 50 == 0:
            print(f"fleet: placement quality: {len(ratios) + left_out} fleets", file=sys.stderr, flush=True)
    return {
        "placement_fleets": fleets,
        "placement_mean_over_optimum": statistics.fmean(ratios),
        "placement_worst_over_optimum": max(ratios),
        "placement_at_optimum_share": sum(r == 1 for r in ratios) / len(ratios),
        "placement_left_out": left_out,
        "placement_fleets_infeasible_skipped": infeasible,
        "placement_fleets_unsolved_skipped": unsolved,
        "placement_small_fleet_slowest_s": slowest,
        "placement_quality_s": time.perf_counter() - started,
    }


def big_fleet(domains: int, hosts: int, seed: int) -> tuple[list[HostRoom], list[Request]]:
    rng = random.Random(seed)
    sizes = [rng.choice(SIZES) for _ in range(domains)]
    room = int(sum(m for m, _ in sizes) / hosts / 0.7)  # the fleet 70% full
    fleet = [
        HostRoom(
            f"h{n:02d}",
            room,
            room // 1024,
            frozenset({"ssd"}) if n % 3 == 0 else frozenset(),
            frozenset({f"vg{n}"}) if n % 5 == 0 else frozenset(),
        )
        for n in range(hosts)
    ]
    requests = []
    for n, (memory, vcpus) in enumerate(sizes):
        labels = frozenset({"ssd"}) if n % 10 == 3 else frozenset()  # a tenth on a third of the hosts
        spread = f"g{n % 500}" if n % 4 == 0 else None  # 125 groups of 20
        storage = frozenset({f"vg{5 * (n // 20 % 10)}"}) if n % 20 == 1 else frozenset()  # 50 on each VG's host
        requests.append(Request(f"d{n:05d}", memory, vcpus, labels, spread, None, storage))
    return fleet, requests


def placement_speed(domains: int = 10_000, hosts: int = 50, seed: int = 7) -> dict[str, Any]:
    fleet, requests = big_fleet(domains, hosts, seed)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        placed = place(fleet, requests)
        times.append(time.perf_counter() - started)
        print(f"fleet: {domains} domains on {hosts} hosts: {times[-1]:.3f} s", file=sys.stderr, flush=True)
    return {
        f"placement_{domains}_on_{hosts}_s": statistics.median(times),
        f"placement_{domains}_on_{hosts}_hosts_used": len({p.host for p in placed if p.host}),
        f"placement_{domains}_on_{hosts}_left_out": sum(p.host is None for p in placed),
    }


def _fleet_specs(directory: str, hosts: int, domains: int, seed: int) -> str:
    """A spec of ``hosts`` simulated hosts (relocation allowed between them) and ``domains`` domains:
    mixed sizes, a fifth in spread groups, a tenth needing a label, a third depending on an earlier one."""
    import os

    rng = random.Random(seed)
    lines = ["hosts:"]
    for n in range(hosts):
        home = os.path.join(directory, f"h{n:02d}")
        os.makedirs(os.path.join(home, "etc", "xen"), exist_ok=True)
        with open(os.path.join(home, "etc", "xen", "xend-config.sxp"), "w", encoding="utf-8") as config:
            config.write("(xend-relocation-server yes)\n")
        labels = "[ssd]" if n % 5 == 0 else "[]"
        lines.append(f"  - {{name: h{n:02d}, connect: 'sim://{home}', labels: {labels}}}")
    lines.append("domains:")
    for n in range(domains):
        memory = rng.choice((128, 256, 256, 512, 1024))
        extra = []
        if rng.random() < 0.2:
            extra.append(f"spread: g{n % 7}")
        if rng.random() < 0.1:
            extra.append("host_labels: [ssd]")
        if n and rng.random() < 0.33:
            extra.append(f"depends_on: [d{rng.randrange(n):03d}]")
        more = ", " + ", ".join(extra) if extra else ""
        lines.append(f"  - {{name: d{n:03d}, memory: {memory}M, kernel: /boot/vmlinuz-2.6-xen{more}}}")
    specs = os.path.join(directory, "specs")
    os.makedirs(specs, exist_ok=True)
    with open(os.path.join(specs, "fleet.yaml"), "w", encoding="utf-8") as spec:
        spec.write("\n".join(lines) + "\n")
    return specs


class _Quiet:
    def planned(self, plan: object) -> None:
        return None

    def action_hooks(self) -> Any:
        from xenctl.reconcile.apply import _Quiet as QuietHooks

        return QuietHooks()


def fleet_operations(hosts: int = 50, domains: int = 200, seed: int = 7, scale: float = 0.02) -> dict[str, Any]:
    """Plan, apply and evacuate a fleet of simulated hosts (time scale ``scale`` for the apply: a
    guest's boot takes its simulated seconds times ``scale``)."""
    import tempfile

    from xenctl.app.host import Settings
    from xenctl.app.options import PlanOptions, RunOptions
    from xenctl.fleet.apply import FleetRun, fleet_apply
    from xenctl.fleet.coordinate import LocalCoordinator
    from xenctl.fleet.evacuate import evacuate
    from xenctl.fleet.members import opened
    from xenctl.fleet.plan import fleet_plan
    from xenctl.spec.checks import dependency_edges
    from xenctl.spec.load import load_specs

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="xenctl-fleet-bench-") as directory:
        specs = _fleet_specs(directory, hosts, domains, seed)
        desired = load_specs([specs])
        instant = Settings(time_scale=0)
        with opened(desired.hosts, instant):
            pass  # the hosts are made on first open: not part of a plan
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with opened(desired.hosts, instant) as members:
                plan = fleet_plan(desired, members, PlanOptions(), values=False)
            times.append(time.perf_counter() - started)
        figures["fleet_plan_s"] = round(statistics.median(times), 3)
        figures["fleet_plan_changes"] = sum(len(p.actionable) for p in plan.plans.values())
        print(f"  fleet: planned {hosts} hosts x {domains} domains", file=sys.stderr, flush=True)

        how = FleetRun(RunOptions(10), LocalCoordinator(), "bench", "bench/fleet.py", lambda _name: _Quiet())
        with opened(desired.hosts, Settings(time_scale=scale)) as members:
            started = time.perf_counter()
            report = fleet_apply(desired, members, PlanOptions(), how)
            wall = time.perf_counter() - started
            from xenctl.fleet.members import refresh

            refresh(members)
            live = {d.name: d for m in members.values() for d in m.live.domains if d.domid != 0}
        assert report.ok, report.errors
        took = {name: max(0.0, d.up_at - d.created_at) for name, d in live.items()}
        edges = dependency_edges(desired)
        longest: dict[str, float] = {}

        def chain(name: str) -> float:
            if name not in longest:
                longest[name] = took.get(name, 0.0) + max((chain(dep) for dep in edges.get(name, ())), default=0.0)
            return longest[name]

        critical = max(chain(name) for name in live)
        figures["fleet_apply_wall_s"] = round(wall, 2)
        # The hosts' clocks are real time, every simulated duration times ``scale``: both in real seconds.
        figures["fleet_apply_critical_path_s"] = round(critical, 3)
        figures["fleet_apply_makespan_over_critical_path"] = round(wall / critical, 2)
        print(f"  fleet: applied, {len(live)} domains up; evacuating one host", file=sys.stderr, flush=True)

        with opened(desired.hosts, instant) as members:
            busiest = max(members.values(), key=lambda m: sum(1 for d in m.live.domains if d.domid != 0))
            started = time.perf_counter()
            result = evacuate(desired, members, busiest.name, coordinator=LocalCoordinator(), holder="bench")
            figures["evacuation_wall_s"] = round(time.perf_counter() - started, 2)
        figures["evacuation_moved"] = len(result.moved)
        figures["evacuation_stayed"] = len(result.stayed)
        figures["evacuation_makespan_simulated_s"] = round(result.makespan, 1)
        figures["evacuation_total_downtime_s"] = round(result.downtime, 3)
    return figures


def run(
    fleets: int = 200,
    seed: int = 7,
    domains: int = 10_000,
    hosts: int = 50,
    show: Callable[[str, Any], None] | None = None,
    fleet_domains: int = 200,
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    parts = (
        lambda: placement_quality(fleets, seed),
        lambda: placement_speed(domains, hosts, seed),
        lambda: fleet_operations(hosts, fleet_domains, seed),
    )
    for part in parts:
        got = part()
        figures.update(got)
        if show is not None:
            for key, value in got.items():
                show(key, value)
    return figures


def _show(key: str, value: Any) -> None:
    target = TARGETS.get(key)
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{key:>42}: {shown}" + (f"  (target: under {target})" if target is not None else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--fleet-domains", type=int, default=200)
    args = parser.parse_args()
    run(args.fleets, args.seed, args.domains, args.hosts, show=_show, fleet_domains=args.fleet_domains)


if __name__ == "__main__":
    main()
