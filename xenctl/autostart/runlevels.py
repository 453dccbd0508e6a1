"""Runlevels: boot the autostart entries on entering 3, 4 or 5; stop the guests on leaving them.

Boot (xendomains' start, in dependency order and in parallel):

1. Restore the domains saved at the last stop: every file in the save directory that starts
   with ``LinuxGuestRecord``, in name order, side by side. A restored domain's file is removed;
   a file that will not restore stays, and its domain is not started afresh (that would throw
   its saved state away).
2. Start the entries (``order.boot_order``): each waits until what it starts after is up and
   that domain's ``up`` delay has passed. A domain already there is skipped and said so. A
   failed start skips only what needs it.

Stop (xendomains' stop, in reverse dependency order and in parallel): each guest by its entry's
stop mode, ``save`` (to ``<save dir>/<name>``; if the save fails, a shutdown) or ``shutdown``;
one that has not gone after its stop timeout is destroyed, or left running if its entry says so.
Guests without an entry are shut down first, with the defaults.

Every step is reported (``Hooks``) as it starts and ends, and returned in a ``Report``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from xenctl.autostart.order import Order, boot_order, is_barrier, stop_order
from xenctl.engine.api import DOMAIN0, MANAGED_BY, Driver, Owner, Phase
from xenctl.errors import NotFoundError, XenctlError
from xenctl.reconcile.walker import STOPPING, Outcome, Pace, PerThread, WallPace, walk
from xenctl.xmconfig.auto import AutoDir, Broken, Entry, Ordering

BOOT_LEVELS = (3, 4, 5)
SAVE_SIGNATURE = b"LinuxGuestRecord"  # xm save's header; xendomains restores only such files
UP_TIMEOUT = 600.0  # simulated seconds a guest may take to come up


@dataclass(frozen=True)
class Step:
    """What happened to one domain: ``result`` is restored, started, already running, saved,
    shut down, destroyed, left running, failed or skipped; times in seconds from the run's start."""

    domain: str
    result: str
    ok: bool
    began: float
    ended: float
    entry: str | None = None
    detail: str = ""


@dataclass
class Report:
    """A boot or a stop: every step, the entries that could not be read, and the time it took."""

    action: str  # "boot" or "stop"
    steps: list[Step] = field(default_factory=list)
    broken: tuple[Broken, ...] = ()
    took: float = 0.0

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if not s.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.broken


class Hooks(Protocol):
    """Progress, called from worker threads: a step begins (``doing`` says what), a step ends."""

    def began(self, domain: str, doing: str) -> None: ...
    def ended(self, step: Step) -> None: ...


class _Quiet:
    def began(self, domain: str, doing: str) -> None:
        return None

    def ended(self, step: Step) -> None:
        return None


class _Run:
    """What one boot or stop shares across its threads: drivers, the clock, the report."""

    def __init__(
        self,
        action: str,
        connect: Callable[[], Driver],
        pace: Pace | None,
        hooks: Hooks | None,
        stop: threading.Event | None = None,
    ) -> None:
        self.stop = stop
        self.drivers = PerThread(connect)
        self.pace = pace or WallPace()
        self.hooks = hooks or _Quiet()
        self.report = Report(action)
        self.start = self.pace.now()

    def elapsed(self) -> float:
        return self.pace.now() - self.start

    def step(
        self, domain: str, result: str, ok: bool, began: float, entry: str | None = None, detail: str = ""
    ) -> Outcome:
        step = Step(domain, result, ok, began, self.elapsed(), entry, detail)
        self.report.steps.append(step)  # list.append is atomic: threads may add at once
        self.hooks.ended(step)
        return Outcome(entry or domain, ok, step.ended - began, None if ok else detail)

    def walk(
        self, order: Order, run: Callable[[str], Outcome], parallelism: int, shown: Callable[[str], str | None]
    ) -> None:
        """Walk ``order``; a skipped node is reported under the domain ``shown`` names (None: a
        barrier or a node outside this run, skipped without a word)."""

        def skip(node: str, root: str) -> Outcome:
            name = shown(node)
            if name is None:
                return Outcome(node, False, skipped_because=root)
            why = "not started: xenctl is stopping" if root == STOPPING else f"{root} did not start"
            entry = node if node in order.entries else None
            return self.step(name, "skipped", False, self.elapsed(), entry, why)

        walk(order.waits_on, run, skip, parallelism=parallelism, pace=self.pace, needs=order.needs, stop=self.stop)

    def finish(self) -> Report:
        self.drivers.close()
        self.report.took = self.elapsed()
        return self.report


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
) -> Report:
    """Restore the saved domains, then start the entries in order. ``only``: start just these
    entries (by file name); the others count as done if their domain runs, failed if not."""
    run = _Run("boot", connect, pace, hooks, stop)
    try:
        kept: dict[str, str] = {}  # domain -> a save file that would not restore
        if restore:
            kept = _restore(run, run.drivers.get().snapshot().host.save_dir, parallelism)
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


def _restore(run: _Run, save_dir: str, parallelism: int) -> dict[str, str]:
    files = saved_files(save_dir)
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


def _start(run: _Run, driver: Driver, entry: Entry, began: float, up_timeout: float, kept: str | None) -> Outcome:
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


def _until_up(
    run: _Run, driver: Driver, entry: Entry, began: float, domid: int, timeout: float, result: str
) -> Outcome:
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


