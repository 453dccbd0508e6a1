"""The live state a snapshot reads at one moment: the host's facts, its storage and its guests.

Storage objects are named by path as the host names them (``/dev/vg/lv``, an image's path, an NFS
``server:path``); each carries who holds it, its owner and a digest of what was written to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xenctl.engine.capabilities import Capabilities
from xenctl.engine.domain import Domain, Owner

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
    capabilities: Capabilities = Capabilities()  # noqa: RUF009 (frozen: one shared default is safe)

    @property
    def dom0_can_give(self) -> int:
        """MiB Domain-0 can give up to guests by ballooning down to its floor: its minimum, and
        what its LVM snapshots hold."""
        floor = self.dom0_min_mem + self.snapshots * self.snapshot_memory
        return max(0, self.dom0_memory - floor) if self.ballooning else 0


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
