"""The driver boundary: the live-state model and the operations the reconciler may call.

Everything above the engine (plan, apply, autostart, the command line) sees a hypervisor only
through ``Driver``: one ``snapshot()`` that returns the whole live state as frozen values (and
``change_token()``, which changes whenever a snapshot could show something new, or is None when
the driver cannot tell: what lets a plan of an unchanged host skip the read), and a small set of
mutations named after what ``xm``, ``lvm`` and libvirt can do. The simulated Xen host
(``xenctl.engine.sim``) implements it; a libvirt driver would map each method onto one libvirt
call (``virDomainCreateXML``, ``virDomainShutdown``, ``virDomainSave``, ``virStorageVolCreateXML``
...), which is why the interface speaks of domains and volumes by name and path, never of rows.

Units: domain memory is in MiB (as in ``xm``), storage sizes are in bytes, times are seconds on
the host's clock (timeouts and ``sleep`` too: a simulated host scales them as it scales its
boots and shutdowns).

The runlevel and the ``booted`` mark belong to the host: on a real one, init's runlevel and the
xendomains-style lock file that says the autostart entries were started.

Beyond the state, a driver owns what makes it one host among others: its lock (one mutating
command at a time, with the holder named), ``capabilities()`` (what it can do and its numbers,
so that the planner holds no hypervisor's constants), ``config_root()`` (where a Xen host keeps
its xm config files and ``auto/`` entries; None for a host whose autostart is a flag on the
domain) and ``close()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from xenctl.engine.capabilities import Capabilities
from xenctl.engine.domain import (
    DOMAIN0,
    MANAGED_BY,
    DiskMode,
    Domain,
    DomainConfig,
    DomainDisk,
    HvmConfig,
    OnEvent,
    Owner,
    Phase,
    Vif,
    state_letters,
)
from xenctl.engine.state import (
    EMPTY_DIGEST,
    HostInfo,
    HostState,
    ImageFile,
    LogicalVolume,
    NfsExport,
    Partition,
    VolumeGroup,
)

__all__ = [
    "DOMAIN0",
    "EMPTY_DIGEST",
    "MANAGED_BY",
    "Capabilities",
    "ConsoleLine",
    "DiskMode",
    "Domain",
    "DomainConfig",
    "DomainDisk",
    "Driver",
    "Event",
    "Fault",
    "HostInfo",
    "HostLock",
    "HostState",
    "HvmConfig",
    "ImageFile",
    "LogicalVolume",
    "NfsExport",
    "OnEvent",
    "Owner",
    "Partition",
    "Phase",
    "Selection",
    "Vif",
    "VolumeGroup",
    "WaitResult",
    "state_letters",
]


@dataclass(frozen=True, slots=True)
class HostLock:
    """The host's lock: one mutating command at a time, with who holds it and since when."""

    id: int
    holder: str
    pid: int
    machine: str
    started: float
    command: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"lock {self.id}: '{self.command}' (pid {self.pid} on {self.machine}, since {when})"


