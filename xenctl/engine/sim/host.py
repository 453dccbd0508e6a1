"""The simulated Xen host: the ``Driver`` that xenctl uses when no real hypervisor is named.

A host is one SQLite file (``<home>/host.db``) made from a host profile (see ``hostfile``).
``SimHost`` holds the operations of the ``Driver`` protocol, each run as one transaction (see
``transaction``). Operations that take time on a real host (save, restore, lvcreate, mkfs, writing
a non-sparse image) wait out their simulated duration after they commit.

Construct with an explicit clock; ``hostfile.open_host`` is the one entry point the command line uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from xenctl.engine.api import (
    DOMAIN0,
    Capabilities,
    ConsoleLine,
    Domain,
    DomainConfig,
    DomainDisk,
    Event,
    Fault,
    HostLock,
    HostState,
    Owner,
    Phase,
    Selection,
    WaitResult,
)
from xenctl.engine.sim import domains, faults, lock, records, save_restore, savefile, snapshot, storage, store
from xenctl.engine.sim.capabilities import capabilities_of
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.migration import MigrationSteps
from xenctl.engine.sim.transaction import read_change_token, read_changed_domains, read_unchanged_since
from xenctl.errors import EngineError, UsageError, XenError

POLL_SECONDS = 1.0  # how often xm polls a domain it waits for


def _owner(owner: Owner | None) -> tuple[str | None, str | None]:
    return (owner.managed_by, owner.source) if owner else (None, None)


class SimHost(MigrationSteps):
    """A persistent simulated Xen 3.x host; implements ``xenctl.engine.api.Driver``."""

    def __enter__(self) -> SimHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _domain_name(self, ref: str) -> Callable[[Ctx], str]:
        def resolve(ctx: Ctx) -> str:
            return DOMAIN0 if domains.is_domain0(ref) else str(domains.lookup(ctx, ref)["name"])

        return resolve

    # -- what this host is --------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return capabilities_of(self.profile)

    def config_root(self) -> str:
        """The simulated host's own /etc/xen: its xm config files and its auto/ directory."""
        return os.path.join(self.home, "etc", "xen")

    # -- reading --------------------------------------------------------------------------

    def change_token(self) -> str | None:
        """Changes whenever a snapshot could tell a difference that plans look at: after every
        operation, and when the next boot, shutdown or save falls due, or a snapshot fills, by itself."""
        return self._read(lambda ctx: read_change_token(ctx, self.xend_stamp))

    def changed_domains(self, since: str) -> frozenset[str] | None:
        """The guests that may have changed since the host's token was ``since`` (from the host's
        change journal), or None when more may have changed than guests."""
        return self._read(lambda ctx: read_changed_domains(ctx, since, self.xend_stamp))

    def unchanged_since(self, since: str) -> bool:
        """Whether all a plan sees of the host is as it was when its token was ``since`` (the
        host's change journal: guests paused and resumed, a memory set and set back)."""
        return bool(self._read(lambda ctx: read_unchanged_since(ctx, since, self.xend_stamp)))

    def snapshot(self) -> HostState:
        return self._read(snapshot.read_state)

    def snapshot_of(self, selection: Selection) -> tuple[str | None, HostState]:
        """The change token and the part of the host ``selection`` names, read at one moment."""
        return self._read(lambda ctx: (read_change_token(ctx, self.xend_stamp), snapshot.read_state(ctx, selection)))

    def domain(self, ref: str) -> Domain:
        """One domain by name or domid (Domain-0 too)."""

        def read(ctx: Ctx) -> Domain:
            if domains.is_domain0(ref):
                return snapshot.domain0(ctx)
            return snapshot.read_domain(ctx, int(domains.lookup(ctx, ref)["domid"]))

        return self._read(read)

    def console(self, ref: str) -> tuple[ConsoleLine, ...]:
        return self._read(lambda ctx: tuple(ConsoleLine(at, text) for at, text in domains.console_lines(ctx, ref)))

    def events(self, since: int = 0, limit: int | None = None) -> tuple[Event, ...]:
        def read(ctx: Ctx) -> tuple[Event, ...]:
            query = "SELECT * FROM events WHERE seq > ? ORDER BY seq"
            rows = ctx.db.execute(query, (since,)).fetchall()
            if limit is not None:
                rows = rows[-limit:] if limit > 0 else []
            return tuple(
                Event(r["seq"], r["at"], r["op"], r["obj"], r["outcome"], r["message"], r["actor"]) for r in rows
            )

        return self._read(read)

    # -- domains --------------------------------------------------------------------------

    def create_domain(self, config: DomainConfig, *, owner: Owner | None = None, paused: bool = False) -> Domain:
        """``xm create``: the domain as it was made (it may crash and restart at once after)."""

        def work(ctx: Ctx) -> Domain:
            domid = domains.create(ctx, config, owner=_owner(owner), paused=paused)
            return snapshot.read_domain(ctx, domid)

        return self._mutate("create", config.name, work)

    def shutdown_domain(self, ref: str, *, reboot: bool = False) -> None:
        self._mutate(
            "reboot" if reboot else "shutdown",
            self._domain_name(ref),
            lambda ctx: domains.shutdown(ctx, ref, reboot=reboot),
        )

    def reboot_domain(self, ref: str) -> None:
        self.shutdown_domain(ref, reboot=True)

    def destroy_domain(self, ref: str) -> None:
        self._mutate("destroy", self._domain_name(ref), lambda ctx: domains.destroy(ctx, ref))

    def pause_domain(self, ref: str) -> None:
        self._mutate("pause", self._domain_name(ref), lambda ctx: domains.pause(ctx, ref))

    def unpause_domain(self, ref: str) -> None:
        self._mutate("unpause", self._domain_name(ref), lambda ctx: domains.unpause(ctx, ref))

    def save_domain(self, ref: str, path: str) -> None:
        """``xm save``: returns once the domain is saved and gone."""
        _name, done = self._mutate("save", self._domain_name(ref), lambda ctx: save_restore.save(ctx, ref, path))
        self._wait_until(done)

    def restore_domain(self, path: str, *, paused: bool = False) -> Domain:
        """``xm restore``: returns once the domain runs again, under a new domid."""

        def work(ctx: Ctx) -> tuple[Domain, float]:
            _name, domid, done = save_restore.restore(ctx, path, paused=paused)
            return snapshot.read_domain(ctx, domid), done

        restored, done = self._mutate("restore", lambda ctx: save_restore.saved_name(path), work)
        self._wait_until(done)
        try:
            return self.domain(str(restored.domid))  # as it is now, restored and running
        except EngineError:
            return restored  # gone already (destroyed by another process): as it was made

    def saved_config(self, path: str) -> DomainConfig:
        """The domain a save file holds (its name and uuid above all), read without restoring it."""
        record = savefile.read(path)
        record.pop("xenctl", None)
        try:
            return records.config_from_dict(record)
        except (KeyError, TypeError, ValueError):
            raise XenError(f"{path} is not a valid guest state file", op="restore", obj=path) from None

    def set_memory(self, ref: str, mib: int) -> None:
        self._mutate("mem-set", self._domain_name(ref), lambda ctx: domains.set_memory(ctx, ref, mib))

    def set_vcpus(self, ref: str, count: int) -> None:
        self._mutate("vcpu-set", self._domain_name(ref), lambda ctx: domains.set_vcpus(ctx, ref, count))

    def attach_disk(self, ref: str, disk: DomainDisk) -> None:
        self._mutate("attach", self._domain_name(ref), lambda ctx: domains.attach_disk(ctx, ref, disk))

    def detach_disk(self, ref: str, vdev: str) -> None:
        self._mutate("detach", self._domain_name(ref), lambda ctx: domains.detach_disk(ctx, ref, vdev))

    def set_domain_owner(self, ref: str, owner: Owner | None) -> None:
        self._mutate("set-owner", self._domain_name(ref), lambda ctx: domains.set_owner(ctx, ref, _owner(owner)))

    def wait_domain(self, ref: str, until: str, timeout: float | None = None) -> WaitResult:
        """Wait until the domain is ``up`` (booted and unpaused) or ``gone``, or ``timeout`` passes.

        Waits on this one instance: a domain that reboots under a new domid is ``gone``. Returns at
        once, not reached, when the awaited state can no longer come (a domain waited up that
        crashed or went away).
        """
        if until not in ("up", "gone"):
            raise UsageError(f"cannot wait until {until!r}; expected 'up' or 'gone'")
        if timeout is not None:
            timeout *= self.clock.scale  # simulated seconds, as every duration on this host
        if domains.is_domain0(ref):
            return WaitResult(until == "up", Phase.RUNNING, 0.0)  # Domain-0 is always up, never gone
        start = self.clock.now()
        try:
            first = self.domain(ref)
        except EngineError:
            if until == "gone":
                return WaitResult(True, None, 0.0)
            raise
        while True:
            now = self.clock.now()
            try:
                current = self.domain(str(first.domid)) if first.domid != 0 else first
            except EngineError:
                return WaitResult(until == "gone", None, now - start)
            if current.uuid != first.uuid:
                return WaitResult(until == "gone", None, now - start)
            if until == "up" and current.is_up:
                return WaitResult(True, current.phase, now - start)
            if until == "up" and current.phase in (Phase.SHUTDOWN, Phase.CRASHED, Phase.SAVING):
                return WaitResult(False, current.phase, now - start)
            if timeout is not None and now - start >= timeout:
                return WaitResult(False, current.phase, now - start)
            wake = self._next_change(current, now)
            step = POLL_SECONDS if wake is None else max(wake - now, 1e-6)
            if timeout is not None:
                step = min(step, start + timeout - now)
            self.clock.sleep(step)

    def _next_change(self, domain: Domain, now: float) -> float | None:
        if domain.phase is Phase.BOOTING:
            return domain.up_at
        row = self.db.execute("SELECT exit_at, paused FROM domains WHERE domid = ?", (domain.domid,)).fetchone()
        if row is None or row["paused"] or row["exit_at"] is None:
            return None
        return float(row["exit_at"])

    def _wait_until(self, when: float) -> None:
        self.clock.sleep(when - self.clock.now())

    # -- storage --------------------------------------------------------------------------

    def _timed(self, op: str, obj: str, work: Callable[[Ctx], float]) -> None:
        took = self._mutate(op, obj, work)
        self.clock.sleep(took)

    def create_volume_group(self, name: str, pvs: tuple[str, ...], *, owner: Owner | None = None) -> None:
        self._timed("vg-create", name, lambda ctx: storage.create_vg(ctx, name, tuple(pvs), _owner(owner)))

    def remove_volume_group(self, name: str) -> None:
        self._timed("vg-remove", name, lambda ctx: storage.remove_vg(ctx, name))

    def create_logical_volume(self, vg: str, name: str, size: int, *, owner: Owner | None = None) -> None:
        self._timed("lv-create", f"/dev/{vg}/{name}", lambda ctx: storage.create_lv(ctx, vg, name, size, _owner(owner)))

    def create_snapshot(self, vg: str, name: str, origin: str, cow_size: int, *, owner: Owner | None = None) -> None:
        self._timed(
            "snapshot-create",
            f"/dev/{vg}/{name}",
            lambda ctx: storage.create_snapshot(ctx, vg, name, origin, cow_size, _owner(owner)),
        )

    def grow_logical_volume(self, vg: str, name: str, size: int) -> None:
        self._timed("lv-grow", f"/dev/{vg}/{name}", lambda ctx: storage.grow_lv(ctx, vg, name, size))

    def remove_logical_volume(self, vg: str, name: str) -> None:
        self._timed("lv-remove", f"/dev/{vg}/{name}", lambda ctx: storage.remove_lv(ctx, vg, name))

    def create_image(self, path: str, size: int, *, sparse: bool = True, owner: Owner | None = None) -> str:
        full, took = self._mutate(
            "image-create",
            lambda ctx: storage.image_path(ctx, path, "image-create"),
            lambda ctx: storage.create_image(ctx, path, size, sparse, _owner(owner)),
        )
        self.clock.sleep(took)
        return full

    def grow_image(self, path: str, size: int) -> None:
        took = self._mutate(
            "image-grow",
            lambda ctx: storage.image_path(ctx, path, "image-grow"),
            lambda ctx: storage.grow_image(ctx, path, size),
        )
        self.clock.sleep(took)

    def remove_image(self, path: str) -> None:
        self._mutate(
            "image-remove",
            lambda ctx: storage.image_path(ctx, path, "image-remove"),
            lambda ctx: storage.remove_image(ctx, path),
        )

    def format_volume(self, path: str, filesystem: str, *, blank_only: bool = False) -> None:
        """mkfs; with ``blank_only``, refused if anything was ever written to the volume (checked
        in the same transaction: a guest that wrote to it since the plan was made wins)."""
        self._timed("format", path, lambda ctx: storage.format_volume(ctx, path, filesystem, blank_only=blank_only))

    def populate_volume(self, path: str, source: str, *, blank_only: bool = False) -> None:
        self._timed("populate", path, lambda ctx: storage.populate_volume(ctx, path, source, blank_only=blank_only))

    def create_nfs_export(self, server: str, path: str, *, owner: Owner | None = None) -> None:
        self._timed(
            "export-create", f"{server}:{path}", lambda ctx: storage.create_export(ctx, server, path, _owner(owner))
        )

    def remove_nfs_export(self, server: str, path: str) -> None:
        self._timed("export-remove", f"{server}:{path}", lambda ctx: storage.remove_export(ctx, server, path))

    def set_volume_owner(self, path: str, owner: Owner | None) -> None:
        self._mutate("set-owner", path, lambda ctx: storage.set_owner(ctx, path, _owner(owner)))

    # -- the host ---------------------------------------------------------------------------

    def set_runlevel(self, level: int, *, booted: bool) -> None:
        """Move the host to ``level`` (0 to 6) and say whether its autostart entries are booted."""
        if not 0 <= level <= 6:
            raise UsageError(f"runlevel {level} is not one of 0 to 6")

        def work(ctx: Ctx) -> None:
            ctx.set_meta("runlevel", level)
            ctx.set_meta("booted", booted)

        self._mutate("runlevel", str(level), work)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (scaled, as boots and shutdowns are)."""
        if seconds > 0:
            self.clock.sleep(seconds * self.clock.scale)

    # -- the record and fault injection ----------------------------------------------------

    def record_event(self, op: str, obj: str, outcome: str, message: str = "") -> None:
        """A line of account in the event log, for what a caller did through the operations
        (each of which logged its own events durably): committed without waiting for the disk,
        it is made durable by the next operation's commit."""
        with store.write_txn(self.db, durable=False):
            self._ctx(self.clock.now()).event(op, obj, outcome, message)

    def add_fault(self, fault: Fault) -> int:
        with store.write_txn(self.db):
            ctx = self._ctx(self.clock.now())
            fault_id = faults.add(ctx, fault)
            times = "every time" if fault.times is None else f"{fault.times} time(s)"
            ctx.event("fault-add", fault.obj, message=f"{fault.kind} on {fault.op}, {times}: {fault.message}")
            return fault_id

    def faults(self) -> tuple[Fault, ...]:
        return self._read(faults.all_faults)

    def clear_faults(self, fault_id: int | None = None) -> int:
        with store.write_txn(self.db):
            ctx = self._ctx(self.clock.now())
            removed = faults.clear(ctx, fault_id)
            if removed:
                ctx.event("fault-clear", "*" if fault_id is None else str(fault_id), message=f"{removed} removed")
            return removed

    def acquire_lock(self, command: str, timeout: float = 0.0) -> HostLock:
        """One mutating command at a time: take the host's lock (see ``lock``)."""

        def taken_over(stale: HostLock) -> None:
            with store.write_txn(self.db):
                self._ctx(self.clock.now()).event("lock", str(stale.id), message=f"taken over from {stale.describe()}")

        return lock.acquire(self.db, command, timeout, on_takeover=taken_over)

    def release_lock(self, held: HostLock) -> None:
        lock.release(self.db, held)

    def lock_holder(self) -> HostLock | None:
        return lock.holder(self.db)

    def force_unlock(self, lock_id: int) -> HostLock:
        removed = lock.force_unlock(self.db, lock_id)
        with store.write_txn(self.db):
            self._ctx(self.clock.now()).event("force-unlock", str(lock_id), message=removed.describe())
        return removed

    def set_image_read_only(self, path: str, read_only: bool = True) -> None:
        """Simulate ``chmod a-w`` on an image file (xend refuses to give it read-write)."""

        def work(ctx: Ctx) -> None:
            full = storage.image_path(ctx, path, "chmod")
            ctx.db.execute("UPDATE images SET read_only = ? WHERE path = ?", (int(read_only), full))

        self._mutate("chmod", path, work)
