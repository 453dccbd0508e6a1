"""Runlevels: boot the autostart entries on entering 3, 4 or 5; stop the guests on leaving them.

Boot (xendomains' start, in dependency order and in parallel):

1. Restore the domains saved at the last stop (unless ``XENDOMAINS_RESTORE`` is false): every
   file in the host's save directory (and ``XENDOMAINS_SAVE``'s, if that is another) that starts
   with ``LinuxGuestRecord``, in name order, side by side. A restored domain's file is removed;
   a file that will not restore stays, and its domain is not started afresh (that would throw
   its saved state away).
2. Start the entries (``order.boot_order``): each waits until what it starts after is up and
   that domain's ``up`` delay has passed. A domain already there is skipped and said so. A
   failed start skips only what needs it.

Stop (xendomains' stop, in reverse dependency order and in parallel): ``stopping.stop``; each
guest as its entry's line says, or as xendomains' settings say (``xendomains``).

Every step is reported (``Hooks``) as it starts and ends, and returned in a ``Report``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

from xenctl.autostart.order import Order, boot_order, is_barrier
from xenctl.autostart.report import Hooks, Report, Run, Step, summary
from xenctl.autostart.stopping import Migrator, stop
from xenctl.autostart.xendomains import Settings, read_settings
from xenctl.engine.api import MANAGED_BY, Driver, Owner, Phase
from xenctl.errors import NotFoundError, XenctlError
from xenctl.reconcile.walker import Outcome, Pace
from xenctl.xmconfig.auto import AutoDir, Entry

__all__ = ["BOOT_LEVELS", "Hooks", "Report", "Step", "Transition", "boot", "change_runlevel", "stop", "summary"]

BOOT_LEVELS = (3, 4, 5)
SAVE_SIGNATURE = b"LinuxGuestRecord"  # xm save's header; xendomains restores only such files
UP_TIMEOUT = 600.0  # simulated seconds a guest may take to come up
stop_guests = stop  # the name change_runlevel uses: its own ``stop`` is the event that ends a boot early


def saved_files(save_dir: str) -> list[str]:
    """The save files in the save directory, by name: regular files that start as xm save's do."""
    found = []
    try:
        names = sorted(os.listdir(save_dir))
    except OSError:
        return []
    for name in names:
        path = os.path.join(save_dir, name)
        with contextlib.suppress(OSError):
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as stream:
                if stream.read(len(SAVE_SIGNATURE)) == SAVE_SIGNATURE:
                    found.append(path)
    return found


def boot(
    connect: Callable[[], Driver],
    auto: AutoDir,
    *,
    parallelism: int = 10,
    pace: Pace | None = None,
    hooks: Hooks | None = None,
    restore: bool = True,
    only: Collection[str] | None = None,
    up_timeout: float = UP_TIMEOUT,
    stop: threading.Event | None = None,
    settings: Settings | None = None,
) -> Report:
    """Restore the saved domains, then start the entries in order. ``only``: start just these
    entries (by file name); the others count as done if their domain runs, failed if not.
    ``settings``: xendomains' (read beside the xen root when not given)."""
    settings = settings if settings is not None else read_settings(auto.xen_root)
    run = Run("boot", connect, pace, hooks, stop)
    try:
        kept: dict[str, str] = {}  # domain -> a save file that would not restore
        if restore and settings.restore:
            host_save_dir = run.drivers.get().snapshot().host.save_dir
            save_dirs = dict.fromkeys([host_save_dir, settings.save_dir(host_save_dir) or host_save_dir])
            kept = _restore(run, list(save_dirs), parallelism)
        entries, broken = auto.read()
        run.report.broken = broken
        live = run.drivers.get().snapshot()
        running = {d.name for d in live.domains if d.phase not in (Phase.SHUTDOWN, Phase.CRASHED)}
        order = boot_order(entries, running)

        def start(node: str) -> Outcome:
            if is_barrier(node):
                return Outcome(node, True)
            entry = order.entries[node]
            began = run.elapsed()
            if node in order.failing:
                return run.step(entry.domain, "failed", False, began, node, order.failing[node])
            if only is not None and node not in only:
                up = entry.domain in running
                return Outcome(node, up, error=None if up else f"domain {entry.domain} is not running")
            return _start(run, run.drivers.get(), entry, began, up_timeout, kept.get(entry.domain))

        def shown(node: str) -> str | None:
            if node not in order.entries or (only is not None and node not in only):
                return None
            return order.entries[node].domain

        run.walk(order, start, parallelism, shown)
    finally:
        report = run.finish()
    return report


def _restore(run: Run, save_dirs: list[str], parallelism: int) -> dict[str, str]:
    files = [path for save_dir in save_dirs for path in saved_files(save_dir)]
    kept: dict[str, str] = {}

    def restore_one(path: str) -> Outcome:
        began = run.elapsed()
        name = os.path.basename(path)
        driver = run.drivers.get()
        try:
            saved = driver.saved_config(path)
            name = saved.name
            with contextlib.suppress(XenctlError):  # still being saved (a halt cut short): let it finish
                saving = driver.domain(f"migrating-{name}")
                driver.wait_domain(str(saving.domid), "gone", timeout=UP_TIMEOUT)
            there = driver.domain(name)
        except XenctlError:
            there = None
        if there is not None and saved.uuid is not None and there.uuid == saved.uuid:
            # Restored by a boot cut short before it could remove the file: the file is spent.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            detail = f"restored already (a boot cut short), as domain {there.domid}; {path} removed"
            return run.step(name, "restored", True, began, None, detail)
        run.hooks.began(name, "restoring")
        try:
            domain = driver.restore_domain(path)
        except XenctlError as exc:
            kept[name] = path
            return run.step(name, "failed", False, began, None, f"restore failed: {exc.message}; {path} stays")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return run.step(domain.name, "restored", True, began, None, f"from {path}, as domain {domain.domid}")

    order = Order({path: () for path in files}, {path: () for path in files})
    run.walk(order, restore_one, parallelism, os.path.basename)
    return kept


