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

import enum
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DOMAIN0 = "Domain-0"
MANAGED_BY = "xenctl"  # the ownership mark xenctl leaves on what it makes (``Owner.managed_by``)


class DiskMode(str, enum.Enum):
    """How a guest holds a block device: read-only, read-write, or read-write unchecked."""

    READ = "r"
    WRITE = "w"
    FORCE_WRITE = "w!"

    @property
    def writes(self) -> bool:
        return self is not DiskMode.READ


class Phase(str, enum.Enum):
    """Where a domain is in its life; ``state`` renders it as ``xm list`` does."""

    BOOTING = "booting"  # created, guest kernel not up yet (r-----)
    RUNNING = "running"  # guest up (-b----, or r----- for Domain-0)
    PAUSED = "paused"  # --p---
    SHUTTING_DOWN = "shutting-down"  # shutdown asked, guest still going down (-b----)
    SHUTDOWN = "shutdown"  # guest halted, kept by on_poweroff=preserve (---s--)
    CRASHED = "crashed"  # guest crashed, kept by on_crash=preserve (----c-)
    SAVING = "saving"  # being saved to a file (migrating-<name>)


class OnEvent(str, enum.Enum):
    """What xend does when a guest powers off, reboots or crashes."""

    DESTROY = "destroy"
    RESTART = "restart"
    PRESERVE = "preserve"
    RENAME_RESTART = "rename-restart"
    COREDUMP_DESTROY = "coredump-destroy"
    COREDUMP_RESTART = "coredump-restart"


@dataclass(frozen=True, slots=True)
class Owner:
    """The ownership marker the reconciler leaves on the objects it creates."""

    managed_by: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class DomainDisk:
    """One virtual block device: a host device or file, the guest's name for it, a mode.

    ``target`` is a full path: ``/dev/hda3``, ``/dev/vg/lv`` or an image file's path; for an
    ``nbd`` disk, the server's address and port (``134.100.233.115 20004``); empty for an empty
    removable drive (a cdrom with no disc in it), which holds no device and no loop device.
    ``backend`` is ``phy``, ``file``, ``tap:<driver>`` (``tap:aio`` needs no loop device) or
    ``nbd`` (a network block device, which xend's ``block-nbd`` script connects).
    """

    target: str
    vdev: str
    mode: DiskMode = DiskMode.WRITE
    backend: str = "phy"
    cdrom: bool = False  # a removable drive (xm's ``hdc:cdrom``): read-only, and may be empty

    @property
    def uname(self) -> str:
        """The disk as xm writes it: ``phy:/dev/hda3``; nothing for an empty drive."""
        return f"{self.backend}:{self.target}" if self.target else ""

    @property
    def empty(self) -> bool:
        return not self.target

    @property
    def needs_loop(self) -> bool:
        return self.backend == "file" and not self.empty

    @property
    def local(self) -> bool:
        """It names a device or file of Domain-0's, which xend's sharing check looks at."""
        return not self.empty and self.backend != "nbd"


@dataclass(frozen=True, slots=True)
class Vif:
    """A virtual network interface on a Domain-0 bridge."""

    bridge: str = "xenbr0"
    mac: str | None = None
    type: str | None = None  # "ioemu": an emulated card (an HVM guest's), else a netfront device
    model: str | None = None  # the emulated card: rtl8139, ne2k_pci, e1000 ...