def stop(
    connect: Callable[[], Driver],
    auto: AutoDir,
    *,
    parallelism: int = 10,
    pace: Pace | None = None,
    hooks: Hooks | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Stop every guest: reverse boot order, each by its entry's stop mode and timeout."""
    run = _Run("stop", connect, pace, hooks, stop)
    try:
        entries, broken = auto.read()
        run.report.broken = broken
        live = run.drivers.get().snapshot()
        save_dir = live.host.save_dir
        order = stop_order(entries, [d for d in live.domains if d.name != DOMAIN0])

        def stop_node(node: str) -> Outcome:
            if node.startswith("/domain/"):
                name, ordering, file = node[len("/domain/") :], Ordering(), None
            elif node in order.entries:
                entry = order.entries[node]
                name, ordering, file = entry.domain, entry.ordering, node
            else:
                return Outcome(node, True)  # a barrier, or an entry whose domain is not running
            run.hooks.began(name, "saving" if ordering.stop == "save" else "shutting down")
            _stop(run, run.drivers.get(), name, ordering, file, save_dir)
            return Outcome(node, True)  # a stop never cancels another: the host is going down

        def shown(node: str) -> str | None:
            if node.startswith("/domain/"):
                return node[len("/domain/") :]
            return order.entries[node].domain if node in order.entries else None

        run.walk(order, stop_node, parallelism, shown)
    finally:
        report = run.finish()
    return report


stop_guests = stop  # the name change_runlevel uses: its own ``stop`` is the event that ends a boot early


def _stop(run: _Run, driver: Driver, name: str, ordering: Ordering, file: str | None, save_dir: str) -> None:
    began = run.elapsed()
    note = ""
    try:
        domain = driver.domain(name)
        if domain.phase in (Phase.SHUTDOWN, Phase.CRASHED):
            driver.destroy_domain(str(domain.domid))
            run.step(name, "destroyed", True, began, file, f"it had {domain.phase.value}; its remains cleared")
            return
        if domain.phase is Phase.SAVING:  # a save under way (a halt cut short): let it finish
            waited = driver.wait_domain(str(domain.domid), "gone", timeout=ordering.stop_timeout or None)
            if waited.reached:
                run.step(name, "saved", True, began, file, "a save already under way finished")
            else:
                run.step(name, "failed", False, began, file, f"its save did not finish in {ordering.stop_timeout:g}s")
            return
        if ordering.stop == "save" and domain.phase is not Phase.SHUTTING_DOWN:
            path = os.path.join(save_dir, name)
            try:
                driver.save_domain(str(domain.domid), path)
            except XenctlError as exc:
                note = f"save failed ({exc.message}), so "
            else:
                run.step(name, "saved", True, began, file, f"to {path}")
                return
        if domain.phase is Phase.PAUSED:
            driver.unpause_domain(str(domain.domid))  # a paused guest cannot hear the request
        if domain.phase is not Phase.SHUTTING_DOWN:
            driver.shutdown_domain(str(domain.domid))
        waited = driver.wait_domain(str(domain.domid), "gone", timeout=ordering.stop_timeout or None)  # 0: no limit
        if waited.reached:
            # A save that failed lost the state the entry asked to keep: the domain is down, but not as asked.
            detail = f"{note[:1].upper()}{note[1:]}shut down instead" if note else ""
            run.step(name, "shut down", not note, began, file, detail)
            return
        late = f"{note}it did not stop within {ordering.stop_timeout:g}s"
        if ordering.on_timeout == "leave":
            run.step(name, "left running", False, began, file, f"{late}; its entry says leave it")
            return
        driver.destroy_domain(str(domain.domid))
        run.step(name, "destroyed", True, began, file, late)
    except NotFoundError:
        run.step(name, "shut down", True, began, file, "gone already")
    except XenctlError as exc:
        run.step(name, "failed", False, began, file, f"{note}{exc.message}")


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
) -> Transition:
    """Move the host to ``level``: booting if it enters 3-5 unbooted, stopping if it is outside them.

    The runlevel is set before a stop and the booted mark cleared, so a watcher starts nothing
    while the host goes down; the booted mark is set only after a whole boot, so a boot cut short
    runs again (starting what is not running) when the host is next asked to be at 3-5, and so
    does a boot with a failed start. Outside 3-5 a stop runs every time: ``halt`` after a halt
    cut short stops what still runs. ``stop`` (SIGTERM) ends a boot early: nothing new starts.
    """
    driver = connect()
    try:
        host = driver.snapshot().host
        if level in BOOT_LEVELS:
            if host.booted and host.runlevel in BOOT_LEVELS:
                driver.set_runlevel(level, booted=True)
                return Transition(host.runlevel, level, None, "already booted")
            driver.set_runlevel(level, booted=False)
            report = boot(connect, auto, parallelism=parallelism, pace=pace, hooks=hooks, stop=stop)
            # Booted only when every start went through: after a failure (a fault since cleared, a
            # save file that would not restore), the next boot or watch tries what did not start.
            driver.set_runlevel(level, booted=not report.failed)
        else:
            driver.set_runlevel(level, booted=False)
            report = stop_guests(connect, auto, parallelism=parallelism, pace=pace, hooks=hooks)
        driver.record_event(
            "runlevel", str(level), "ok" if report.ok else "error", f"{report.action}: {summary(report)}"
        )
        return Transition(host.runlevel, level, report)
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            close()


def summary(report: Report) -> str:
    """``3 started, 1 already running, 1 failed, 1 skipped; 2 broken entries; 12.0s``."""
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.result] = counts.get(step.result, 0) + 1
    parts = [f"{n} {result}" for result, n in counts.items()] or ["nothing to do"]
    if report.broken:
        parts.append(f"{len(report.broken)} broken {'entry' if len(report.broken) == 1 else 'entries'}")
    return f"{', '.join(parts)}; {report.took:.1f}s"
