"""``xenctl runlevel``, ``boot``, ``halt`` and ``autostart list``: the host's autostart entries.

``runlevel N`` moves the simulated host: entering 3, 4 or 5 unbooted boots its entries (saved
domains restored first); leaving them stops the guests in reverse order. Each step is printed as
it starts and ends, then a report. Exit 1 if a step failed or an entry could not be read.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO, TypeVar

from xenctl.cli.context import default_home, open_sim, take_lock, time_scale, xen_root

if TYPE_CHECKING:
    from xenctl.autostart.runlevels import Report, Step, Transition
    from xenctl.engine.api import HostInfo, HostState
    from xenctl.reconcile.plan import Plan
    from xenctl.reconcile.walker import ScaledPace
    from xenctl.xmconfig.auto import AutoDir

OUTSIDE_LINKS_ENV = "XENCTL_AUTO_OUTSIDE_LINKS"
T = TypeVar("T")


def _host_pace() -> ScaledPace:
    from xenctl.reconcile.walker import ScaledPace

    return ScaledPace(time_scale())


def auto_dir(args: argparse.Namespace) -> AutoDir:
    from xenctl.xmconfig.auto import AutoDir

    allowed = bool(getattr(args, "allow_outside_links", False)) or os.environ.get(OUTSIDE_LINKS_ENV, "") in (
        "1",
        "yes",
        "true",
    )
    return AutoDir(xen_root(args.xen_root, args.home), outside_links=allowed)


class Progress:
    """One line as each step begins and ends, stamped with the seconds since the run began."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.lock = threading.Lock()
        self.stream = stream or sys.stdout

    def say(self, line: str) -> None:
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def began(self, domain: str, doing: str) -> None:
        self.say(f"{domain}: {doing}...")

    def ended(self, step: Step) -> None:
        detail = f" ({step.detail})" if step.detail else ""
        result = step.result.upper() if step.result == "failed" else step.result
        self.say(f"{step.domain}: {result}{detail} [{step.ended:.1f}s]")


def render_report(report: Report, transition: Transition | None = None) -> str:
    from xenctl.autostart.runlevels import summary

    title = "Boot" if report.action == "boot" else "Stop"
    if transition is not None:
        title += f" (runlevel {transition.before} -> {transition.after})"
    lines = [f"{title}: {summary(report)}"]
    if report.steps:
        width = max(len("DOMAIN"), *(len(s.domain) for s in report.steps))
        lines.append(f"  {'DOMAIN':<{width}}  {'BEGAN':>7}  {'ENDED':>7}  RESULT")
        for step in sorted(report.steps, key=lambda s: (s.began, s.domain)):
            detail = f": {step.detail}" if step.detail else ""
            lines.append(f"  {step.domain:<{width}}  {step.began:>6.1f}s  {step.ended:>6.1f}s  {step.result}{detail}")
    for broken in report.broken:
        lines.append(f"  broken entry {broken.file}: {broken.reason}")
    return "\n".join(lines)


def _check_parallelism(args: argparse.Namespace) -> None:
    from xenctl.errors import UsageError

    if args.parallelism < 1:
        raise UsageError("--parallelism must be 1 or more")


def _lock_and_run(args: argparse.Namespace, level: int | None) -> int:
    from xenctl.autostart.runlevels import BOOT_LEVELS, change_runlevel

    home = args.home or default_home()
    auto = auto_dir(args)
    _check_parallelism(args)
    with open_sim(home) as host:
        held = host.acquire_lock(" ".join(["xenctl", *sys.argv[1:]])[:200], timeout=args.lock_timeout)
        try:
            if level is None:  # boot: the level it is at if that boots, else 3
                current = host.snapshot().host.runlevel
                level = current if current in BOOT_LEVELS else 3
            transition = change_runlevel(
                lambda: open_sim(home),
                auto,
                level,
                parallelism=args.parallelism,
                hooks=Progress(),
                pace=_host_pace(),
            )
        finally:
            host.release_lock(held)
    if transition.report is None:
        print(f"Runlevel {transition.after}: {transition.note}; nothing to do.")
        return 0
    print()
    print(render_report(transition.report, transition))
    for broken in transition.report.broken:
        print(f"Error: broken autostart entry {broken.path}: {broken.reason}", file=sys.stderr)
    return 0 if transition.report.ok else 1


def run_runlevel(args: argparse.Namespace) -> int:
    return _lock_and_run(args, args.level)


def run_boot(args: argparse.Namespace) -> int:
    return _lock_and_run(args, None)


def run_halt(args: argparse.Namespace) -> int:
    return _lock_and_run(args, 0)


