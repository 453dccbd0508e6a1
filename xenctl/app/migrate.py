"""``xenctl migrate``: a running guest moved from one host to another, as ``xm migrate`` moves it.

Between two simulated hosts, Xen's rules decide (``migrate_rules``), the simulator's five steps
move the guest (``engine.sim.migration``) and Xen's pre-copy model says how long it took in
simulated time (``engine.sim.precopy``). Between two libvirt hosts, libvirt migrates it where the
connection can, and otherwise the guest makes a cold move (``engine.libvirt.migrate``), said as
such in the report. A guest never moves between a simulated and a libvirt host.

Both hosts' locks are held for the whole move, taken in the order of their URLs, so two moves in
opposite directions cannot deadlock. Each step is in both hosts' event logs. A move cut short (the
process killed) leaves marks that ``settle_migrations`` reads: the next migrate between the two
hosts, or ``xenctl migrate --recover``, finishes it or rolls it back (docs/migration.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xenctl.errors import EngineError, UsageError, XenError

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.autostart.stopping import Migrator
    from xenctl.engine.sim import SimHost
    from xenctl.engine.sim.precopy import Transfer

LIVE = "live"
OFFLINE = "offline"
COLD_MOVE = "cold move"


@dataclass(frozen=True)
class MigrationReport:
    domain: str
    source: str  # URL
    target: str  # URL
    kind: str  # "live" (pre-copy), "offline" (paused, copied, resumed there) or "cold move"
    total_s: float  # simulated (or real, on libvirt) seconds from start to running on the target
    downtime_s: float  # seconds the guest ran nowhere
    rounds: int = 0  # pre-copy rounds (live), the stop-and-copy counted
    sent_mib: float = 0.0  # memory sent in all

    def to_json(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "total_s": round(self.total_s, 6),
            "downtime_s": round(self.downtime_s, 6),
            "rounds": self.rounds,
            "sent_mib": round(self.sent_mib, 3),
        }


def _pair_refusal(source: Host, target: Host) -> str | None:
    if source.url == target.url or (source.is_simulated and source.where.path == target.where.path):
        return f"{source.url} and {target.url} are the same host; a guest migrates to another one"
    if source.is_simulated != target.is_simulated:
        return f"a guest cannot move between a simulated host and a libvirt host ({source.url} to {target.url})"
    for host in (source, target):
        caps = host.driver.capabilities()
        if not caps.migration:
            return f"{host.url} cannot migrate guests: {caps.reason('migration')}"
    return None


def migration_refusal(source: Host, target: Host, domain: str, *, live: bool) -> str | None:
    """Why this migration cannot be done, as one line (None: it can). Reads only; a planner asks it."""
    refusal = _pair_refusal(source, target)
    if refusal is not None:
        return refusal
    if not source.is_simulated:
        from xenctl.engine.libvirt.migrate import move_refusal

        return move_refusal(source.driver, target.driver, domain)
    from xenctl.app import migrate_rules

    src, dst = source.sim(), target.sim()
    refusal, record = migrate_rules.record_refusal(src, domain)
    return (
        refusal
        or migrate_rules.relocation_refusal(src, dst)
        or migrate_rules.storage_refusal(src, dst, src.domain(domain).config)
        or migrate_rules.landing_refusal(dst, record)
    )


@contextlib.contextmanager
def _both_locked(source: Host, target: Host, command: str, timeout: float) -> Iterator[None]:
    """Both hosts' locks, in the order of their URLs (so no two moves deadlock)."""
    first, second = sorted((source, target), key=lambda h: h.url)
    with first.locked(command, timeout), second.locked(command, timeout):
        yield