@dataclass(frozen=True, slots=True)
class Selection:
    """The part of a host ``Driver.snapshot_of`` reads: what a plan made again after an edit
    needs, on a host with thousands of guests of which it touches a few.

    Always whole: the host's facts (``HostInfo``, its totals over every guest included), its
    partitions, volume groups and NFS exports, Domain-0, and every guest no one manages. Of the
    rest, only what is named here; each object read is exactly what ``snapshot`` reads of it
    (holders and written data count every guest, not only the ones selected).
    """

    domains: frozenset[str] = frozenset()  # guests, by name
    volumes: frozenset[str] = frozenset()  # logical volumes by name or by origin, image files by file name
    paths: frozenset[str] = frozenset()  # logical volumes and image files, by host path


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the host's event log."""

    seq: int
    at: float
    op: str
    obj: str
    outcome: str  # "ok" or "error"
    message: str = ""
    actor: str = ""

    def to_json(self) -> dict[str, object]:
        """The event as ``xenctl events --json`` and the API give it."""
        return {
            "seq": self.seq,
            "at": self.at,
            "op": self.op,
            "object": self.obj,
            "outcome": self.outcome,
            "message": self.message,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class ConsoleLine:
    at: float
    text: str


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure to inject: ``kind`` is ``fail``, ``ignore-shutdown`` or ``crash-at-boot``."""

    op: str
    obj: str = "*"
    kind: str = "fail"
    message: str = "injected fault"
    times: int | None = None  # None: every time
    id: int = 0
    skip: int = 0  # matching operations let through before it may fire: skip=k-1 fails the k-th
    rate: float = 1.0  # the share of matching operations it fires on (a fixed pseudo-random pick)


@dataclass(frozen=True, slots=True)
class WaitResult:
    """What ``wait_domain`` saw when it returned."""

    reached: bool
    phase: Phase | None  # None: the domain is gone
    waited: float = 0.0


@runtime_checkable
class Driver(Protocol):
    """All the reconciler will ever call on a hypervisor.

    Domains are named by name or domid (``ref``); storage by path (``/dev/vg/lv``, an image's
    path) or by VG and LV name. Every mutation either happens whole or raises an ``EngineError``
    and changes nothing.
    """

    def snapshot(self) -> HostState: ...
    def change_token(self) -> str | None: ...
    def snapshot_of(self, selection: Selection) -> tuple[str | None, HostState]: ...
    # The guests (by name) that may differ from what a snapshot showed when the token was
    # ``since``; None when more than guests may have changed, or the driver cannot tell.
    def changed_domains(self, since: str) -> frozenset[str] | None: ...
    # Whether everything a plan sees of the host is as it was when the token was ``since``
    # (a guest paused and resumed): False when it differs or the driver cannot tell.
    def unchanged_since(self, since: str) -> bool: ...
    def domain(self, ref: str) -> Domain: ...

    # domains
    def create_domain(self, config: DomainConfig, *, owner: Owner | None = None, paused: bool = False) -> Domain: ...
    def shutdown_domain(self, ref: str, *, reboot: bool = False) -> None: ...
    def destroy_domain(self, ref: str) -> None: ...
    def reboot_domain(self, ref: str) -> None: ...
    def pause_domain(self, ref: str) -> None: ...
    def unpause_domain(self, ref: str) -> None: ...
    def save_domain(self, ref: str, path: str) -> None: ...
    def restore_domain(self, path: str, *, paused: bool = False) -> Domain: ...
    def saved_config(self, path: str) -> DomainConfig: ...
    def set_memory(self, ref: str, mib: int) -> None: ...
    def set_vcpus(self, ref: str, count: int) -> None: ...
    def attach_disk(self, ref: str, disk: DomainDisk) -> None: ...
    def detach_disk(self, ref: str, vdev: str) -> None: ...
    def wait_domain(self, ref: str, until: str, timeout: float | None = None) -> WaitResult: ...
    def console(self, ref: str) -> tuple[ConsoleLine, ...]: ...
    def set_domain_owner(self, ref: str, owner: Owner | None) -> None: ...

    # storage
    def create_volume_group(self, name: str, pvs: tuple[str, ...], *, owner: Owner | None = None) -> None: ...
    def remove_volume_group(self, name: str) -> None: ...
    def create_logical_volume(self, vg: str, name: str, size: int, *, owner: Owner | None = None) -> None: ...
    def create_snapshot(
        self, vg: str, name: str, origin: str, cow_size: int, *, owner: Owner | None = None
    ) -> None: ...
    def grow_logical_volume(self, vg: str, name: str, size: int) -> None: ...
    def remove_logical_volume(self, vg: str, name: str) -> None: ...
    def create_image(self, path: str, size: int, *, sparse: bool = True, owner: Owner | None = None) -> str: ...
    def grow_image(self, path: str, size: int) -> None: ...
    def remove_image(self, path: str) -> None: ...
    def format_volume(self, path: str, filesystem: str, *, blank_only: bool = False) -> None: ...
    def populate_volume(self, path: str, source: str, *, blank_only: bool = False) -> None: ...
    def create_nfs_export(self, server: str, path: str, *, owner: Owner | None = None) -> None: ...
    def remove_nfs_export(self, server: str, path: str) -> None: ...
    def set_volume_owner(self, path: str, owner: Owner | None) -> None: ...

    # the host
    def capabilities(self) -> Capabilities: ...
    def config_root(self) -> str | None: ...
    def set_runlevel(self, level: int, *, booted: bool) -> None: ...
    def sleep(self, seconds: float) -> None: ...
    def close(self) -> None: ...

    # one mutating command at a time
    def acquire_lock(self, command: str, timeout: float = 0.0) -> HostLock: ...
    def release_lock(self, held: HostLock) -> None: ...
    def force_unlock(self, lock_id: int) -> HostLock: ...
    def lock_holder(self) -> HostLock | None: ...

    # the record
    def record_event(self, op: str, obj: str, outcome: str, message: str = "") -> None: ...
    def events(self, since: int = 0, limit: int | None = None) -> tuple[Event, ...]: ...
