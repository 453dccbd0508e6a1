"""A new guest from the wizard's answers, as a spec: what ``xenctl new`` and the page's New VM
wizard both write, so what either makes is declared, reviewable and applied by the plan.

``answers_to_desired`` turns the answers into the desired state, purely: one domain on one volume
(an image file of the size asked, or a whole partition), installing from a network tree, or, fully
virtualised, from an ISO image in an emulated CD drive. ``render_spec`` is the spec file's text.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from xenctl.app.answers import Limits
from xenctl.errors import XenctlError
from xenctl.spec.model import (
    DesiredState,
    DiskSpec,
    DomainSpec,
    HvmSpec,
    InstallSpec,
    VifSpec,
    VolumeKind,
    VolumeSpec,
    volume_name_from,
)
from xenctl.units import GIB

if TYPE_CHECKING:
    from xenctl.app.host import Host

BRIDGE = "xenbr0"
BOOTLOADER = "pygrub"
VDEV = "xvda"
HVM_VDEV = "hda"  # the emulated IDE disk an unmodified OS finds
CDROM_VDEV = "hdc"  # the emulated CD drive an ISO goes in


@dataclass(frozen=True)
class Answers:
    """The wizard's answers, validated."""

    name: str
    ram: int  # MiB
    disk: str  # an image path (a file name under the storage root, or absolute in it), or a partition
    disk_size: int  # bytes, whole MiB; 0 for a partition, which is as large as it is
    graphics: bool
    location: str  # the network install tree; "" when installing from an ISO
    hvm: bool = False  # fully virtualised
    kickstart: str | None = None  # from -x ks=URL
    extra: str | None = None  # the rest of -x
    vcpus: int = 1
    iso: str | None = None  # an installation ISO image in Domain-0 (fully virtualised only)
    disk_kind: VolumeKind = VolumeKind.FILE  # FILE or PARTITION


def volume_name(name: str) -> str:
    """``<name>-disk``, with what a volume name cannot have (':', a leading '-') made '_'."""
    return volume_name_from(f"{name}-disk")


def _volume(answers: Answers) -> VolumeSpec:
    if answers.disk_kind is VolumeKind.PARTITION:
        return VolumeSpec(name=volume_name(answers.name), kind=VolumeKind.PARTITION, path=answers.disk)
    return VolumeSpec(name=volume_name(answers.name), kind=VolumeKind.FILE, size=answers.disk_size, path=answers.disk)


def answers_to_desired(answers: Answers) -> DesiredState:
    """One domain on one volume, installing from the location: paravirtualised with pygrub, or
    fully virtualised with an emulated disk and card and its display on VNC (and the ISO, when
    given, in its CD drive, booted first)."""
    disk = _volume(answers)
    install = InstallSpec(location=answers.location, kickstart=answers.kickstart) if answers.location else None
    if answers.hvm:
        disks: tuple[DiskSpec, ...] = (DiskSpec(vdev=HVM_VDEV, mode="w", volume=disk.name),)
        if answers.iso is not None:
            disks += (DiskSpec(vdev=CDROM_VDEV, mode="r", file=answers.iso, cdrom=True),)
        domain = DomainSpec(
            name=answers.name,
            memory=answers.ram,
            vcpus=answers.vcpus,
            extra=answers.extra,
            hvm=HvmSpec(vnc=answers.graphics, serial="pty", boot="dc" if answers.iso else None),
            disks=disks,
            vifs=(VifSpec(bridge=BRIDGE, type="ioemu"),),
            install=install,
        )
    else:
        domain = DomainSpec(
            name=answers.name,
            memory=answers.ram,
            vcpus=answers.vcpus,
            bootloader=BOOTLOADER,
            extra=answers.extra,
            disks=(DiskSpec(vdev=VDEV, mode="w", volume=disk.name),),
            vifs=(VifSpec(bridge=BRIDGE),),
            install=install,
            graphics=answers.graphics,
        )
    return DesiredState(domains=(domain,), volumes=(disk,))


def gigabytes(size: int) -> str:
    """A size in bytes as a number of GiB, exactly: ``8``, ``0.5``, ``1.25``."""
    text = format(Decimal(size) / GIB, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def flag_form(answers: Answers) -> str:
    """The ``xenctl new`` command line that gives the same answers."""
    words = [
        "xenctl", "new",
        "--name", answers.name,
        "--ram", str(answers.ram),
        "--hvm", "yes" if answers.hvm else "no",
        "--disk", answers.disk,
        "--disk-size", gigabytes(answers.disk_size),
        "--graphics", "yes" if answers.graphics else "no",
        "--location", answers.location,
    ]  # fmt: skip
    extra = " ".join(part for part in (f"ks={answers.kickstart}" if answers.kickstart else "", answers.extra) if part)
    if extra:
        words += ["-x", extra]
    return shlex.join(words)


def as_flags(answers: Answers) -> bool:
    """Whether ``xenctl new``'s flags can give these answers (no ISO, partition or vCPUs)."""
    return answers.iso is None and answers.disk_kind is VolumeKind.FILE and answers.vcpus == 1


def render_spec(answers: Answers, made_by: str = "xenctl new from virt-install's questions") -> str:
    """The spec file's text: a header naming how it was made (and the same answers as flags,
    where flags can give them), then the YAML."""
    from xenctl.spec.dump import dump_spec

    header = f"{answers.name}: made by {made_by}."
    if as_flags(answers):
        header += f"\nThe same answers as flags: {flag_form(answers)}"
    return dump_spec(answers_to_desired(answers), header=header)


def exists_error(out: str) -> XenctlError:
    return XenctlError(f"{out} already exists; give --force to replace it, or --out another file")


def write_spec(out: str, text: str, *, force: bool) -> None:
    """Write ``text`` to ``out``, making its directory; never replaces a file unless ``force``."""
    try:
        parent = os.path.dirname(out)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(out, "w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise exists_error(out) from None
    except OSError as exc:
        raise XenctlError(f"{exc.filename or out}: cannot write the spec: {exc.strerror}") from None


def host_limits(host: Host) -> Limits:
    """The storage root, guest memory and HVM support of ``host``, or of the built-in profile
    when a simulated host is not made yet."""
    from xenctl.app.plans import host_capacity
    from xenctl.engine.sim.profile import default_profile

    capacity = host_capacity(host)
    hvm = host.driver.capabilities().hvm if host.exists() else default_profile().hvm
    return Limits(capacity.storage_root, capacity.guest_memory, capacity.source, hvm)
