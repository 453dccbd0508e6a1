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

The figures are the seconds of each and the ratios of xenctl's to direct; the goal is at most
1.2x. Progress goes to stdout; every phase has a deadline (``--budget``), and the domains each
phase made are destroyed and undefined before the next.

    python bench/libvirt.py [--domains N] [--parallelism N] [--profile]

bench/ leads sys.path when a benchmark runs, where this file's name would hide libvirt-python's
``libvirt`` module: this module takes bench/ off the path first (bench/run.py loads it as
``bench_libvirt``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
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


def with_xenctl(spec: str, domains: int, profile: bool, parallelism: int) -> tuple[float, float, float, float]:
    """xenctl's apply of the spec, its no-op plans (the first, and a second with the specs cached),
    and the apply again on a host cleared of its domains (warm: xenctl's modules are loaded and
    its schema compiled, as libvirt-python's are for the direct run): seconds of each."""
    profiler = cProfile.Profile() if profile else None
    workers: list[cProfile.Profile] = []
    if profile:  # each of apply's worker threads gets a profiler of its own, from its start

        def in_thread(*_args: Any) -> None:
            workers.append(cProfile.Profile())
            workers[-1].enable()

        threading.setprofile(in_thread)
    with connect(URL, Settings()) as host:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = apply_specs(host, [spec], PlanOptions(), RunOptions(parallelism), Progress(), command="apply")
        if profiler:
            profiler.disable()
        applied = time.perf_counter() - started
        assert report.result is not None and report.result.ok, "the bench's apply failed"
        assert len(report.result.outcomes) == domains
        say(f"xenctl: {domains} applied in {applied:.3f} s")
        started = time.perf_counter()
        first = plan(host, [spec], PlanOptions())
        planned = time.perf_counter() - started
        assert not first.actionable, first.text[:500]
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        plan(host, [spec], PlanOptions())
        if profiler:
            profiler.disable()
        again = time.perf_counter() - started
        say(f"xenctl: no-op plan in {planned:.3f} s, again in {again:.3f} s")
        clear(host.driver.conn, "xenctl")  # type: ignore[attr-defined]
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = apply_specs(host, [spec], PlanOptions(), RunOptions(parallelism), Progress(), command="apply")
        if profiler:
            profiler.disable()
        warm = time.perf_counter() - started
        assert report.result is not None and report.result.ok, "the bench's second apply failed"
        say(f"xenctl: {domains} applied again (warm) in {warm:.3f} s")
    if profiler:
        threading.setprofile(None)  # type: ignore[arg-type]
        for worker in workers:
            worker.disable()
        pstats.Stats(profiler, *workers).sort_stats("tottime").print_stats(40)
    return applied, planned, again, warm


def run(domains: int = 1_000, profile: bool = False, budget: float = BUDGET, parallelism: int = 10) -> dict[str, float]:
    deadline = Deadline(budget)
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-libvirt-") as tmp:
        os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")  # xenctl's lock and event log for the host
        os.environ["XENCTL_HOME"] = os.path.join(tmp, "home")
        conn = libvirt.open(URL)
        try:
            made, read = direct(conn, domains, deadline)
            clear(conn, "direct")
            deadline.check("the direct run")
            applied, planned, again, warm = with_xenctl(write_spec(tmp, domains), domains, profile, parallelism)
            clear(conn, "xenctl")
        finally:
            conn.close()
    return {
        "domains": domains,
        "direct_define_create_s": made,
        "direct_reads_s": read,
        "xenctl_apply_cold_s": applied,
        "xenctl_apply_s": warm,
        "xenctl_plan_first_s": planned,
        "xenctl_plan_s": again,
        "apply_over_direct": warm / (made + read),
        "plan_over_direct": again / read,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=1_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's view of xenctl's apply and plan")
    parser.add_argument("--parallelism", type=int, default=10, help="apply's actions at once (xenctl's default: 10)")
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds the whole run may take")
    args = parser.parse_args()
    for key, value in run(args.domains, args.profile, args.budget, args.parallelism).items():
        target = TARGETS.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<28} {shown:>10}" + (f"  (target < {target})" if target else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
