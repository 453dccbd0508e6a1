"""The desired state: what the spec files ask for, as frozen values.

Units are fixed here, once: memory in MiB, storage sizes in bytes, durations in seconds. (No
``slots``: the validated models are cached with pickle, which restores plain dataclasses several
times faster.) Every object remembers where it was declared (``Origin``: the file and the path
inside it), so a message about it can name the file and line.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cached_property

from xenctl.spec.compact import Compact

PathPart = str | int
_NOT_LVM = re.compile(r"[^A-Za-z0-9+_.-]")


def volume_name_from(text: str) -> str:
    """A volume name made from another name: what LVM does not allow becomes '_', a leading '-'
    gets a '_' before it, at most 127 characters."""
    name = _NOT_LVM.sub("_", text) or "volume"
    return ("_" + name if name.startswith("-") else name)[:127]


@dataclass(frozen=True)
class Origin:
    """Where an object was declared: a file and the path of the object inside it."""

    file: str
    path: tuple[PathPart, ...] = ()

    def at(self, *more: PathPart) -> Origin:
        return Origin(self.file, (*self.path, *more))


class VolumeKind(str, enum.Enum):
    LVM = "lvm"
    SNAPSHOT = "snapshot"
    FILE = "file"
    PARTITION = "partition"


class DesiredPower(str, enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class StopMode(str, enum.Enum):
    SAVE = "save"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class VolumeGroupSpec(Compact):
    name: str
    pvs: tuple[str, ...]  # /dev/sda10
    origin: Origin = field(default=Origin(""), compare=False)
    host: str | None = None  # the fleet's host it is on (None: its domains' host, or the one host)


@dataclass(frozen=True)
class VolumeSpec:
    """A volume: an LVM LV, a CoW snapshot of one, an image file, or a whole partition."""

    name: str
    kind: VolumeKind
    size: int | None = None  # bytes; a snapshot's COW space
    vg: str | None = None
    snapshot_of: str | None = None
    path: str | None = None  # image file (as written) or partition (/dev/hda3)
    sparse: bool = True
    filesystem: str | None = None
    populate: str | None = None
    origin: Origin = field(default=Origin(""), compare=False)
    host: str | None = None  # the fleet's host it is on (None: its domains' host, or the one host)


@dataclass(frozen=True)
class NfsExportSpec(Compact):
    name: str
    server: str  # an address, or a declared domain's name
    path: str
    origin: Origin = field(default=Origin(""), compare=False)
    host: str | None = None  # the fleet's host it is on (None: its server domain's host, or the one host)


@dataclass(frozen=True)
class DiskSpec:
    """One of a domain's disks: exactly one of volume, phy, file or nbd; or, for a removable
    drive (``cdrom``), none of them: an empty drive, which holds no device."""

    vdev: str
    mode: str = "w"
    volume: str | None = None
    phy: str | None = None  # /dev/hda3
    file: str | None = None
    nbd: str | None = None  # a network block device: "134.100.233.115 20004", its server and port
    cdrom: bool = False

    @property
    def empty(self) -> bool:
        return self.volume is None and self.phy is None and self.file is None and self.nbd is None

    @property
    def reference(self) -> str:
        """What the disk points at, as a person would name it."""
        if self.volume is not None:
            return f"volume {self.volume}"
        if self.phy is not None:
            return f"phy:{self.phy}"
        if self.nbd is not None:
            return f"nbd:{self.nbd}"
        return "an empty drive" if self.file is None else f"file:{self.file}"


@dataclass(frozen=True)
class VifSpec(Compact):
    bridge: str = "xenbr0"
    mac: str | None = None
    type: str | None = None  # "ioemu": an emulated card, for an HVM guest
    model: str | None = None  # the emulated card: rtl8139, ne2k_pci, e1000 ...


HVMLOADER = "/usr/lib/xen/boot/hvmloader"
QEMU_DM = "/usr/lib/xen/bin/qemu-dm"


@dataclass(frozen=True)
class HvmSpec(Compact):
    """A fully virtualised guest's firmware, device model and emulated hardware (xm's keys);
    None leaves a setting to xend's default."""

    loader: str = HVMLOADER
    device_model: str = QEMU_DM
    boot: str | None = None
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


@dataclass(frozen=True)
class InstallSpec(Compact):
    location: str
    kickstart: str | None = None