def migrate(
    source: Host,
    target: Host,
    domain: str,
    *,
    live: bool,
    command: str = "xenctl migrate",
    lock_timeout: float = 0.0,
    bandwidth: float | None = None,
    dirty_rate: float | None = None,
    source_locked: bool = False,
) -> MigrationReport:
    """Move the running domain; takes both hosts' locks (source first, then target; a fixed order
    by URL to avoid deadlock between two migrations in opposite directions). ``source_locked``:
    the caller holds the source's lock already (xendomains' stop), so only the target's is taken.

    ``bandwidth`` (MiB/s) and ``dirty_rate`` (MiB/s) override the source's profile on a
    simulated host. A refusal is a XenError of one line; nothing has changed then."""
    refusal = _pair_refusal(source, target)
    if refusal is not None:
        raise XenError(refusal, op="migrate", obj=domain)
    locking: contextlib.AbstractContextManager[object]
    if source_locked:
        locking = target.locked(command, lock_timeout)
    else:
        locking = _both_locked(source, target, command, lock_timeout)
    with locking:
        if not source.is_simulated:
            return _migrate_libvirt(source, target, domain, live=live)
        _settle_pair(source, target)
        refusal = migration_refusal(source, target, domain, live=live)
        if refusal is not None:
            source.driver.record_event("migrate", domain, "error", f"to {target.url}: {refusal}")
            raise XenError(refusal, op="migrate", obj=domain)
        return _migrate_sim(source, target, domain, live=live, bandwidth=bandwidth, dirty_rate=dirty_rate)


def _transfer(
    src: SimHost, memory_mib: int, live: bool, bandwidth: float | None, dirty: float | None
) -> tuple[Transfer, float]:
    """How the copy goes, and the link's MiB/s."""
    from xenctl.engine.sim import precopy

    mib_s = bandwidth if bandwidth is not None else src.profile.migration_bandwidth / (1024 * 1024)
    rate = dirty if dirty is not None else precopy.default_dirty_rate(memory_mib, src.profile.dirty_rate)
    link = precopy.Link(mib_s, rate)
    try:
        moved = precopy.live_transfer(memory_mib, link) if live else precopy.offline_transfer(memory_mib, link)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return moved, mib_s


def _migrate_sim(
    source: Host, target: Host, domain: str, *, live: bool, bandwidth: float | None, dirty_rate: float | None
) -> MigrationReport:
    src, dst = source.sim(), target.sim()
    record = src.migration_record(domain)
    name = str(record["name"])
    memory_now = int((record.get("xenctl") or {}).get("memory_now") or record["memory"])
    moved, mib_s = _transfer(src, memory_now, live, bandwidth, dirty_rate)
    dst.migrate_in(record, source.url)
    src.migrate_out(name, target.url, pause=not live)
    if live:
        for number, sent in enumerate(moved.round_mib[:-1], start=1):
            said_round = f"round {number}: {sent:,.1f} MiB sent in {sent / mib_s:.3f} s, the guest running"
            src.record_event("migrate-round", name, "ok", said_round)
        src.sleep(moved.total_s - moved.downtime_s)
        src.migrate_out(name, target.url, pause=True)  # stop-and-copy
        src.sleep(moved.downtime_s)
    else:
        src.sleep(moved.total_s)
    dst.migrate_commit(name)
    kind = LIVE if live else OFFLINE
    said = f"{kind} in {moved.total_s:.3f} s, downtime {moved.downtime_s * 1000:.0f} ms, {moved.sent_mib:,.1f} MiB sent"
    src.migrate_done(name, f"to {target.url} {said}")
    dst.record_event("migrated", name, "ok", f"from {source.url} {said}")
    return MigrationReport(
        name, source.url, target.url, kind, moved.total_s, moved.downtime_s, moved.rounds, moved.sent_mib
    )


def _migrate_libvirt(source: Host, target: Host, domain: str, *, live: bool) -> MigrationReport:
    from xenctl.engine.libvirt.migrate import move, move_refusal

    refusal = move_refusal(source.driver, target.driver, domain)
    if refusal is not None:
        raise XenError(refusal, op="migrate", obj=domain)
    started = time.monotonic()
    outcome = move(source.driver, target.driver, domain, live=live)
    took = time.monotonic() - started
    kind = COLD_MOVE if outcome.cold else (LIVE if live else OFFLINE)
    return MigrationReport(domain, source.url, target.url, kind, took, outcome.downtime_s or took)


