"""``apply_plan``: carry out a plan's actions against a driver, in parallel where the graph allows.

The walker (``walker.walk``) starts an action as soon as everything it waits on is done (not
level by level), with at most ``parallelism`` running. An action that fails skips only its
descendants; the rest finish. Waiting on a domain means waiting until it runs, so a dependent
starts after its dependency has booted. Progress goes to ``hooks``; nothing here prints. Each
worker thread gets its own driver from ``connect`` (a SQLite connection is not shared between
threads). Every action is recorded in the host's event log.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from xenctl.engine.api import (
    MANAGED_BY,
    Driver,
    Owner,
    Phase,
)
from xenctl.errors import EngineError, NotFoundError, PlanError, XenctlError
from xenctl.reconcile.changes import Action, Change, ChangeClass, Kind
from xenctl.reconcile.diff import domain_config, entry_text
from xenctl.reconcile.plan import Plan
from xenctl.reconcile.walker import Outcome, Pace, PerThread, WallPace, walk
from xenctl.spec.model import DesiredPower, DomainSpec, VolumeKind, VolumeSpec, image_path

UP_TIMEOUT = 600.0  # simulated seconds a domain may take to boot before its start has failed
STOP_TIMEOUT = 300.0  # simulated seconds a shutdown may take before the domain is destroyed

__all__ = ["ApplyResult", "Hooks", "Outcome", "Pace", "WallPace", "apply_plan", "domain_config"]


class Hooks(Protocol):
    """Progress reports. ``started`` and ``finished`` for an action that ran are called on its
    worker thread; ``finished`` for a skipped action on the walker's. Neither may wait on the
    host's clock from the walker's thread: on an EventClock that would wait on the walk itself."""

    def started(self, change: Change) -> None: ...
    def finished(self, change: Change, outcome: Outcome) -> None: ...


@dataclass
class ApplyResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if not o.ok and o.skipped_because is None]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.skipped_because is not None]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes.values())


class _Quiet:
    def started(self, change: Change) -> None:
        return None

    def finished(self, change: Change, outcome: Outcome) -> None:
        return None


def apply_plan(
    plan: Plan,
    connect: Callable[[], Driver],
    *,
    parallelism: int = 10,
    hooks: Hooks | None = None,
    up_timeout: float = UP_TIMEOUT,
    stop_timeout: float = STOP_TIMEOUT,
    pace: Pace | None = None,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Walk the plan; returns every action's outcome (failed ones with their error). Once
    ``stop`` is set, the actions in flight finish and no other starts."""
    quiet: Hooks = hooks or _Quiet()
    pace = pace or WallPace()
    drivers = PerThread(connect)

    def run(address: str) -> Outcome:
        change = plan.change(address)
        quiet.started(change)
        start = pace.now()
        driver = drivers.get()
        try:
            _Steps(driver, plan, up_timeout, stop_timeout).run(change)
        except XenctlError as exc:
            outcome = Outcome(address, False, pace.now() - start, exc.message, started=start)
        else:
            outcome = Outcome(address, True, pace.now() - start, started=start)
        _record(driver, change, outcome)
        quiet.finished(change, outcome)
        return outcome

    def skip(address: str, root: str) -> Outcome:
        outcome = Outcome(address, False, skipped_because=root)
        quiet.finished(plan.change(address), outcome)
        return outcome

    try:
        graph = plan.graph
        waits_on = {node: list(graph.predecessors(node)) for node in graph.nodes}
        outcomes = walk(waits_on, run, skip, parallelism=parallelism, pace=pace, stop=stop)
    finally:
        drivers.close()
    return ApplyResult(dict(outcomes))


def _record(driver: Driver, change: Change, outcome: Outcome) -> None:
    """One line of account in the host's event log (best effort: the action's own events are there)."""
    with contextlib.suppress(XenctlError):
        driver.record_event(
            f"apply-{change.action.value}",
            change.address,
            "ok" if outcome.ok else "error",
            outcome.error or change.reason,
        )


