"""Apply makespan against the plan's critical path, on a generated graph.

A generated spec (domains with LVM disks and random ``depends_on`` chains) is applied to a fresh
simulated host on an EventClock: virtual time moves only while every action in flight waits, so
the makespan (first start to last end) and each action's duration are exact and cost no wall time.
The critical path is the longest chain of the plan graph weighted by those durations: no walker
can finish sooner. Target (issue 5): makespan / critical path under 1.1 at enough parallelism.

    python bench/apply.py [--domains N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

import networkx as nx
from plan import big_profile  # the benchmark beside this one (its directory leads sys.path)

from xenctl.engine.sim import EventClock, open_host
from xenctl.engine.sim.profile import profile_from_dict
from xenctl.reconcile.apply import ApplyResult, apply_plan
from xenctl.reconcile.diff import diff
from xenctl.reconcile.plan import Plan, make_plan
from xenctl.spec.load import load_specs

TARGETS = {"makespan_over_critical_path": 1.1}


def write_spec(path: str, domains: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = ["storage:\n  volume_groups:\n"]
    lines += [f"    - {{name: vg{v}, pvs: [/dev/sdb{v + 1}]}}\n" for v in range(4)]
    lines.append("  volumes:\n")
    lines += [f"    - {{name: disk{i}, lvm: {{vg: vg{i % 4}, size: 4M}}}}\n" for i in range(domains)]
    lines.append("domains:\n")
    for i in range(domains):
        earlier = rng.sample(range(i), k=min(i, rng.choice((0, 0, 1, 1, 2))))
        needs = f", depends_on: [{', '.join(f'dom{j}' for j in earlier)}]" if earlier else ""
        memory = rng.choice((64, 128, 256))
        lines.append(
            f"  - {{name: dom{i}, memory: {memory}M, kernel: /boot/vmlinuz,"
            f" disks: [{{volume: disk{i}, vdev: xvda}}]{needs}}}\n"
        )
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("".join(lines))


def critical_path(plan: Plan, result: ApplyResult) -> float:
    """The longest chain of the plan graph, each action weighted by how long it took."""
    longest: dict[str, float] = {}
    for node in nx.topological_sort(plan.graph):
        before = max((longest[p] for p in plan.graph.predecessors(node)), default=0.0)
        longest[node] = before + result.outcomes[node].elapsed
    return max(longest.values(), default=0.0)


def walk(domains: int, seed: int, parallelism: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-apply-") as scratch:
        home, spec = os.path.join(scratch, "home"), os.path.join(scratch, "spec.yaml")
        write_spec(spec, domains, seed)
        clock = EventClock()
        profile = profile_from_dict(big_profile(domains * 4), file="bench")
        with open_host(home, clock=clock, profile=profile) as host:
            live = host.snapshot()
        desired = load_specs([spec])
        plan = make_plan(diff(desired, live), desired, live)
        origin = clock.now()
        wall = time.perf_counter()
        result = apply_plan(plan, lambda: open_host(home, clock=clock), parallelism=parallelism, pace=clock)
        wall = time.perf_counter() - wall
        assert result.ok, [o.error for o in result.failures][:3]
        starts = [o.started for o in result.outcomes.values() if o.started is not None]
        makespan = clock.now() - min(starts, default=origin)
        path = critical_path(plan, result)
        return {
            "actions": plan.graph.number_of_nodes(),
            "makespan_s": makespan,
            "critical_path_s": path,
            "makespan_over_critical_path": makespan / path if path else 1.0,
            "work_s": sum(o.elapsed for o in result.outcomes.values()),
            "wall_s": wall,
        }


def run(domains: int = 300, seed: int = 5) -> dict[str, float]:
    enough = walk(domains, seed, parallelism=domains * 2)
    default = walk(domains, seed, parallelism=10)
    return {
        "actions": enough["actions"],
        "critical_path_s": enough["critical_path_s"],
        "makespan_s": enough["makespan_s"],
        "makespan_over_critical_path": enough["makespan_over_critical_path"],
        "makespan_at_parallelism_10_s": default["makespan_s"],
        # no walk of 10 at a time can beat the critical path nor a tenth of all the work
        "lower_bound_at_parallelism_10_s": max(default["critical_path_s"], default["work_s"] / 10),
        "wall_s": enough["wall_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    for key, value in run(args.domains, args.seed).items():
        print(f"{key:>32}: {value:.3f}" if isinstance(value, float) else f"{key:>32}: {value}")


if __name__ == "__main__":
    main()
