"""Stop (xendomains' stop, in reverse dependency order and in parallel): each guest as it is asked to.

A guest whose entry has an ``xenctl-autostart`` line stops as that line says: ``save`` (to the
host's save directory; if the save fails, a shutdown) or ``shutdown``, within its stop timeout,
then destroyed or left running. Every other guest (a hand-placed entry without the line, a guest
without an entry) stops as xendomains' settings say (``xendomains.Settings``): migrated to the
host ``XENDOMAINS_MIGRATE`` names, else (the migration refused, said with its reason) saved, else
shut down, waited for or not. Guests without an entry stop first. Nothing in a stop needs
anything: a guest that will not stop delays, but never cancels, the others.

``XENDOMAINS_MIGRATE`` is what xendomains put after ``xm migrate DOMAIN``: the target host and
``xm migrate``'s options. xenctl takes ``--live`` (``-l``) and one host, given by its URI
(``sim:///DIR``, ``qemu+ssh://HOST/system``): xm's bare host name has no URI to reach it by, and
xm's other options (``--port``, ``--resource``, ``--ssl``...) have nothing to do in xenctl. Either
is a refusal of each guest's migration, said as such, and the guest is saved or shut down as if no
migration had been asked for; as with xendomains, a guest not migrated as asked counts as a failure
of the stop, though it is down. The migration itself is the caller's (``Migrator``): this layer
reaches one host only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from xenctl.autostart.order import stop_order
from xenctl.autostart.report import Hooks, Report, Run
from xenctl.autostart.xendomains import Settings, read_settings
from xenctl.engine.api import DOMAIN0, Domain, Driver, Phase
from xenctl.errors import NotFoundError, XenctlError
from xenctl.reconcile.walker import Outcome, Pace
from xenctl.xmconfig.auto import DEFAULT_STOP_TIMEOUT, AutoDir, Entry

Migrator = Callable[[str, str, bool], str]
"""``migrate(name, url, live)``: the running guest moved to the host at ``url``; how it went, said
in a few words; a refusal raises XenctlError of one line, nothing changed then."""

XM_MIGRATE_OPTIONS = ("-p", "--port", "-r", "--resource", "-n", "--node", "-s", "--ssl", "-c", "--change_home_server")


@dataclass(frozen=True)
class MigrateTarget:
    """``XENDOMAINS_MIGRATE`` read: the host's URI and whether the migration is live."""

    url: str
    live: bool = False


def migrate_target(value: str) -> MigrateTarget:
    """``XENDOMAINS_MIGRATE``'s value (``--live sim:///srv/xen2``), read as ``xm migrate`` read
    its words; a ValueError of one line for what xenctl cannot do with it."""
    live, hosts = False, []
    for word in value.split():
        if word in ("-l", "--live"):
            live = True
        elif word.split("=")[0] in XM_MIGRATE_OPTIONS:
            raise ValueError(f"xm migrate's option {word.split('=')[0]} has no use in xenctl")
        elif word.startswith("-"):
            raise ValueError(f"{word} is not an option of xm migrate")
        else:
            hosts.append(word)
    if len(hosts) != 1:
        raise ValueError(f"it names {len(hosts)} hosts ({' '.join(hosts)}), not one" if hosts else "it names no host")
    if "://" not in hosts[0]:
        raise ValueError(f"{hosts[0]!r} is not a host URI (sim:///DIR, xen:///system, qemu+ssh://HOST/system)")
    return MigrateTarget(hosts[0], live)


@dataclass(frozen=True)
class StopMode:
    """How one guest stops: saved where (None: not saved), then asked to shut down or not, and
    waited for or not, for ``timeout`` seconds (0: no limit), then destroyed or left; ``migrate``:
    a host xendomains would have migrated it to; ``by``: what says so."""

    save_dir: str | None = None
    shutdown: bool = True
    wait: bool = True
    timeout: float = DEFAULT_STOP_TIMEOUT
    on_timeout: str = "destroy"
    migrate: str = ""
    by: str = ""

    def describe(self) -> str:
        """``save/300s/destroy``: what is tried first (after a migration), the timeout, then what."""
        first = "save" if self.save_dir else "shutdown" if self.shutdown else "none"
        if first == "shutdown" and not self.wait:
            first = "shutdown-nowait"
        return f"{'migrate?' if self.migrate else ''}{first}/{self.timeout:g}s/{self.on_timeout}"