class _Steps:
    """The engine calls that carry out one change."""

    def __init__(self, driver: Driver, plan: Plan, up_timeout: float, stop_timeout: float) -> None:
        self.driver = driver
        self.desired = plan.desired
        self.storage_root = plan.storage_root
        self.auto = plan.auto
        self.up_timeout = up_timeout
        self.stop_timeout = stop_timeout

    def owner(self, origin_file: str) -> Owner:
        return Owner(MANAGED_BY, origin_file)

    def run(self, change: Change) -> None:
        if change.action is Action.RETAIN:
            return
        handler = {
            Kind.DOMAIN: self.domain,
            Kind.VOLUME: self.volume,
            Kind.VOLUME_GROUP: self.volume_group,
            Kind.NFS_EXPORT: self.export,
            Kind.AUTOSTART: self.entry,
        }[change.kind]
        handler(change)

    # -- domains ----------------------------------------------------------------------------

    def domain(self, change: Change) -> None:
        spec = self.desired.domain(change.name)
        action = change.action
        if action is Action.ADOPT:
            self.driver.set_domain_owner(change.name, Owner(MANAGED_BY, spec.origin.file if spec else ""))
            if spec is not None and any(f.change_class is ChangeClass.RESTART for f in change.fields):
                self.stop(change.name)
                self.create_domain(spec)
            elif spec is not None and change.fields:
                self.update_domain(spec, change)
        elif action in (Action.DELETE, Action.STOP):
            self.stop(change.name)
        elif action is Action.PAUSE:
            self.driver.pause_domain(change.name)
        elif action is Action.RESUME:
            self.driver.unpause_domain(change.name)
        elif action is Action.UPDATE and spec is not None:
            self.update_domain(spec, change)
        elif action in (Action.CREATE, Action.START, Action.RESTART) and spec is not None:
            if action is not Action.CREATE:
                self.stop(change.name)
            self.create_domain(spec)

    def create_domain(self, spec: DomainSpec) -> None:
        config = domain_config(spec, self.desired, self.storage_root)
        paused = spec.state is DesiredPower.PAUSED
        made = self.driver.create_domain(config, owner=self.owner(spec.origin.file), paused=paused)
        if paused:
            return
        waited = self.driver.wait_domain(str(made.domid), "up", timeout=self.up_timeout)
        if not waited.reached:
            what = waited.phase.value if waited.phase else "gone"
            raise EngineError(f"domain {spec.name} did not come up ({what})", op="create", obj=spec.name)

    def stop(self, name: str) -> None:
        """Shut a domain down; destroy it if it will not go within the stop timeout."""
        try:
            domain = self.driver.domain(name)
            if domain.phase in (Phase.SHUTDOWN, Phase.CRASHED):
                self.driver.destroy_domain(str(domain.domid))  # a husk kept for a look: nothing to stop
                return
            if domain.phase is Phase.PAUSED:
                self.driver.unpause_domain(str(domain.domid))  # a paused guest cannot hear the request
            if domain.phase is not Phase.SHUTTING_DOWN:
                self.driver.shutdown_domain(str(domain.domid))
            waited = self.driver.wait_domain(str(domain.domid), "gone", timeout=self.stop_timeout)
            if not waited.reached:
                self.driver.destroy_domain(str(domain.domid))
        except NotFoundError:
            return  # gone already: what stopping it was for

    def update_domain(self, spec: DomainSpec, change: Change) -> None:
        fields = {f.name: f for f in change.fields}
        if "memory" in fields:
            self.driver.set_memory(spec.name, spec.memory)
        if "vcpus" in fields:
            self.driver.set_vcpus(spec.name, spec.vcpus)
        if "disks" in fields:
            config = domain_config(spec, self.desired, self.storage_root)
            wanted = {d.vdev: d for d in config.disks}
            live = {d.vdev: d for d in self.driver.domain(spec.name).config.disks}
            for vdev, disk in live.items():
                if wanted.get(vdev) != disk:
                    self.driver.detach_disk(spec.name, vdev)
            for vdev, disk in wanted.items():
                if live.get(vdev) != disk:
                    self.driver.attach_disk(spec.name, disk)
        if "state" in fields:
            if spec.state is DesiredPower.PAUSED:
                self.driver.pause_domain(spec.name)
            else:
                self.driver.unpause_domain(spec.name)

    # -- autostart entries ----------------------------------------------------------------

    def entry(self, change: Change) -> None:
        if self.auto is None:
            raise PlanError("this plan was made without an auto directory; it cannot change autostart entries")
        if change.action is Action.DELETE:
            self.auto.remove(change.name)
            return
        spec = next((a for a in self.desired.autostart if a.entry_name == change.name), None)
        if spec is not None:
            self.auto.write(change.name, entry_text(self.desired, self.storage_root, spec))

    # -- storage ----------------------------------------------------------------------------

    def volume(self, change: Change) -> None:
        spec = self.desired.volume(change.name)
        if change.action is Action.ADOPT and spec is not None:
            self.driver.set_volume_owner(self.path_of(spec), Owner(MANAGED_BY, spec.origin.file))
        elif change.action is Action.DELETE:
            self.remove_live_volume(change.name)
        elif change.action is Action.REPLACE and spec is not None:
            if spec.kind is not VolumeKind.PARTITION:
                self.remove_live_volume(change.name)
                self.create_volume(spec)
            elif spec.filesystem:
                self.driver.format_volume(self.path_of(spec), spec.filesystem)
        elif change.action is Action.CREATE and spec is not None:
            self.create_volume(spec)
        elif change.action is Action.UPDATE and spec is not None:
            fields = {f.name: f for f in change.fields}
            if "size" in fields:
                if spec.kind is VolumeKind.FILE:
                    self.driver.grow_image(self.path_of(spec), int(fields["size"].after))  # type: ignore[call-overload]
                else:
                    self.driver.grow_logical_volume(spec.vg or "", spec.name, int(fields["size"].after))  # type: ignore[call-overload]
            # A volume is formatted or filled in place only while nothing was ever put on it.
            if "filesystem" in fields and spec.filesystem:
                self.driver.format_volume(self.path_of(spec), spec.filesystem, blank_only=True)
            if "populate" in fields and spec.populate:
                self.driver.populate_volume(self.path_of(spec), spec.populate, blank_only=True)

    def path_of(self, spec: VolumeSpec) -> str:
        if spec.kind in (VolumeKind.LVM, VolumeKind.SNAPSHOT):
            return f"/dev/{spec.vg}/{spec.name}"
        if spec.kind is VolumeKind.FILE:
            return image_path(self.storage_root, spec.path or "")
        return spec.path or ""

    def create_volume(self, spec: VolumeSpec) -> None:
        owner = self.owner(spec.origin.file)
        if spec.kind is VolumeKind.LVM:
            self.driver.create_logical_volume(spec.vg or "", spec.name, spec.size or 0, owner=owner)
        elif spec.kind is VolumeKind.SNAPSHOT:
            self.driver.create_snapshot(spec.vg or "", spec.name, spec.snapshot_of or "", spec.size or 0, owner=owner)
        elif spec.kind is VolumeKind.FILE:
            self.driver.create_image(spec.path or "", spec.size or 0, sparse=spec.sparse, owner=owner)
        if spec.kind is VolumeKind.SNAPSHOT:
            return  # a snapshot holds its origin's filesystem and data
        if spec.filesystem and spec.kind is not VolumeKind.PARTITION:
            self.driver.format_volume(self.path_of(spec), spec.filesystem)
        if spec.populate:
            self.driver.populate_volume(self.path_of(spec), spec.populate)

    def remove_live_volume(self, name: str) -> None:
        state = self.driver.snapshot()
        lv = next((v for v in state.logical_volumes if v.name == name), None)
        if lv is not None:
            self.driver.remove_logical_volume(lv.vg, lv.name)
            return
        image = next((i for i in state.images if i.path.rsplit("/", 1)[-1] == name), None)
        spec = self.desired.volume(name)
        if image is None and spec is not None and spec.kind is VolumeKind.FILE:
            image = next((i for i in state.images if i.path == self.path_of(spec)), None)
        if image is not None:
            self.driver.remove_image(image.path)

    def volume_group(self, change: Change) -> None:
        spec = next((g for g in self.desired.volume_groups if g.name == change.name), None)
        if change.action is Action.ADOPT and spec is not None:
            self.driver.set_volume_owner(f"/dev/{spec.name}", Owner(MANAGED_BY, spec.origin.file))
        elif change.action in (Action.DELETE, Action.REPLACE):
            self.driver.remove_volume_group(change.name)
        if change.action in (Action.CREATE, Action.REPLACE) and spec is not None:
            self.driver.create_volume_group(spec.name, spec.pvs, owner=self.owner(spec.origin.file))

    def export(self, change: Change) -> None:
        spec = self.desired.export(change.name)
        if change.action is Action.ADOPT and spec is not None:
            self.driver.set_volume_owner(f"{spec.server}:{spec.path}", Owner(MANAGED_BY, spec.origin.file))
        elif change.action is Action.DELETE:
            server, _, path = change.name.partition(":")
            self.driver.remove_nfs_export(server, path)
        elif change.action is Action.CREATE and spec is not None:
            self.driver.create_nfs_export(spec.server, spec.path, owner=self.owner(spec.origin.file))