@dataclass(frozen=True, slots=True)
class HvmConfig:
    """What a fully virtualised (HVM) guest has beyond a domain: its device model and emulated
    hardware, by xm's key names. None leaves a setting to xend's default. The firmware loader
    (``hvmloader``) is the domain's ``kernel``, as in an xm config with ``builder = 'hvm'``."""

    device_model: str = "/usr/lib/xen/bin/qemu-dm"
    boot: str | None = None  # drives in boot order: a floppy, c disk, d cdrom, n network
    acpi: bool | None = None
    apic: bool | None = None
    pae: bool | None = None
    vnc: bool | None = None
    vncdisplay: int | None = None
    vnclisten: str | None = None
    vncunused: bool | None = None
    vncpasswd: str | None = None
    sdl: bool | None = None
    opengl: bool | None = None
    stdvga: bool | None = None
    nographic: bool | None = None
    serial: str | None = None
    usb: bool | None = None
    usbdevice: str | None = None
    localtime: bool | None = None
    keymap: str | None = None
    soundhw: str | None = None


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """What a domain is created from: the fields of an xm config file that xenctl manages.

    ``vcpus`` are online at boot; ``maxvcpus`` (default: ``vcpus``) is the ceiling for
    vcpu-set. ``maxmem`` (default: ``memory``) is the ceiling for mem-set.
    """

    name: str
    memory: int = 128
    maxmem: int | None = None
    vcpus: int = 1
    maxvcpus: int | None = None
    kernel: str | None = None
    ramdisk: str | None = None
    bootloader: str | None = None
    builder: str = "linux"
    root: str | None = None
    extra: str | None = None
    disks: tuple[DomainDisk, ...] = ()
    vifs: tuple[Vif, ...] = ()
    on_poweroff: OnEvent = OnEvent.DESTROY
    on_reboot: OnEvent = OnEvent.RESTART
    on_crash: OnEvent = OnEvent.RESTART
    nfs_server: str | None = None
    nfs_root: str | None = None
    ip: str | None = None
    uuid: str | None = None
    shadow_memory: int = 0
    hvm: HvmConfig | None = None  # set for a fully virtualised guest (builder 'hvm')

    @property
    def memory_ceiling(self) -> int:
        """xend's ``memory_static_max``: maxmem if set, else the boot memory."""
        return self.maxmem if self.maxmem is not None else self.memory

    @property
    def vcpu_ceiling(self) -> int:
        return self.maxvcpus if self.maxvcpus is not None else self.vcpus


@dataclass(frozen=True, slots=True)
class Domain:
    """A live domain as a snapshot saw it."""

    domid: int
    name: str
    uuid: str
    phase: Phase
    memory: int  # current MiB
    target: int  # balloon target MiB (mem-set)
    vcpus: int  # online vCPUs
    cpu_time: float  # CPU seconds
    config: DomainConfig
    owner: Owner | None = None
    created_at: float = 0.0
    up_at: float = 0.0  # when the guest is (or was) up

    @property
    def state(self) -> str:
        """The six-letter ``xm list`` state: ``r b p s c d`` or ``-`` each."""
        return state_letters(self.phase, self.domid)

    @property
    def is_up(self) -> bool:
        """The guest has booted and is serving (paused guests are not)."""
        return self.phase in (Phase.RUNNING, Phase.SHUTTING_DOWN)


def state_letters(phase: Phase, domid: int = 1) -> str:
    letters = {
        Phase.BOOTING: "r-----",
        Phase.RUNNING: "r-----" if domid == 0 else "-b----",
        Phase.PAUSED: "--p---",
        Phase.SHUTTING_DOWN: "-b----",
        Phase.SHUTDOWN: "---s--",
        Phase.CRASHED: "----c-",
        Phase.SAVING: "-b---d",
    }
    return letters[phase]


EMPTY_DIGEST = "0" * 16  # the content digest of a volume nothing was ever written to


@dataclass(frozen=True, slots=True)
class Partition:
    """A physical partition of a disk in the host profile."""

    path: str  # /dev/hda3
    disk: str  # hda
    size: int
    mounted: str | None  # "ro" or "rw" when Domain-0 mounts it, else None
    mountpoint: str | None
    filesystem: str | None
    digest: str
    vg: str | None = None  # the volume group it is a physical volume of
    holders: tuple[str, ...] = ()  # domains that have it attached


@dataclass(frozen=True, slots=True)
class VolumeGroup:
    name: str
    pvs: tuple[str, ...]
    extent_size: int
    size: int
    free: int
    owner: Owner | None = None


@dataclass(frozen=True, slots=True)
class LogicalVolume:
    """An LVM logical volume; a snapshot has an ``origin`` and its own COW space."""

    vg: str
    name: str
    size: int
    filesystem: str | None
    digest: str
    origin: str | None = None
    cow_size: int = 0
    cow_used: int = 0
    invalid: bool = False
    owner: Owner | None = None
    holders: tuple[str, ...] = ()
    written: bool = True  # anything was put on it (a copy, a guest's writes): mkfs would lose it

    @property
    def path(self) -> str:
        return f"/dev/{self.vg}/{self.name}"

    @property
    def is_snapshot(self) -> bool:
        return self.origin is not None


