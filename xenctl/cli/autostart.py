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
from dataclasses import replace
from typing import TYPE_CHECKING

from xenctl.app.options import RunOptions
from xenctl.cli.context import command_line, host_of
from xenctl.cli.progress import StepProgress, WatchOutput, render_report

if TYPE_CHECKING:
    from collections.abc import Sequence

    from xenctl.autostart.order import Order
    from xenctl.autostart.xendomains import Settings as XendomainsSettings
    from xenctl.engine.api import HostState
    from xenctl.xmconfig.auto import Entry


def _run_level(args: argparse.Namespace, level: int | None) -> int:
    from xenctl.app.runlevels import change_level

    run = RunOptions(args.parallelism, args.lock_timeout)
    with host_of(args) as host:
        transition = change_level(host, level, run, StepProgress(), command=command_line())
    if transition.report is None:
        print(f"Runlevel {transition.after}: {transition.note}; nothing to do.")
        return 0
    print()
    print(render_report(transition.report, transition))
    for broken in transition.report.broken:  # said once: a boot could not start it; a stop needs none
        where = broken.reason if broken.reason.startswith(broken.path) else f"{broken.path}: {broken.reason}"
        if transition.report.action == "boot":
            print(f"Error: broken autostart entry: {where}", file=sys.stderr)
        else:
            print(f"Warning: broken autostart entry passed over: {where}", file=sys.stderr)
    return 0 if transition.report.ok else 1


def run_runlevel(args: argparse.Namespace) -> int:
    return _run_level(args, args.level)


def run_boot(args: argparse.Namespace) -> int:
    return _run_level(args, None)


def run_halt(args: argparse.Namespace) -> int:
    return _run_level(args, 0)


def run_list(args: argparse.Namespace) -> int:
    from xenctl.autostart.order import boot_order
    from xenctl.autostart.xendomains import read_settings
    from xenctl.engine.api import Phase

    with host_of(args) as host:
        auto = host.autostart
        settings = read_settings(auto.xen_root)
        entries, broken = auto.read()
        live = host.driver.snapshot()
    order = boot_order(entries, {d.name for d in live.domains if d.phase not in (Phase.SHUTDOWN, Phase.CRASHED)})
    blocked = order.blocked()
    rows = _entry_rows(entries, order, live, settings)
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
    others = {d.name for d in live.domains if d.domid != 0} - {e.domain for e in entries}
    if any(not e.has_metadata for e in entries) or (others and not settings.auto_only):
        print(f"  {describe_settings(settings, live.host.save_dir)}")
    for name in auto.passed_over():
        print(f"  {name}: passed over (an editor's or a package's file, not an entry)")
    for bad in broken:
        print(f"  {bad.file}: BROKEN: {bad.reason}")
    if not entries and not broken:
        print("  (none)")
    return 1 if broken else 0


def _entry_rows(
    entries: Sequence[Entry], order: Order, live: HostState, settings: XendomainsSettings
) -> list[tuple[str, ...]]:
    """``xenctl autostart list``'s table: its heading, then a row an entry."""
    from xenctl.autostart.stopping import stop_mode

    running = {d.name: d for d in live.domains}
    place = order.position()
    blocked = order.blocked()
    rows: list[tuple[str, ...]] = [("ENTRY", "DOMAIN", "MANAGED", "BOOT", "ORDER", "AFTER", "UP", "STOP", "STATE")]
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
                stop_mode(entry, settings, live.host.save_dir).describe(),
                state,
            )
        )
    return rows


def describe_settings(settings: XendomainsSettings, host_save_dir: str) -> str:
    """One line: how the guests stop that no ``xenctl-autostart`` line speaks for."""
    from xenctl.autostart.stopping import stop_mode

    mode = stop_mode(None, replace(settings, auto_only=False), host_save_dir)
    steps = [_migration(mode.migrate)] if mode.migrate else []
    if mode.save_dir:
        steps.append(f"saved to {mode.save_dir}")
    if mode.shutdown:
        steps.append("shut down" + (f" within {mode.timeout:g}s, then destroyed" if mode.wait else ", not waited for"))
    who = "Entries without an xenctl-autostart line"
    if not settings.auto_only:
        who += " and guests without an entry"
    return f"{who} stop as {settings.source} says: {', else '.join(steps) or 'left running'}"


def _migration(value: str) -> str:
    """XENDOMAINS_MIGRATE as ``autostart list`` says it: where to, or why no guest will go."""
    from xenctl.autostart.stopping import migrate_target

    try:
        target = migrate_target(value)
    except ValueError as exc:
        return f"not migrated (XENDOMAINS_MIGRATE={value!r}: {exc})"
    return f"migrated{' live' if target.live else ''} to {target.url}"


def run_watch(args: argparse.Namespace) -> int:
    """``xenctl watch``: boot if the host has not booted, apply the specs, then follow changes."""
    import signal

    from xenctl.app.watch import watch
    from xenctl.errors import UsageError

    run = RunOptions(args.parallelism, args.lock_timeout)
    spec_dirs = list(args.specs or [])
    for directory in spec_dirs:
        if not os.path.isdir(directory):
            raise UsageError(f"--specs {directory}: not a directory")
    output = WatchOutput()
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
    with host_of(args) as host:
        watch(host, spec_dirs, run, output, stop=stop, quiet=args.quiet)
    output.say("Stopped.")
    return 0