def run_list(args: argparse.Namespace) -> int:
    from xenctl.autostart.order import boot_order
    from xenctl.engine.api import Phase

    auto = auto_dir(args)
    entries, broken = auto.read()
    with open_sim(args.home) as host:
        live = host.snapshot()
    running = {d.name: d for d in live.domains}
    order = boot_order(entries, {d.name for d in live.domains if d.phase not in (Phase.SHUTDOWN, Phase.CRASHED)})
    place = order.position()
    blocked = order.blocked()
    rows = [("ENTRY", "DOMAIN", "MANAGED", "BOOT", "ORDER", "AFTER", "UP", "STOP", "STATE")]
    for entry in entries:
        o = entry.ordering
        domain = running.get(entry.domain)
        state = domain.state if domain is not None else "not running"
        boot = (
            "fails"
            if entry.file in order.failing
            else "skipped"
            if entry.file in blocked
            else str(place.get(entry.file, "-"))
        )
        rows.append(
            (
                entry.file,
                entry.domain,
                "yes" if entry.managed else "no",
                boot,
                "-" if o.order is None else str(o.order),
                ",".join(o.after) or "-",
                f"{o.up:g}s",
                f"{o.stop}/{o.stop_timeout:g}s/{o.on_timeout}",
                state,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(
        f"Autostart entries in {auto.path} (host at runlevel {live.host.runlevel}"
        f"{', booted' if live.host.booted else ''}):"
    )
    for row in rows if entries else ():  # the heading only above something to list
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for entry_file, reason in order.failing.items():
        print(f"  {entry_file} cannot start: {reason}")
    for entry_file, root in sorted(blocked.items()):
        print(f"  {entry_file} would be skipped: it needs {root}, which cannot start")
    for name in auto.passed_over():
        print(f"  {name}: passed over (an editor's or a package's file, not an entry)")
    for bad in broken:
        print(f"  {bad.file}: BROKEN: {bad.reason}")
    if not entries and not broken:
        print("  (none)")
    return 1 if broken else 0


def run_watch(args: argparse.Namespace) -> int:
    """``xenctl watch``: boot if the host has not booted, apply the specs, then follow changes."""
    import signal

    from xenctl.autostart.runlevels import BOOT_LEVELS, boot, change_runlevel
    from xenctl.autostart.watch import Watcher, run
    from xenctl.errors import PlanError, UsageError, XenctlError

    home = args.home or default_home()
    auto = auto_dir(args)
    _check_parallelism(args)
    spec_dirs = list(args.specs or [])
    for directory in spec_dirs:
        if not os.path.isdir(directory):
            raise UsageError(f"--specs {directory}: not a directory")
    progress = Progress()
    pace = _host_pace()
    stop = threading.Event()

    def stopping(signum: int, _frame: object) -> None:
        # A signal handler runs on the main thread between two of its steps, perhaps while that
        # thread holds the output's lock: it takes no lock, and says so straight to the descriptor.
        if not stop.is_set():
            message = f"{signal.Signals(signum).name}: stopping once the action in flight is done\n"
            os.write(sys.stderr.fileno(), message.encode())
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)

    def host_info() -> HostInfo:
        with open_sim(home) as host:
            return host.snapshot().host

    def locked(work: Callable[[], T]) -> T:
        with open_sim(home) as host:
            held = take_lock(host, "xenctl watch", args.lock_timeout, stop)
            try:
                return work()
            finally:
                host.release_lock(held)

    def booted_now() -> HostInfo | None:
        """The host, if it is at a boot runlevel and booted (read under the lock: a halt may
        have come between the event and this moment)."""
        info = host_info()
        return info if info.runlevel in BOOT_LEVELS and info.booted else None

    def boot_new(files: set[str]) -> Report | None:
        def work() -> Report | None:
            if booted_now() is None:
                progress.say(f"new entries ({', '.join(sorted(files))}) start at the next boot: the host is not booted")
                return None
            progress.say(f"new entries: {', '.join(sorted(files))}")
            return boot(
                lambda: open_sim(home),
                auto,
                parallelism=args.parallelism,
                pace=pace,
                hooks=progress,
                restore=False,
                only=files,
                stop=stop,
            )

        report = locked(work)
        if report is not None:
            progress.say(render_report(report))
        return report

    def apply() -> int:
        from xenctl.cli.plans import desired_state, make_plan_for, reconcile

        options = {"adopt": False, "destroy_data": False, "target": None}

        def make(live: HostState) -> Plan:
            if live.host.runlevel not in BOOT_LEVELS:
                raise PlanError(f"the host is at runlevel {live.host.runlevel}: the specs apply once it boots")
            return make_plan_for(live, desired_state(spec_dirs, home, live), options, auto)

        return reconcile(
            home,
            make,
            command="xenctl watch",
            parallelism=args.parallelism,
            lock_timeout=args.lock_timeout,
            stop=stop,
        )

    watcher = Watcher(
        auto, spec_dirs, host=host_info, boot_new=boot_new, apply=apply if spec_dirs else None, say=progress.say
    )

    def boot_if_unbooted() -> Transition | None:
        info = host_info()
        if info.runlevel not in BOOT_LEVELS or info.booted:
            return None
        progress.say(f"the host is at runlevel {info.runlevel} and has not booted: booting")
        return change_runlevel(
            lambda: open_sim(home),
            auto,
            info.runlevel,
            parallelism=args.parallelism,
            pace=pace,
            hooks=progress,
            stop=stop,
        )

    try:
        transition = locked(boot_if_unbooted)
        if transition is not None and transition.report is not None:
            progress.say(render_report(transition.report, transition))
        if spec_dirs and not stop.is_set():
            watcher.handle_specs_now()
    except XenctlError as exc:
        progress.say(f"Error: {exc.message}")
    if stop.is_set():
        progress.say("Stopped.")
        return 0
    watched = ", ".join([auto.path, *spec_dirs])
    run(
        watcher,
        stop=stop,
        quiet=args.quiet,
        ready=lambda: progress.say(f"Watching {watched} (Ctrl-C or SIGTERM stops)."),
    )
    progress.say("Stopped.")
    return 0