def _start(run: Run, driver: Driver, entry: Entry, began: float, up_timeout: float, kept: str | None) -> Outcome:
    """Start an entry's domain unless it is there; ``kept``: its save file, which did not restore."""
    name, node = entry.domain, entry.file
    try:
        current = driver.domain(name)
    except NotFoundError:
        current = None
    except XenctlError as exc:
        return run.step(name, "failed", False, began, node, exc.message)
    if current is not None:
        if current.phase in (Phase.SHUTDOWN, Phase.CRASHED):
            detail = f"domain {current.domid} is there, {current.phase.value}; destroy it to start it again"
            return run.step(name, "failed", False, began, node, detail)
        if current.phase is Phase.SAVING:
            detail = f"domain {current.domid} is being saved; restore it rather than start it afresh"
            return run.step(name, "failed", False, began, node, detail)
        if current.phase is Phase.SHUTTING_DOWN:  # going: start it again once it has gone
            try:
                gone = driver.wait_domain(str(current.domid), "gone", timeout=up_timeout)
            except XenctlError as exc:
                return run.step(name, "failed", False, began, node, exc.message)
            if not gone.reached:
                detail = f"domain {current.domid} is shutting down and has not gone in {up_timeout:g}s"
                return run.step(name, "failed", False, began, node, detail)
            current = None
    if current is not None and current.phase is Phase.BOOTING:
        # Started by a boot cut short, or by hand: its dependents still wait until it is up.
        run.hooks.began(name, "waiting for it to come up")
        return _until_up(run, driver, entry, began, current.domid, up_timeout, "already starting")
    if current is not None:
        return run.step(name, "already running", True, began, node, f"domain {current.domid}")
    if kept is not None:
        detail = f"its saved state in {kept} did not restore; not starting it afresh (that would lose it)"
        return run.step(name, "failed", False, began, node, detail)
    run.hooks.began(name, "starting")
    owner = Owner(MANAGED_BY, entry.source) if entry.managed else None
    try:
        made = driver.create_domain(entry.config, owner=owner)
    except XenctlError as exc:
        return run.step(name, "failed", False, began, node, exc.message)
    return _until_up(run, driver, entry, began, made.domid, up_timeout, "started")


def _until_up(run: Run, driver: Driver, entry: Entry, began: float, domid: int, timeout: float, result: str) -> Outcome:
    """Wait until the domain is up, then its ``up`` delay, before its dependents may start."""
    name, node = entry.domain, entry.file
    try:
        waited = driver.wait_domain(str(domid), "up", timeout=timeout)
        if not waited.reached:
            what = waited.phase.value if waited.phase else "gone"
            return run.step(name, "failed", False, began, node, f"did not come up ({what})")
        detail = f"domain {domid}"
        if entry.ordering.up > 0:
            driver.sleep(entry.ordering.up)
            detail += f", then {entry.ordering.up:g}s before its dependents"
    except XenctlError as exc:
        return run.step(name, "failed", False, began, node, exc.message)
    return run.step(name, result, True, began, node, detail)


@dataclass
class Transition:
    """What ``change_runlevel`` did: the levels, and the boot or stop it ran (if any)."""

    before: int
    after: int
    report: Report | None = None
    note: str = ""


def change_runlevel(
    connect: Callable[[], Driver],
    auto: AutoDir,
    level: int,
    *,
    parallelism: int = 10,
    pace: Pace | None = None,
    hooks: Hooks | None = None,
    stop: threading.Event | None = None,
    migrator: Migrator | None = None,
) -> Transition:
    """Move the host to ``level``: booting if it enters 3-5 unbooted, stopping if it is outside them.
    ``migrator`` moves guests at a stop as ``XENDOMAINS_MIGRATE`` asks (see ``stopping``).

    The runlevel is set before a stop and the booted mark cleared, so a watcher starts nothing
    while the host goes down; the booted mark is set only after a whole boot, so a boot cut short
    runs again (starting what is not running) when the host is next asked to be at 3-5, and so
    does a boot with a failed start. Outside 3-5 a stop runs every time: ``halt`` after a halt
    cut short stops what still runs. ``stop`` (SIGTERM) ends a boot early: nothing new starts.
    xendomains' settings are read first: a malformed file changes nothing.
    """
    settings = read_settings(auto.xen_root)
    driver = connect()
    try:
        host = driver.snapshot().host
        if level in BOOT_LEVELS:
            if host.booted and host.runlevel in BOOT_LEVELS:
                driver.set_runlevel(level, booted=True)
                return Transition(host.runlevel, level, None, "already booted")
            driver.set_runlevel(level, booted=False)
            report = boot(connect, auto, parallelism=parallelism, pace=pace, hooks=hooks, stop=stop, settings=settings)
            # Booted only when every start went through: after a failure (a fault since cleared, a
            # save file that would not restore), the next boot or watch tries what did not start.
            driver.set_runlevel(level, booted=not report.failed)
        else:
            driver.set_runlevel(level, booted=False)
            report = stop_guests(
                connect, auto, parallelism=parallelism, pace=pace, hooks=hooks, settings=settings, migrator=migrator
            )
        driver.record_event(
            "runlevel", str(level), "ok" if report.ok else "error", f"{report.action}: {summary(report)}"
        )
        return Transition(host.runlevel, level, report)
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            close()