def stop_mode(entry: Entry | None, settings: Settings, host_save_dir: str) -> StopMode:
    """How a guest stops: by its entry's own line, else as xendomains' settings say."""
    if entry is not None and entry.has_metadata:
        o = entry.ordering
        save_dir = host_save_dir if o.stop == "save" else None
        return StopMode(save_dir, timeout=o.stop_timeout, on_timeout=o.on_timeout, by=f"entry {entry.file}")
    sweep = settings.shutdown_all
    if entry is None and settings.auto_only:
        by = f"{settings.source}: XENDOMAINS_AUTO_ONLY, then XENDOMAINS_SHUTDOWN_ALL"
        return StopMode(None, sweep.asked, sweep.wait, settings.stop_maxwait, by=by)
    shutdown = settings.shutdown if settings.shutdown.asked else sweep
    save_dir = settings.save_dir(host_save_dir)
    return StopMode(
        save_dir, shutdown.asked, shutdown.wait, settings.stop_maxwait, migrate=settings.migrate, by=settings.source
    )


def stop(
    connect: Callable[[], Driver],
    auto: AutoDir,
    *,
    parallelism: int = 10,
    pace: Pace | None = None,
    hooks: Hooks | None = None,
    stop: threading.Event | None = None,
    settings: Settings | None = None,
    migrator: Migrator | None = None,
) -> Report:
    """Stop every guest: reverse boot order, each by its stop mode. ``settings``: xendomains'
    (read beside the xen root when not given; a malformed file stops nothing); ``migrator``: what
    moves a guest to ``XENDOMAINS_MIGRATE``'s host (None: every such migration is refused)."""
    settings = settings if settings is not None else read_settings(auto.xen_root)
    run = Run("stop", connect, pace, hooks, stop)
    try:
        entries, broken = auto.read()
        run.report.broken = broken
        live = run.drivers.get().snapshot()
        order = stop_order(entries, [d for d in live.domains if d.name != DOMAIN0])

        def stop_node(node: str) -> Outcome:
            if node.startswith("/domain/"):
                name, entry = node[len("/domain/") :], None
            elif node in order.entries:
                entry = order.entries[node]
                name = entry.domain
            else:
                return Outcome(node, True)  # a barrier, or an entry whose domain is not running
            mode = stop_mode(entry, settings, live.host.save_dir)
            doing = "saving" if mode.save_dir else "shutting down" if mode.shutdown else "leaving it running"
            doing = "migrating" if mode.migrate else doing
            run.hooks.began(name, doing)
            _stop(run, run.drivers.get(), name, mode, entry.file if entry else None, migrator)
            return Outcome(node, True)  # a stop never cancels another: the host is going down

        def shown(node: str) -> str | None:
            if node.startswith("/domain/"):
                return node[len("/domain/") :]
            return order.entries[node].domain if node in order.entries else None

        run.walk(order, stop_node, parallelism, shown)
    finally:
        report = run.finish()
    return report


