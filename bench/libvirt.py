"""xenctl on libvirt's test driver against the same calls made directly with libvirt-python.

In one process, on ``test:///default`` (libvirt's in-process test driver, one shared state per
process), with N domains (1,000 by default):

- direct: ``defineXML`` and ``create`` for each domain, one connection, one after another; then
  the reads a plan needs (the active domains, each one's XML and info), parsing each XML once.
- xenctl: ``apply`` of a spec of N domains (read the host, plan, create each domain and wait for
  it to be up, with xenctl's default parallelism of 10), then a no-op ``plan`` of the same spec
  (which reads every domain again), warm: its spec files cached as a second plan finds them;
  then the domains go and the same apply runs again, warm (the first apply of a process also
  loads xenctl's planning modules and compiles its schema: ``xenctl_apply_cold_s``).

Each is timed ``--repeat`` times (3) and the figures are the medians, in seconds, and the ratios
of xenctl's to direct; the goal is at most 1.2x. Progress goes to stdout; the run has a deadline
(``--budget``), and the domains each phase made are destroyed and undefined before the next.

    python bench/libvirt.py [--domains N] [--parallelism N] [--repeat N] [--profile]

bench/ leads sys.path when a benchmark runs, where this file's name would hide libvirt-python's
``libvirt`` module: this module takes bench/ off the path first (bench/run.py loads it as
``bench_libvirt``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]  # this file is not libvirt
import libvirt  # noqa: E402  (libvirt-python's)

from xenctl.app.apply import apply_specs  # noqa: E402
from xenctl.app.host import Settings, connect  # noqa: E402
from xenctl.app.options import PlanOptions, RunOptions  # noqa: E402
from xenctl.app.plans import plan  # noqa: E402

URL = "test:///default"
TARGETS = {"apply_over_direct": 1.2, "plan_over_direct": 1.2}
BUDGET = 600.0  # seconds for the whole run; a phase past it stops the run

# What a hand-written tool would define for each domain: what xenctl writes, as a template.
DIRECT_XML = (
    "<domain type='test'><name>{name}</name><memory unit='KiB'>1024</memory>"
    "<currentMemory unit='KiB'>1024</currentMemory><vcpu current='1'>1</vcpu>"
    "<os><type>xen</type><kernel>/boot/vmlinuz-2.6.18-xen</kernel><cmdline>root=/dev/xvda1 ro</cmdline></os>"
    "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>restart</on_crash><devices/>"
    "<metadata><tool:domain xmlns:tool='http://example.org/tool'><tool:owner source='{name}.yaml'/>"
    "</tool:domain></metadata></domain>"
)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def check(self, what: str) -> None:
        if time.monotonic() > self.end:
            raise SystemExit(f"libvirt bench: out of time during {what}")


def say(text: str) -> None:
    print(f"libvirt: {text}", flush=True)


def clear(conn: Any, prefix: str) -> None:
    """Destroy and undefine the domains named ``prefix``...: the next phase starts from the same host."""
    for dom in conn.listAllDomains():
        if dom.name().startswith(prefix):
            if dom.isActive():
                dom.destroy()
            dom.undefine()


def direct(conn: Any, domains: int, deadline: Deadline) -> tuple[float, float]:
    """defineXML + create for each domain, then a plan's reads: seconds of each."""
    started = time.perf_counter()
    for i in range(domains):
        conn.defineXML(DIRECT_XML.format(name=f"direct{i}")).create()
        if i % 250 == 249:
            deadline.check("direct creates")
            say(f"direct: {i + 1} of {domains} defined and started")
    made = time.perf_counter() - started
    started = time.perf_counter()
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        ET.fromstring(dom.XMLDesc(0))
        dom.info()
    read = time.perf_counter() - started
    say(f"direct: {domains} made in {made:.3f} s, read in {read:.3f} s")
    return made, read


class Progress:
    """apply's hooks: a line every 250 actions."""

    def __init__(self) -> None:
        self.done = 0

    def planned(self, _plan: Any) -> None:
        say("xenctl: planned; applying")

    def action_hooks(self) -> Progress:
        return self

    def started(self, _change: Any) -> None:
        return None

    def finished(self, _change: Any, _outcome: Any) -> None:
        self.done += 1
        if self.done % 250 == 0:
            say(f"xenctl: {self.done} actions done")