@dataclass(frozen=True)
class DomainSpec(Compact):
    name: str
    memory: int = 128  # MiB
    maxmem: int | None = None
    vcpus: int = 1
    maxvcpus: int | None = None
    kernel: str | None = None
    ramdisk: str | None = None
    bootloader: str | None = None
    root: str | None = None
    extra: str | None = None
    disks: tuple[DiskSpec, ...] = ()
    nfs_root: str | None = None  # a declared export's name
    vifs: tuple[VifSpec, ...] = ()
    ip: str | None = None
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "restart"
    state: DesiredPower = DesiredPower.RUNNING
    depends_on: tuple[str, ...] = ()
    install: InstallSpec | None = None
    graphics: bool = False
    hvm: HvmSpec | None = None  # a fully virtualised guest
    origin: Origin = field(default=Origin(""), compare=False)
    host: str | None = None  # pinned to this host of the fleet (None: placed, or the one host)
    spread: str | None = None  # an anti-affinity group: no two of one group on one host
    host_labels: tuple[str, ...] = ()  # only on hosts carrying every one

    @property
    def memory_ceiling(self) -> int:
        return self.maxmem if self.maxmem is not None else self.memory

    @property
    def vcpu_ceiling(self) -> int:
        return self.maxvcpus if self.maxvcpus is not None else self.vcpus


@dataclass(frozen=True)
class AutostartSpec(Compact):
    domain: str
    file: str | None = None  # the entry's file name; default the domain's name
    order: int | None = None
    after: tuple[str, ...] = ()
    up: float = 0.0  # seconds
    stop: StopMode = StopMode.SHUTDOWN
    stop_timeout: float = 300.0
    on_timeout: str = "destroy"
    origin: Origin = field(default=Origin(""), compare=False)

    @property
    def entry_name(self) -> str:
        return self.file or self.domain


@dataclass(frozen=True)
class HostSpec(Compact):
    """A host of the fleet: its name in the specs, how to reach it, its labels, and what its
    guests may use in all (None: what the host says)."""

    name: str
    connect: str
    labels: tuple[str, ...] = ()
    memory: int | None = None  # MiB
    vcpus: int | None = None
    origin: Origin = field(default=Origin(""), compare=False)