def stop_migrator(source: Host, *, command: str, lock_timeout: float = 0.0) -> Migrator:
    """What moves a guest at xendomains' stop (``XENDOMAINS_MIGRATE``), from ``source``, whose lock
    the stop holds. The stop's workers run in parallel; their migrations go one at a time (each
    holds the target's lock, as xendomains moved one guest at a time), each on a connection of its
    own to both hosts. A target that cannot be reached, or refuses, raises a XenctlError of one
    line, and the stop saves or shuts the guest down instead."""
    from xenctl.app.host import connect

    one_at_a_time = threading.Lock()

    def move(name: str, url: str, live: bool) -> str:
        # The target's own xen root (its xend-config.sxp): never the source's.
        target_settings = source.settings._replace(xen_root=None)
        with one_at_a_time, connect(source.url, source.settings) as here, connect(url, target_settings) as there:
            if there.is_simulated and not there.exists():
                raise UsageError(f"{url}: there is no simulated host there")
            report = migrate(
                here, there, name, live=live, command=command, lock_timeout=lock_timeout, source_locked=True
            )
        if report.kind == COLD_MOVE:
            return f"to {report.target} by a cold move in {report.total_s:.1f} s"
        return f"to {report.target} {report.kind} in {report.total_s:.1f} s, downtime {report.downtime_s * 1000:.0f} ms"

    return move


def settle_migrations(host: Host, *, command: str = "xenctl migrate --recover", lock_timeout: float = 0.0) -> list[str]:
    """Finish or roll back every migration cut short that ``host`` holds a mark of, with the
    peer each mark names; one line for each, said as done. Simulated hosts only (a libvirt move
    leaves no marks: see engine.libvirt.migrate)."""
    if not host.is_simulated:
        return []
    from xenctl.app.host import connect

    said: list[str] = []
    for peer_url in sorted({mark.peer for mark in host.sim().migrations()}):
        try:
            peer = connect(peer_url, host.settings)
            if not peer.exists():
                raise UsageError(f"{peer_url} has no host")
        except UsageError as exc:
            said.append(f"left as it is: a migration with {peer_url}, which cannot be reached ({exc})")
            continue
        with peer, _both_locked(host, peer, command, lock_timeout):
            said.extend(_settle_pair(host, peer))
    return said


def _settle_pair(one: Host, other: Host) -> list[str]:
    """The marks of each host that name the other: each migration finished or rolled back."""
    from xenctl.engine.sim.migration import INCOMING

    said: list[str] = []
    for here, there in ((one, other), (other, one)):
        for mark in here.sim().migrations():
            if mark.peer != there.url:
                continue
            if mark.direction == INCOMING:
                said.append(_settle(target=here, source=there, uuid=mark.uuid, name=mark.name))
            else:
                said.append(_settle(target=there, source=here, uuid=mark.uuid, name=mark.name))
    return said


def _settle(*, target: Host, source: Host, uuid: str, name: str) -> str:
    """One migration cut short, settled by what both hosts hold of it (see the module's docstring)."""
    from xenctl.engine.sim.migration import INCOMING

    dst, src = target.sim(), source.sim()
    incoming = any(m.uuid == uuid and m.direction == INCOMING for m in dst.migrations())
    on_target = any(d.uuid == uuid for d in dst.snapshot().domains)
    on_source = any(d.uuid == uuid for d in src.snapshot().domains)
    if on_target and not incoming:  # committed: the guest is the target's
        if on_source:
            src.migrate_done(name, f"to {target.url}: finished after it was cut short (the target had it running)")
        else:
            src.migrate_abort(uuid, "mark of a finished migration removed")
        return f"{name}: the migration to {target.url} had committed; the copy on {source.url} is gone"
    if on_source or not on_target:
        if incoming:
            dst.migrate_abort(uuid, f"incoming from {source.url}, never committed: destroyed")
        src.migrate_abort(uuid, f"to {target.url} cut short: the guest goes on here")
        return f"{name}: the migration to {target.url} never committed; {name} goes on at {source.url}"
    # Only the target's incoming copy is left (the source's is gone): it is the guest now.
    try:
        dst.migrate_commit(name)
    except EngineError as exc:
        return f"{name}: the copy on {target.url} could not be resumed: {exc.message}"
    return f"{name}: the source's copy was gone; the one on {target.url} now runs"
