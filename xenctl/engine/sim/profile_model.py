"""The host profile as xenctl holds it: a simulated host's hardware, Domain-0 setup and durations.

Memory is in MiB, the write rate in bytes a second, durations in seconds. ``to_dict`` writes a
profile in the shape of a profile file; ``profile.profile_from_dict`` reads one, checking it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from xenctl.units import MIB, format_size

DURATION_KEYS = ("boot", "shutdown", "save", "restore", "lv_create", "image_create", "mkfs")


@dataclass(frozen=True, slots=True)
class PartitionProfile:
    """A partition of a physical disk, and where Domain-0 mounts it (if it does)."""

    name: str
    size: int
    filesystem: str | None = None
    mount: str | None = None  # mountpoint in Domain-0
    mode: str | None = None  # "ro" or "rw" when mounted


@dataclass(frozen=True, slots=True)
class DiskProfile:
    """A physical disk and its partitions."""

    name: str
    size: int
    partitions: tuple[PartitionProfile, ...]
    shared: bool = False  # a SAN LUN: every host whose profile has it shared reaches the same device


@dataclass(frozen=True, slots=True)
class Durations:
    """How long each operation takes on the host, in seconds (image_create: per GiB written)."""

    boot: float = 8.0
    shutdown: float = 4.0
    save: float = 3.0
    restore: float = 2.0
    lv_create: float = 0.5
    image_create: float = 4.0
    mkfs: float = 2.0


@dataclass(frozen=True, slots=True)
class HostProfile:
    """A simulated host's hardware and Domain-0 setup: what ``xenctl host init`` makes it from."""

    name: str = "xen1"
    memory: int = 16384  # MiB
    xen_reserved: int = 64  # MiB
    cpus: int = 8
    hvm: bool = True  # the CPU can run fully virtualised guests
    dom0_memory: int | None = 1024  # MiB; None: all that is left
    dom0_min_mem: int = 196  # MiB
    dom0_ballooning: bool = True
    dom0_vcpus: int | None = None
    max_loop: int = 8
    bridges: tuple[str, ...] = ("xenbr0",)
    disks: tuple[DiskProfile, ...] = ()
    nfs_servers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    storage_root: str = "/var/lib/xen/images"
    save_dir: str = "save"
    runlevel: int = 3
    guest_write_rate: int = MIB  # bytes a second
    snapshot_memory: int = 8  # MiB of Domain-0 each LVM snapshot holds
    migration_bandwidth: int = 119 * MIB  # bytes a second to another host: a gigabit link, near enough
    dirty_rate: float = 0.02  # the share of a guest's memory it dirties each second while it moves
    durations: Durations = field(default_factory=Durations)

    @property
    def ballooning(self) -> bool:
        """xend balloons Domain-0 only when enabled and dom0-min-mem is above 0."""
        return self.dom0_ballooning and self.dom0_min_mem > 0

    @property
    def dom0_initial_memory(self) -> int:
        if self.dom0_memory is not None:
            return self.dom0_memory
        return self.memory - self.xen_reserved

    @property
    def partitions(self) -> tuple[PartitionProfile, ...]:
        return tuple(p for d in self.disks for p in d.partitions)

    def to_dict(self) -> dict[str, Any]:
        """The profile in the shape of a profile file; ``profile_from_dict`` reads it back."""
        return {
            "name": self.name,
            "memory": format_size(self.memory * MIB),
            "xen_reserved": format_size(self.xen_reserved * MIB),
            "cpus": self.cpus,
            "hvm": self.hvm,
            "dom0": {
                "memory": None if self.dom0_memory is None else format_size(self.dom0_memory * MIB),
                "min_mem": format_size(self.dom0_min_mem * MIB) if self.dom0_min_mem else 0,
                "ballooning": self.dom0_ballooning,
                "vcpus": self.dom0_vcpus,
            },
            "max_loop": self.max_loop,
            "bridges": list(self.bridges),
            "disks": {
                d.name: {
                    "size": format_size(d.size),
                    **({"shared": True} if d.shared else {}),
                    "partitions": {
                        p.name: {
                            k: (format_size(v) if k == "size" else v)
                            for k, v in asdict(p).items()
                            if k != "name" and v is not None
                        }
                        for p in d.partitions
                    },
                }
                for d in self.disks
            },
            "nfs_servers": {server: list(paths) for server, paths in self.nfs_servers},
            "storage_root": self.storage_root,
            "save_dir": self.save_dir,
            "runlevel": self.runlevel,
            "guest_write_rate": format_size(self.guest_write_rate),
            "snapshot_memory": format_size(self.snapshot_memory * MIB) if self.snapshot_memory else 0,
            "migration": {"bandwidth": format_size(self.migration_bandwidth), "dirty_rate": self.dirty_rate},
            "durations": asdict(self.durations),  # seconds, exactly
        }
