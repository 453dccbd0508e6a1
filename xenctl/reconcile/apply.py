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
from typing import Protocol, TypeVar

from xenctl.engine.api import (
    MANAGED_BY,
    Driver,
    Owner,
    Phase,
)
from xenctl.errors import EngineError, NotFoundError, PlanError, XenctlError
from xenctl.reconcile.changes import Action, Change, ChangeClass, Kind
from xenctl.reconcile.plan import Plan
from xenctl.reconcile.values import DomainValues, EntryValues, ExportValues, GroupValues, VolumeValues
from xenctl.reconcile.walker import Outcome, Pace, PerThread, WallPace, walk
from xenctl.spec.model import DesiredPower, VolumeKind

UP_TIMEOUT = 600.0  # simulated seconds a domain may take to boot before its start has failed
STOP_TIMEOUT = 300.0  # simulated seconds a shutdown may take before the domain is destroyed

__all__ = ["ApplyResult", "Hooks", "Outcome", "Pace", "WallPace", "apply_plan"]


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
    """The engine calls that carry out one change, from the values the plan gave it."""

    def __init__(self, driver: Driver, plan: Plan, up_timeout: float, stop_timeout: float) -> None:
        self.driver = driver
        self.auto = plan.auto
        self.up_timeout = up_timeout
        self.stop_timeout = stop_timeout

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
        action = change.action
        if action in (Action.DELETE, Action.STOP):
            self.stop(change.name)
            return
        if action is Action.PAUSE:
            self.driver.pause_domain(change.name)
            return
        if action is Action.RESUME:
            self.driver.unpause_domain(change.name)
            return
        values = _values(change, DomainValues)
        if action is Action.ADOPT:
            self.driver.set_domain_owner(change.name, Owner(MANAGED_BY, values.source))
            if any(f.change_class is ChangeClass.RESTART for f in change.fields):
                self.stop(change.name)
                self.create_domain(values)
            elif change.fields:
                self.update_domain(values, change)
        elif action is Action.UPDATE:
            self.update_domain(values, change)
        elif action in (Action.CREATE, Action.START, Action.RESTART):
            if action is not Action.CREATE:
                self.stop(change.name)
            self.create_domain(values)

    def create_domain(self, values: DomainValues) -> None:
        paused = values.power == DesiredPower.PAUSED.value
        made = self.driver.create_domain(values.config, owner=Owner(MANAGED_BY, values.source), paused=paused)
        if paused:
            return
        waited = self.driver.wait_domain(str(made.domid), "up", timeout=self.up_timeout)
        if not waited.reached:
            what = waited.phase.value if waited.phase else "gone"
            name = values.config.name
            raise EngineError(f"domain {name} did not come up ({what})", op="create", obj=name)

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

    def update_domain(self, values: DomainValues, change: Change) -> None:
        fields = {f.name for f in change.fields}
        name, config = change.name, values.config
        if "memory" in fields:
            self.driver.set_memory(name, config.memory)
        if "vcpus" in fields:
            self.driver.set_vcpus(name, config.vcpus)
        if "disks" in fields:
            wanted = {d.vdev: d for d in config.disks}
            live = {d.vdev: d for d in self.driver.domain(name).config.disks}
            for vdev, disk in live.items():
                if wanted.get(vdev) != disk:
                    self.driver.detach_disk(name, vdev)
            for vdev, disk in wanted.items():
                if live.get(vdev) != disk:
                    self.driver.attach_disk(name, disk)
        if "state" in fields:
            if values.power == DesiredPower.PAUSED.value:
                self.driver.pause_domain(name)
            else:
                self.driver.unpause_domain(name)

    # -- autostart entries ----------------------------------------------------------------

    def entry(self, change: Change) -> None:
        if self.auto is None:
            raise PlanError("this plan was made without an auto directory; it cannot change autostart entries")
        if change.action is Action.DELETE:
            self.auto.remove(change.name)
            return
        self.auto.write(change.name, _values(change, EntryValues).text)

    # -- storage ----------------------------------------------------------------------------

    def volume(self, change: Change) -> None:
        if change.action is Action.DELETE:
            self.remove_live_volume(change)
            return
        values = _values(change, VolumeValues)
        if change.action is Action.ADOPT:
            self.driver.set_volume_owner(values.path, Owner(MANAGED_BY, values.source))
        elif change.action is Action.REPLACE:
            if values.kind != VolumeKind.PARTITION.value:
                self.remove_live_volume(change)
                self.create_volume(values)
            elif values.filesystem:
                self.driver.format_volume(values.path, values.filesystem)
        elif change.action is Action.CREATE:
            self.create_volume(values)
        elif change.action is Action.UPDATE:
            self.update_volume(values, {f.name for f in change.fields})

    def update_volume(self, values: VolumeValues, fields: set[str]) -> None:
        if "size" in fields:
            if values.kind == VolumeKind.FILE.value:
                self.driver.grow_image(values.path, values.size)
            else:
                self.driver.grow_logical_volume(values.vg or "", values.name, values.size)
        # A volume is formatted or filled in place only while nothing was ever put on it.
        if "filesystem" in fields and values.filesystem:
            self.driver.format_volume(values.path, values.filesystem, blank_only=True)
        if "populate" in fields and values.populate:
            self.driver.populate_volume(values.path, values.populate, blank_only=True)

    def create_volume(self, values: VolumeValues) -> None:
        owner = Owner(MANAGED_BY, values.source)
        kind = VolumeKind(values.kind)
        if kind is VolumeKind.LVM:
            self.driver.create_logical_volume(values.vg or "", values.name, values.size, owner=owner)
        elif kind is VolumeKind.SNAPSHOT:
            self.driver.create_snapshot(values.vg or "", values.name, values.origin or "", values.size, owner=owner)
            return  # a snapshot holds its origin's filesystem and data
        elif kind is VolumeKind.FILE:
            self.driver.create_image(values.image or "", values.size, sparse=values.sparse, owner=owner)
        if values.filesystem and kind is not VolumeKind.PARTITION:
            self.driver.format_volume(values.path, values.filesystem)
        if values.populate:
            self.driver.populate_volume(values.path, values.populate)

    def remove_live_volume(self, change: Change) -> None:
        """Remove what the plan found of the volume on the host when it was made."""
        removal = change.removes
        if removal is None or removal.what == "none":
            return
        if removal.what == "lv":
            self.driver.remove_logical_volume(removal.vg, removal.name)
        else:
            self.driver.remove_image(removal.path)

    def volume_group(self, change: Change) -> None:
        if change.action is Action.DELETE:
            self.driver.remove_volume_group(change.name)
            return
        values = _values(change, GroupValues)
        if change.action is Action.ADOPT:
            self.driver.set_volume_owner(f"/dev/{values.name}", Owner(MANAGED_BY, values.source))
            return
        if change.action is Action.REPLACE:
            self.driver.remove_volume_group(change.name)
        if change.action in (Action.CREATE, Action.REPLACE):
            self.driver.create_volume_group(values.name, values.pvs, owner=Owner(MANAGED_BY, values.source))

    def export(self, change: Change) -> None:
        if change.action is Action.DELETE:
            server, _, path = change.name.partition(":")
            self.driver.remove_nfs_export(server, path)
            return
        values = _values(change, ExportValues)
        if change.action is Action.ADOPT:
            self.driver.set_volume_owner(f"{values.server}:{values.path}", Owner(MANAGED_BY, values.source))
        elif change.action is Action.CREATE:
            self.driver.create_nfs_export(values.server, values.path, owner=Owner(MANAGED_BY, values.source))


V = TypeVar("V")


def _values(change: Change, kind: type[V]) -> V:
    """The values the plan gave ``change``; a plan without them cannot be carried out."""
    if not isinstance(change.values, kind):
        raise PlanError(f"{change.address}: the plan holds no values to {change.action.value} it with")
    return change.values
