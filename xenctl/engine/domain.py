"""A guest as a driver speaks of it: what it is made from (disks, interfaces, HVM hardware, what
xend does on its exits), and the live domain a snapshot sees (its phase, memory and owner).

The names are xm's: a ``DomainConfig`` holds the fields of an xm config file that xenctl manages,
and ``Domain.state`` renders a phase as ``xm list`` does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from xenctl.engine.phase import Phase as Phase
from xenctl.engine.phase import state_letters as state_letters

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