@dataclass(frozen=True)
class DesiredState:
    """Everything the spec files ask for, merged; each tuple sorted by name.

    Looking an object up by name is a dict lookup (built once, on first use), so planning for
    thousands of domains stays linear.
    """

    domains: tuple[DomainSpec, ...] = ()
    volume_groups: tuple[VolumeGroupSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    nfs_exports: tuple[NfsExportSpec, ...] = ()
    autostart: tuple[AutostartSpec, ...] = ()
    files: tuple[str, ...] = ()
    hosts: tuple[HostSpec, ...] = ()  # the fleet (empty: the specs are for one host)

    @cached_property
    def _domains_by_name(self) -> dict[str, DomainSpec]:
        return {d.name: d for d in reversed(self.domains)}  # the first declared wins, as checks report

    @cached_property
    def _volumes_by_name(self) -> dict[str, VolumeSpec]:
        return {v.name: v for v in reversed(self.volumes)}

    @cached_property
    def _domains_by_ip(self) -> dict[str, str]:
        return {d.ip: d.name for d in reversed(self.domains) if d.ip}

    @cached_property
    def _exports_by_name(self) -> dict[str, NfsExportSpec]:
        return {e.name: e for e in reversed(self.nfs_exports)}

    def domain(self, name: str) -> DomainSpec | None:
        return self._domains_by_name.get(name)

    def domain_with_ip(self, ip: str) -> str | None:
        """The name of the first declared domain with this address."""
        return self._domains_by_ip.get(ip)

    def export(self, name: str) -> NfsExportSpec | None:
        return self._exports_by_name.get(name)

    def volume(self, name: str) -> VolumeSpec | None:
        return self._volumes_by_name.get(name)

    @cached_property
    def _entries_by_file(self) -> dict[str, AutostartSpec]:
        return {a.entry_name: a for a in reversed(self.autostart)}

    def entry(self, file: str) -> AutostartSpec | None:
        """The autostart entry written to ``file`` (the first declared)."""
        return self._entries_by_file.get(file)

    # Asked by every plan that changes something: a ``PartedDesired`` answers without reading files.
    def domain_names(self) -> Collection[str]:
        return self._domains_by_name.keys()

    def domain_count(self) -> int:
        return len(self.domains)

    def entry_names(self, domains: Collection[str] | None = None) -> set[str]:
        """The autostart entries' files (only of ``domains``, if given)."""
        return {a.entry_name for a in self.autostart if domains is None or a.domain in domains}

    def declares_snapshots(self) -> bool:
        return any(v.kind is VolumeKind.SNAPSHOT for v in self.volumes)

    def running_memory(self) -> tuple[int, int]:
        """How many domains are not declared stopped, and the MiB they ask for together."""
        running = [d.memory for d in self.domains if d.state is not DesiredPower.STOPPED]
        return len(running), sum(running)

    def file_disk_users(self) -> list[str]:
        """The running domains' file-backed disks (each a loop device on a Xen host), by domain:
        a disk naming an image file, or a declared volume that is one."""
        file, stopped = VolumeKind.FILE, DesiredPower.STOPPED  # looked up once, not for each disk
        images = {v.name for v in self.volumes if v.kind is file}
        up = [d for d in self.domains if d.state is not stopped]
        return [d.name for d in up for k in d.disks if k.file is not None or (k.volume in images and k.phy is None)]

    def file_disk_count(self) -> int:
        return len(self.file_disk_users())

    def disks_on(self, targets: Collection[str], storage_root: str) -> list[tuple[DomainSpec, tuple[Target, ...]]]:
        """The declared domains with a disk on one of ``targets``, by name, and each one's disks' targets."""
        rows = zip(self.domains, self.disk_targets(storage_root), strict=True)
        return [(d, row) for d, row in rows if any(target in targets for target, _backend in row)]

    @cached_property
    def _disk_tables(self) -> dict[str, tuple[tuple[Target, ...], ...]]:
        return {}

    @cached_property
    def _volume_tables(self) -> dict[str, tuple[Target, ...]]:
        return {}

    def volume_targets(self, storage_root: str) -> tuple[Target, ...]:
        """Each declared volume's device (``volume_target``), beside ``volumes``; made once for
        each storage root, as ``disk_targets`` is."""
        table = self._volume_tables.get(storage_root)
        if table is None:
            in_groups = (VolumeKind.LVM, VolumeKind.SNAPSHOT)  # most volumes: worked out here, no call each
            table = tuple(
                (f"/dev/{v.vg}/{v.name}", "phy") if v.kind in in_groups else volume_target(v, storage_root)
                for v in self.volumes
            )
            self._volume_tables[storage_root] = table
        return table

    def disk_targets(self, storage_root: str) -> tuple[tuple[Target, ...], ...]:
        """Each declared domain's disks as the host names them, in order, beside ``domains``.
        A disk naming an undeclared volume is ``volume:NAME``. Made once for each storage root:
        the checks and the plan look at every disk more than once."""
        table = self._disk_tables.get(storage_root)
        if table is None:
            # The first declared of a name wins, as ``volume`` finds it.
            targets = self.volume_targets(storage_root)
            devices = dict(zip(reversed([v.name for v in self.volumes]), reversed(targets), strict=True))
            table = tuple(_disk_row(domain, storage_root, devices.get) for domain in self.domains)
            self._disk_tables[storage_root] = table
        return table

    def disk_targets_of(self, domain: DomainSpec, storage_root: str) -> tuple[Target, ...]:
        """One domain's row of ``disk_targets``, without working out every domain's."""

        def device(name: str) -> Target | None:
            volume = self.volume(name)
            return None if volume is None else volume_target(volume, storage_root)

        return _disk_row(domain, storage_root, device)


# A disk or volume as the host names it: (path, backend), the backend "phy", "file", "nbd" or "empty".
Target = tuple[str, str]


def _disk_row(domain: DomainSpec, storage_root: str, device: Callable[[str], Target | None]) -> tuple[Target, ...]:
    row = []
    for disk in domain.disks:  # a plain loop: this runs over every disk of every domain
        if disk.phy is not None:
            row.append((disk.phy, "phy"))
        elif disk.file is not None:
            row.append((image_path(storage_root, disk.file), "file"))
        elif disk.nbd is not None:
            row.append((f"nbd:{disk.nbd}", "nbd"))
        elif disk.volume is None:
            row.append(("", "empty"))
        else:
            row.append(device(disk.volume) or (f"volume:{disk.volume}", "phy"))
    return tuple(row)


def image_path(storage_root: str, path: str) -> str:
    """A spec's image path as the host names it: relative paths live under the storage root."""
    return "/" + os.path.normpath(os.path.join(storage_root, path)).lstrip("/")


def volume_target(volume: VolumeSpec, storage_root: str) -> Target:
    """A declared volume's device: ``/dev/vg/lv``, an image file, a partition."""
    if volume.kind in (VolumeKind.LVM, VolumeKind.SNAPSHOT):
        return f"/dev/{volume.vg}/{volume.name}", "phy"
    if volume.kind is VolumeKind.FILE:
        return image_path(storage_root, volume.path or ""), "file"
    return volume.path or "", "phy"
