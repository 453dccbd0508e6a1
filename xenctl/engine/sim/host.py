"""The simulated Xen host: the ``Driver`` that xenctl uses when no real hypervisor is named.

A host is one SQLite file (``<home>/host.db``) made from a host profile. ``SimHost`` opens it and
runs every operation as one transaction that first settles what is due, then checks injected
faults, then applies the operation and writes its event; a refusal rolls the operation back and
logs it as an error. Operations that take time on a real host (save, restore, lvcreate, mkfs,
writing a non-sparse image) wait out their simulated duration after they commit.

Construct with an explicit clock; ``open_host`` is the one entry point the command line uses.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from xenctl.engine.api import (
    DOMAIN0,
    ConsoleLine,
    Domain,
    DomainConfig,
    DomainDisk,
    Event,
    Fault,
    HostState,
    Owner,
    Phase,
    WaitResult,
)
from xenctl.engine.sim import domains, faults, lifecycle, snapshot, storage, store
from xenctl.engine.sim.blockdevs import digest_of
from xenctl.engine.sim.clock import Clock, SystemClock
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.profile import HostProfile, default_profile, profile_from_dict
from xenctl.errors import EngineError, InjectedFault, StoreError, UsageError

T = TypeVar("T")
POLL_SECONDS = 1.0  # how often xm polls a domain it waits for


def _owner(owner: Owner | None) -> tuple[str | None, str | None]:
    return (owner.managed_by, owner.source) if owner else (None, None)


class _Fired(Exception):
    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.message)
        self.fault = fault


class SimHost:
    """A persistent simulated Xen 3.x host; implements ``xenctl.engine.api.Driver``."""

    def __init__(self, home: str, db: sqlite3.Connection, profile: HostProfile, clock: Clock, actor: str = "") -> None:
        self.home = home
        self.db = db
        self.profile = profile
        self.clock = clock
        self.actor = actor or f"pid {os.getpid()}"

    # -- plumbing -------------------------------------------------------------------------

    def _ctx(self, now: float) -> Ctx:
        return Ctx(self.db, now, self.profile, self.clock.scale, self.actor)

    def _mutate(self, op: str, obj: str | Callable[[Ctx], str], work: Callable[[Ctx], T]) -> T:
        """Run one operation as one transaction, logged in the event log whatever its outcome."""
        now = self.clock.now()
        name = obj if isinstance(obj, str) else ""
        self._settle(now)  # what already happened stands, whatever becomes of this operation
        try:
            with store.write_txn(self.db):
                ctx = self._ctx(now)
                lifecycle.settle(ctx)  # anything another process let fall due since
                if not isinstance(obj, str):
                    name = obj(ctx)
                fault = faults.find(ctx, "fail", op, name)
                if fault is not None:
                    raise _Fired(fault)
                result = work(ctx)
                ctx.event(op, name)
                return result
        except _Fired as fired:
            with store.write_txn(self.db):
                ctx = self._ctx(now)
                faults.use(ctx, fired.fault)
                ctx.event(op, name, "error", fired.fault.message)
            raise InjectedFault(fired.fault.message, op=op, obj=name) from None
        except EngineError as exc:
            with store.write_txn(self.db):
                self._ctx(now).event(op, name or exc.obj, "error", exc.message)
            raise

    def _read(self, work: Callable[[Ctx], T]) -> T:
        """A consistent read at one moment, settling first only when something is due."""
        now = self.clock.now()
        self._settle(now)
        with store.read_txn(self.db):
            return work(self._ctx(now))

    def _settle(self, now: float) -> None:
        """Carry out the exits due by ``now`` in a transaction of their own (only when any are)."""
        if lifecycle.is_due(self.db, now):
            with store.write_txn(self.db):
                lifecycle.settle(self._ctx(now))

    def _domain_name(self, ref: str) -> Callable[[Ctx], str]:
        def resolve(ctx: Ctx) -> str:
            return DOMAIN0 if domains.is_domain0(ref) else str(domains.lookup(ctx, ref)["name"])

        return resolve

    def close(self) -> None:
        self.db.close()

    # -- reading --------------------------------------------------------------------------

    def snapshot(self) -> HostState:
        return self._read(snapshot.read_state)

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
        domid = self._mutate(
            "create", config.name, lambda ctx: domains.create(ctx, config, owner=_owner(owner), paused=paused)
        )
        return self.domain(str(domid))

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
        _name, done = self._mutate("save", self._domain_name(ref), lambda ctx: domains.save(ctx, ref, path))
        self._wait_until(done)

    def restore_domain(self, path: str, *, paused: bool = False) -> Domain:
        """``xm restore``: returns once the domain runs again, under a new domid."""
        _name, domid, done = self._mutate(
            "restore", lambda ctx: domains.saved_name(path), lambda ctx: domains.restore(ctx, path, paused=paused)
        )
        self._wait_until(done)
        return self.domain(str(domid))

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
        self._timed("image-grow", path, lambda ctx: storage.grow_image(ctx, path, size))

    def remove_image(self, path: str) -> None:
        self._timed("image-remove", path, lambda ctx: storage.remove_image(ctx, path))

    def format_volume(self, path: str, filesystem: str) -> None:
        self._timed("format", path, lambda ctx: storage.format_volume(ctx, path, filesystem))

    def populate_volume(self, path: str, source: str) -> None:
        self._timed("populate", path, lambda ctx: storage.populate_volume(ctx, path, source))

    def create_nfs_export(self, server: str, path: str, *, owner: Owner | None = None) -> None:
        self._timed(
            "export-create", f"{server}:{path}", lambda ctx: storage.create_export(ctx, server, path, _owner(owner))
        )

    def remove_nfs_export(self, server: str, path: str) -> None:
        self._timed("export-remove", f"{server}:{path}", lambda ctx: storage.remove_export(ctx, server, path))

    def set_volume_owner(self, path: str, owner: Owner | None) -> None:
        self._mutate("set-owner", path, lambda ctx: storage.set_owner(ctx, path, _owner(owner)))

    # -- the record and fault injection ----------------------------------------------------

    def record_event(self, op: str, obj: str, outcome: str, message: str = "") -> None:
        with store.write_txn(self.db):
            self._ctx(self.clock.now()).event(op, obj, outcome, message)

    def add_fault(self, fault: Fault) -> int:
        with store.write_txn(self.db):
            return faults.add(self._ctx(self.clock.now()), fault)

    def faults(self) -> tuple[Fault, ...]:
        return self._read(faults.all_faults)

    def clear_faults(self, fault_id: int | None = None) -> int:
        with store.write_txn(self.db):
            return faults.clear(self._ctx(self.clock.now()), fault_id)

    def set_image_read_only(self, path: str, read_only: bool = True) -> None:
        """Simulate ``chmod a-w`` on an image file (xend refuses to give it read-write)."""

        def work(ctx: Ctx) -> None:
            full = storage.image_path(ctx, path, "chmod")
            ctx.db.execute("UPDATE images SET read_only = ? WHERE path = ?", (int(read_only), full))

        self._mutate("chmod", path, work)


# -- opening and making hosts ------------------------------------------------------------------


def _resolve_profile(profile: HostProfile, home: str) -> HostProfile:
    save_dir = profile.save_dir if os.path.isabs(profile.save_dir) else os.path.join(home, profile.save_dir)
    return replace(profile, save_dir=save_dir)


def host_exists(home: str) -> bool:
    return os.path.exists(store.host_file(home))


def open_host(home: str, *, clock: Clock | None = None, profile: HostProfile | None = None, actor: str = "") -> SimHost:
    """Open the host in ``home``, making it from ``profile`` (default: built-in) if there is none."""
    clock = clock or SystemClock()
    try:
        os.makedirs(home, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{home}: cannot make the xenctl home directory: {exc.strerror}") from None
    db = store.connect(store.host_file(home))
    db.row_factory = sqlite3.Row
    try:
        version = store.schema_version(db)
        if version == 0:
            with store.write_txn(db):
                if store.schema_version(db) == 0:  # another process may have just made it
                    _initialise(db, profile or default_profile(), clock.now())
        elif version > store.SCHEMA_VERSION:
            raise StoreError(f"{store.host_file(home)} was made by a newer xenctl (schema {version})")
        row = db.execute("SELECT value FROM meta WHERE key = 'profile'").fetchone()
        stored = profile_from_dict(json.loads(row[0]), file=store.host_file(home))
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{store.host_file(home)}: not a xenctl host file ({exc})") from None
    except BaseException:
        db.close()
        raise
    resolved = _resolve_profile(stored, home)
    try:
        os.makedirs(resolved.save_dir, exist_ok=True)
    except OSError as exc:
        db.close()
        raise StoreError(f"{resolved.save_dir}: cannot make the save directory: {exc.strerror}") from None
    return SimHost(home, db, resolved, clock, actor)


def init_host(home: str, profile: HostProfile, *, clock: Clock | None = None, force: bool = False) -> SimHost:
    """Make a new host in ``home``; an existing one is replaced only with ``force``."""
    if host_exists(home):
        if not force:
            raise UsageError(
                f"a host already exists in {home}; --force replaces it, and its domains and volumes are lost"
            )
        for suffix in ("", "-wal", "-shm"):
            path = store.host_file(home) + suffix
            if os.path.exists(path):
                os.unlink(path)
    return open_host(home, clock=clock, profile=profile)


def _initialise(db: sqlite3.Connection, profile: HostProfile, now: float) -> None:
    store.create_schema(db)
    ctx = Ctx(db, now, profile, 1.0)
    ctx.set_meta("profile", profile.to_dict())
    ctx.set_meta("created_at", now)
    ctx.set_meta("last_domid", 0)
    ctx.set_meta("dom0_memory", profile.dom0_initial_memory)
    ctx.set_meta("runlevel", profile.runlevel)
    for disk in profile.disks:
        for part in disk.partitions:
            path = f"/dev/{part.name}"
            db.execute(
                "INSERT INTO partitions(path, disk, size, mountpoint, mounted, filesystem, digest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (path, disk.name, part.size, part.mount, part.mode, part.filesystem, digest_of("partition", path)),
            )
    for server, paths in profile.nfs_servers:
        for path in paths:
            db.execute(
                "INSERT INTO exports(server, path, digest, by_domain) VALUES (?, ?, ?, 0)",
                (server, path, digest_of("export", server, path)),
            )
