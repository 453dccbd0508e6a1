"""No-op plans at scale: 10,000 domains and 30,000 volumes, in sync with specs in 100 files.

Figures: the no-op plan (load specs, snapshot, diff, plan) against ``xenctl list`` on the same
host, and a plan after editing one of the 100 files: the median and the slowest of five edits
of one domain's memory (the plan made from the last plan's basis), and one volume's size (a
plan made in full). Targets (issue 5): a no-op plan under 0.5 s
and under 2x ``list`` with specs unchanged since the last run; under 3 s with nothing cached;
under 0.7 s after editing one file. Issue 7 adds the same at 1,000 domains (``small_``), the
growth from 1,000 to 10,000 (per domain, near linear), and the peak memory of a cold plan.

    python bench/plan.py [--domains N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from xenctl.engine.sim import SystemClock, open_host
from xenctl.engine.sim.profile import profile_from_dict
from xenctl.reconcile.apply import apply_plan
from xenctl.reconcile.diff import diff
from xenctl.reconcile.plan import make_plan
from xenctl.spec.load import load_specs

FILES = 100
# Issue 17's targets (10,000 domains and 30,000 volumes in 100 files).
TARGETS = {
    "cold_plan_empty_host_s": 1.5,  # everything to create, nothing cached
    "first_plan_after_host_change_over_list": 0.5,  # the host's token moved: the plan cache is stale
    "noop_plan_cached_s": 0.15,
    "plan_after_one_edit_s": 0.3,
    "peak_memory_cold_plan_mib": 100,  # the cold plan against the empty host, helper process included
    "apply_ms_per_action": 1.0,  # the initial apply, instant simulation
    "noop_plan_cold_s": 3.0,
    "plan_over_list": 2.0,
    "small_plan_over_list": 2.0,
    "plan_growth_per_domain_ratio": 1.5,  # near linear: per domain, 10,000 cost at most 1.5x what 1,000 do
}


def write_specs(directory: str, domains: int) -> None:
    per_file = max(1, domains // FILES)
    vg_lines = "storage:\n  volume_groups:\n" + "".join(
        f"    - {{name: vg{v}, pvs: [/dev/sdb{v + 1}]}}\n" for v in range(4)
    )
    with open(os.path.join(directory, "groups.yaml"), "w", encoding="utf-8") as stream:
        stream.write(vg_lines)
    for f in range(FILES):
        lines = ["storage:\n  volumes:\n"]
        doms = ["domains:\n"]
        for i in range(f * per_file, min(domains, (f + 1) * per_file)):
            for k in range(3):
                lines.append(f"    - {{name: d{i}-{k}, lvm: {{vg: vg{(i * 3 + k) % 4}, size: 4M}}}}\n")
            disks = ", ".join(f"{{volume: d{i}-{k}, vdev: xvd{'abc'[k]}}}" for k in range(3))
            doms.append(f"  - {{name: dom{i:05d}, memory: 64M, kernel: /boot/vmlinuz, disks: [{disks}]}}\n")
        with open(os.path.join(directory, f"part{f:03d}.yaml"), "w", encoding="utf-8") as stream:
            stream.write("".join(lines) + "".join(doms))


def big_profile(domains: int) -> dict[str, Any]:
    per_vg = domains * 3 // 4 + 16
    return {
        "name": "bench",
        "memory": f"{domains * 70 + 4096}M",
        "cpus": 64,
        "dom0": {"memory": "2G", "min_mem": "512M"},
        "disks": {
            "sdb": {
                "size": f"{4 * (per_vg * 4 + 64)}M",
                "partitions": {f"sdb{i + 1}": {"size": f"{per_vg * 4 + 16}M"} for i in range(4)},
            }
        },
    }


def replace_once(path: str, old: str, new: str) -> None:
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    assert old in text, (path, old)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text.replace(old, new, 1))


def timed(command: list[str], env: dict[str, str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# Measured in the measured process: its own peak, and the peak of any process it started (the
# helper a cold plan forks to parse half the files), whichever is larger. Its own is the kernel's
# high-water mark of its memory since exec (VmHWM): ``ru_maxrss`` of RUSAGE_SELF would also count
# what the process held before exec, a copy of this big benchmark process.
PEAK = (
    "import resource, sys\n"
    "from xenctl.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "own = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "print(max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def cpu_timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user and system, the command's and its children's) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peak_mib(args: list[str], env: dict[str, str]) -> float:
    """The most memory a ``xenctl`` command held (its maximum resident set, or its helper's), in MiB."""
    done = subprocess.run([sys.executable, "-c", PEAK, *args], env=env, capture_output=True, text=True, check=False)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def run(domains: int = 10_000, small: int = 1_000) -> dict[str, float]:
    """The figures at ``domains``, and the no-op plans at ``small`` domains beside them."""
    figures = measure(domains)
    if small and small < domains:
        little = measure(small)
        figures.update({f"small_{key}": value for key, value in little.items() if key != "initial_apply_s"})
        figures["plan_growth_per_domain_ratio"] = (figures["noop_plan_host_read_s"] / domains) / (
            little["noop_plan_host_read_s"] / small
        )
    return figures


def measure(domains: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-plan-") as scratch:
        home, specs = os.path.join(scratch, "home"), os.path.join(scratch, "specs")
        os.makedirs(specs)
        write_specs(specs, domains)
        host = open_host(home, clock=SystemClock(0), profile=profile_from_dict(big_profile(domains), file="bench"))
        xen_root = os.path.join(scratch, "xen")
        env = {**os.environ, "XENCTL_HOME": home, "XENCTL_TIME_SCALE": "0", "XENCTL_XEN_ROOT": xen_root}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed xenctl runs byte-compiled, as users run it
        xenctl = [sys.executable, "-m", "xenctl"]
        print(f"plan: {domains} domains: the cold plan against the empty host", file=sys.stderr, flush=True)
        empty = []
        for _ in range(2):  # everything to create (4 groups, 30,000 volumes, 10,000 domains), nothing cached
            shutil.rmtree(os.path.join(home, "cache"), ignore_errors=True)
            empty.append(cpu_timed([*xenctl, "plan", specs], env))
        shutil.rmtree(os.path.join(home, "cache"), ignore_errors=True)
        peak = peak_mib(["plan", specs], env)
        print(f"plan: {domains} domains: the initial apply", file=sys.stderr, flush=True)
        desired = load_specs([specs])
        started = time.perf_counter()
        plan = make_plan(diff(desired, host.snapshot()), desired, host.snapshot())
        result = apply_plan(plan, lambda: open_host(home, clock=SystemClock(0)), parallelism=10)
        apply_s = time.perf_counter() - started
        host.close()
        assert result.ok, [o.error for o in result.failures][:3]
        print(f"plan: {domains} domains: plans of the host in sync", file=sys.stderr, flush=True)
        list_s = timed([*xenctl, "list"], env)
        cold = []
        for _ in range(2):
            shutil.rmtree(os.path.join(home, "cache"), ignore_errors=True)
            cold.append(timed([*xenctl, "plan", "--detailed-exitcode", specs], env, repeat=1))
        plan_s = timed([*xenctl, "plan", "--detailed-exitcode", specs], env)  # the caches are warm now
        read = []
        for _ in range(3):  # the specs' models cached, the host read and diffed again
            shutil.rmtree(os.path.join(home, "cache", "plans"), ignore_errors=True)
            read.append(timed([*xenctl, "plan", "--detailed-exitcode", specs], env, repeat=1))
        edited = os.path.join(specs, "part050.yaml")
        edits = []
        previous = "memory: 64M"
        for memory in (48, 40, 56, 32, 60):  # real changes, each new: one domain's memory, five times
            replace_once(edited, previous, f"memory: {memory}M")
            previous = f"memory: {memory}M"
            edits.append(timed([*xenctl, "plan", specs], env, repeat=1))
        planned = subprocess.run([*xenctl, "plan", specs], env=env, capture_output=True, text=True, check=True)
        assert "Plan: 0 to create, 1 to update" in planned.stdout, planned.stdout[-500:]
        changed = []
        for _ in range(3):  # the host changes and comes back (a guest paused and resumed): the token moves
            for step in ("pause", "unpause"):
                subprocess.run([*xenctl, step, "dom00000"], env=env, check=True, capture_output=True)
            changed.append(timed([*xenctl, "plan", specs], env, repeat=1))
        drifted = []
        for memory in ("60", "56", "64"):  # a guest's memory set by hand: the host did change
            subprocess.run([*xenctl, "mem-set", "dom00000", memory], env=env, check=True, capture_output=True)
            drifted.append(timed([*xenctl, "plan", specs], env, repeat=1))
        # A volume grown: the plan is made in full (only domain and entry edits take the short way)
        replace_once(edited, "size: 4M", "size: 8M")
        volume_edit_s = timed([*xenctl, "plan", specs], env, repeat=1)
        return {
            "domains": domains,
            "volumes": domains * 3,
            "cold_plan_empty_host_s": min(wall for wall, _cpu in empty),
            "cold_plan_empty_host_cpu_s": min(cpu for _wall, cpu in empty),
            "first_plan_after_host_change_s": statistics.median(changed),
            "first_plan_after_host_change_over_list": statistics.median(changed) / list_s,
            "first_plan_after_guest_drift_s": statistics.median(drifted),
            "first_plan_after_guest_drift_over_list": statistics.median(drifted) / list_s,
            "initial_apply_s": apply_s,
            "apply_ms_per_action": apply_s / len(plan.changes) * 1000,
            "xenctl_list_s": list_s,
            "noop_plan_cold_s": statistics.median(cold),
            "noop_plan_cached_s": plan_s,
            "noop_plan_host_read_s": statistics.median(read),
            "plan_after_one_edit_s": statistics.median(edits),
            "plan_after_one_edit_max_s": max(edits),
            "plan_after_volume_edit_s": volume_edit_s,
            "plan_over_list": plan_s / list_s,
            "host_read_over_list": statistics.median(read) / list_s,
            "peak_memory_cold_plan_mib": peak,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000, help="the smaller host beside it (0: none)")
    args = parser.parse_args()
    for key, value in run(args.domains, args.small).items():
        print(f"{key:>24}: {value:.3f}" if isinstance(value, float) else f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