@dataclass(frozen=True, slots=True)
class ImageFile:
    """A disk image file under the host's storage root."""

    path: str
    size: int
    sparse: bool
    filesystem: str | None
    digest: str
    read_only: bool = False
    owner: Owner | None = None
    holders: tuple[str, ...] = ()
    written: bool = True  # anything was put on it (a copy, a guest's writes): mkfs would lose it


@dataclass(frozen=True, slots=True)
class NfsExport:
    """An NFS export: from a server in the host profile, or served by a domain."""

    server: str
    path: str
    digest: str
    served_by_domain: bool = False
    owner: Owner | None = None

    @property
    def address(self) -> str:
        return f"{self.server}:{self.path}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a host can do, as its driver reports it: the planner asks, and never plans a step
    the host says it cannot take (it names the object, the step and the reason instead).

    The numbers are the host's own arithmetic: what the hypervisor takes per guest beyond its
    memory, and how its volume manager rounds and spends space. A driver that cannot tell
    reports what is safe (a larger overhead, a coarser extent).
    """

    live_memory: bool = False  # a running guest's memory changes in place (xm mem-set)
    live_vcpus: bool = False  # a running guest's online vCPUs change in place (xm vcpu-set)
    live_disks: bool = False  # block devices attach to and detach from a running guest
    pause: bool = False  # a guest can be paused and resumed
    save_restore: bool = False  # a guest can be saved to a file and restored from it
    console: bool = False  # a guest's console output can be read
    migration: bool = False  # a guest can move to another host
    hvm: bool = False  # fully virtualised guests (hvmloader and a device model)
    volume_groups: bool = False  # volume groups can be made and removed
    logical_volumes: bool = False  # logical volumes can be made and removed
    snapshots: bool = False  # copy-on-write snapshots of logical volumes
    images: bool = False  # image files under the storage root
    nfs_exports: bool = False  # NFS exports can be declared (served by the host or a guest)
    grow: frozenset[str] = frozenset()  # the volume kinds that grow in place: "lvm", "snapshot", "file"
    loop_devices: bool = False  # each file-backed disk holds one of ``HostInfo.max_loop`` loop devices
    domain_overhead: int = 0  # MiB the hypervisor needs beyond a guest's memory to build it
    extent_size: int = 1  # bytes; logical volume sizes round up to it
    pv_metadata: int = 0  # bytes each physical volume keeps for the volume manager's metadata
    # (capability, reason) for what the host cannot do, by the field's name; a kind of volume
    # that does not grow is ``grow:<kind>`` (``grow`` when none does).
    why_not: tuple[tuple[str, str], ...] = ()

    def reason(self, capability: str) -> str:
        """Why the host cannot do ``capability``, as its driver put it."""
        given = dict(self.why_not)
        found = given.get(capability) or (given.get("grow") if capability.startswith("grow:") else None)
        return found or "the host's driver does not offer it"


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
class HostInfo:
    """The host itself: capacity and what is in use now."""

    name: str
    total_memory: int  # MiB
    free_memory: int  # MiB not held by Xen, Domain-0 or guests
    dom0_memory: int  # MiB Domain-0 holds now
    dom0_min_mem: int  # MiB; the floor for ballooning
    ballooning: bool
    guest_memory_max: int  # MiB guests could ever hold: with Domain-0 ballooned to its floor
    pcpus: int
    max_loop: int
    loops_used: int
    bridges: tuple[str, ...]
    storage_root: str
    save_dir: str
    runlevel: int
    now: float
    booted: bool = False  # the autostart entries were booted since the host entered its runlevel
    snapshots: int = 0  # LVM snapshots on the host
    snapshot_memory: int = 0  # MiB of Domain-0 each LVM snapshot holds: out of guest_memory_max when ballooning
    capabilities: Capabilities = Capabilities()

    @property
    def dom0_can_give(self) -> int:
        """MiB Domain-0 can give up to guests by ballooning down to its floor."""
        return max(0, self.dom0_memory - self.dom0_min_mem) if self.ballooning else 0


@dataclass(frozen=True, slots=True)
class HostState:
    """Everything a snapshot read, at one moment."""

    host: HostInfo
    domains: tuple[Domain, ...]
    partitions: tuple[Partition, ...]
    volume_groups: tuple[VolumeGroup, ...]
    logical_volumes: tuple[LogicalVolume, ...]
    images: tuple[ImageFile, ...]
    nfs_exports: tuple[NfsExport, ...]

    def domain(self, name: str) -> Domain | None:
        return next((d for d in self.domains if d.name == name), None)


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