def write_spec(directory: str, domains: int) -> str:
    path = os.path.join(directory, "bench.yaml")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("domains:\n")
        for i in range(domains):
            stream.write(
                f"  - {{name: xenctl{i}, memory: 1M, kernel: /boot/vmlinuz-2.6.18-xen, root: /dev/xvda1 ro}}\n"
            )
    return path


def with_xenctl(
    spec: str, domains: int, profile: bool, parallelism: int, repeat: int, deadline: Deadline
) -> dict[str, float]:
    """xenctl's apply of the spec (cold: the process's first, which also loads xenctl's planning
    modules and compiles its schema), its first no-op plan, then ``repeat`` rounds of a no-op
    plan (the spec files cached, as a second plan finds them) and of the apply again on a host
    cleared of its domains (warm, as libvirt-python is for the direct run): seconds, the
    rounds' medians."""
    profiler = cProfile.Profile() if profile else None
    workers: list[cProfile.Profile] = []
    if profile:  # each of apply's worker threads gets a profiler of its own, from its start

        def in_thread(*_args: Any) -> None:
            workers.append(cProfile.Profile())
            workers[-1].enable()

        threading.setprofile(in_thread)

    def timed_apply(host: Any) -> float:
        started = time.perf_counter()
        report = apply_specs(host, [spec], PlanOptions(), RunOptions(parallelism), Progress(), command="apply")
        seconds = time.perf_counter() - started
        assert report.result is not None and report.result.ok, "the bench's apply failed"
        assert len(report.result.outcomes) == domains
        return seconds

    def timed_plan(host: Any) -> float:
        started = time.perf_counter()
        assert not plan(host, [spec], PlanOptions()).actionable, "the no-op plan has changes"
        return time.perf_counter() - started

    plans, warm = [], []
    with connect(URL, Settings()) as host:
        cold = timed_apply(host)
        say(f"xenctl: {domains} applied in {cold:.3f} s (cold)")
        first = timed_plan(host)
        for _round in range(repeat):
            deadline.check("xenctl's rounds")
            if profiler:
                profiler.enable()
            plans.append(timed_plan(host))
            clear(host.driver.conn, "xenctl")  # type: ignore[attr-defined]
            warm.append(timed_apply(host))
            if profiler:
                profiler.disable()
            say(f"xenctl: no-op plan in {plans[-1]:.3f} s; {domains} applied again in {warm[-1]:.3f} s")
    if profiler:
        threading.setprofile(None)  # type: ignore[arg-type]
        for worker in workers:
            worker.disable()
        pstats.Stats(profiler, *workers).sort_stats("tottime").print_stats(40)
    return {
        "xenctl_apply_cold_s": cold,
        "xenctl_apply_s": statistics.median(warm),
        "xenctl_plan_first_s": first,
        "xenctl_plan_s": statistics.median(plans),
    }


def run(
    domains: int = 1_000, profile: bool = False, budget: float = BUDGET, parallelism: int = 10, repeat: int = 3
) -> dict[str, float]:
    deadline = Deadline(budget)
    made, read = [], []
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-libvirt-") as tmp:
        os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")  # xenctl's lock and event log for the host
        os.environ["XENCTL_HOME"] = os.path.join(tmp, "home")
        conn = libvirt.open(URL)
        try:
            for _round in range(repeat):
                one_made, one_read = direct(conn, domains, deadline)
                made.append(one_made)
                read.append(one_read)
                clear(conn, "direct")
            figures = with_xenctl(write_spec(tmp, domains), domains, profile, parallelism, repeat, deadline)
            clear(conn, "xenctl")
        finally:
            conn.close()
    direct_made, direct_read = statistics.median(made), statistics.median(read)
    return {
        "domains": domains,
        "direct_define_create_s": direct_made,
        "direct_reads_s": direct_read,
        **figures,
        "apply_over_direct": figures["xenctl_apply_s"] / (direct_made + direct_read),
        "plan_over_direct": figures["xenctl_plan_s"] / direct_read,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=1_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's view of xenctl's apply and plan")
    parser.add_argument("--parallelism", type=int, default=10, help="apply's actions at once (xenctl's default: 10)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each timing; figures are medians")
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds the whole run may take")
    args = parser.parse_args()
    for key, value in run(args.domains, args.profile, args.budget, args.parallelism, args.repeat).items():
        target = TARGETS.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<28} {shown:>10}" + (f"  (target < {target})" if target else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