def _stop(run: Run, driver: Driver, name: str, mode: StopMode, file: str | None, migrator: Migrator | None) -> None:
    began = run.elapsed()
    note = ""
    try:
        domain = driver.domain(name)
        if mode.migrate and domain.phase in (Phase.BOOTING, Phase.RUNNING, Phase.PAUSED):
            moved, note = _migrate(domain.name, mode.migrate, migrator)
            if moved:
                run.step(name, "migrated", True, began, file, moved)
                return
        if domain.phase in (Phase.SHUTDOWN, Phase.CRASHED):
            driver.destroy_domain(str(domain.domid))
            run.step(name, "destroyed", True, began, file, f"it had {domain.phase.value}; its remains cleared")
            return
        if domain.phase is Phase.SAVING:  # a save under way (a halt cut short): let it finish
            waited = driver.wait_domain(str(domain.domid), "gone", timeout=mode.timeout or None)
            if waited.reached:
                run.step(name, "saved", True, began, file, "a save already under way finished")
            else:
                run.step(name, "failed", False, began, file, f"its save did not finish in {mode.timeout:g}s")
            return
        if mode.save_dir is not None and domain.phase is not Phase.SHUTTING_DOWN:
            saved, note = _save(driver, domain, mode.save_dir, note)
            if saved:
                run.step(
                    name,
                    "saved",
                    not note,
                    began,
                    file,
                    _sentence(note, f"saved to {saved}") if note else f"to {saved}",
                )
                return
        _shut_down(run, driver, domain, mode, file, began, note)
    except NotFoundError:
        run.step(name, "shut down", True, began, file, "gone already")
    except XenctlError as exc:
        run.step(name, "failed", False, began, file, f"{note}{exc.message}")


def _migrate(name: str, value: str, migrator: Migrator | None) -> tuple[str | None, str]:
    """Migrate the guest as ``XENDOMAINS_MIGRATE`` says: how it went, or None and why not (a note)."""
    try:
        target = migrate_target(value)
    except ValueError as exc:
        return None, f"not migrated (XENDOMAINS_MIGRATE={value!r}: {exc}), so "
    if migrator is None:
        return None, f"not migrated to {target.url} (no migration can be made from here), so "
    try:
        return migrator(name, target.url, target.live), ""
    except XenctlError as exc:
        return None, f"not migrated to {target.url} ({_one_line(exc.message)}), so "


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _save(driver: Driver, domain: Domain, save_dir: str, note: str) -> tuple[str | None, str]:
    """Save the guest into ``save_dir``: the file's path, or None and why not, added to ``note``."""
    path = os.path.join(save_dir, domain.name)
    try:
        os.makedirs(save_dir, exist_ok=True)  # as xendomains' mkdir -p
        driver.save_domain(str(domain.domid), path)
    except XenctlError as exc:
        return None, f"{note}save failed ({exc.message}), so "
    except OSError as exc:
        return None, f"{note}save failed ({save_dir}: {exc.strerror}), so "
    return path, note


def _shut_down(
    run: Run, driver: Driver, domain: Domain, mode: StopMode, file: str | None, began: float, note: str
) -> None:
    """Ask the guest to shut down (unless nothing may) and wait as the mode says. A guest stopped
    other than as asked (no migration, a save that failed) counts as a failure, though it is down."""
    name, domid = domain.name, str(domain.domid)
    if not mode.shutdown and domain.phase is not Phase.SHUTTING_DOWN:
        run.step(
            name, "left running", not note, began, file, _sentence(note, f"{mode.by} neither saves nor shuts it down")
        )
        return
    if domain.phase is Phase.PAUSED:
        driver.unpause_domain(domid)  # a paused guest cannot hear the request
    if domain.phase is not Phase.SHUTTING_DOWN:
        driver.shutdown_domain(domid)
    if not mode.wait:
        detail = _sentence(note, f"asked to shut down, not waited for ({mode.by}: no --wait)")
        run.step(name, "shutting down", not note, began, file, detail)
        return
    waited = driver.wait_domain(domid, "gone", timeout=mode.timeout or None)  # 0: no limit
    if waited.reached:
        run.step(name, "shut down", not note, began, file, _sentence(note, "shut down instead") if note else "")
        return
    late = f"{note}it did not stop within {mode.timeout:g}s"
    if mode.on_timeout == "leave":
        run.step(name, "left running", False, began, file, f"{late}; its entry says leave it")
        return
    driver.destroy_domain(domid)
    run.step(name, "destroyed", True, began, file, late)


def _sentence(note: str, then: str) -> str:
    """``Save failed (...), so shut down instead``: the note, capitalised, then what was done."""
    return f"{note[:1].upper()}{note[1:]}{then}" if note else then
