"""What a declared domain is created from, and what its autostart entry says: the specs turned
into the driver's ``DomainConfig`` and into the text of an xm config file in ``auto/``.

The diff compares these with what the host holds; the plan carries them as the values apply
uses (``attach``). Pure: the specs and the host's storage root in, values out.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, OnEvent, Vif
from xenctl.errors import PlanError
from xenctl.spec.model import AutostartSpec, DesiredState, DiskSpec, DomainSpec, image_path, volume_target
from xenctl.xmconfig.auto import Ordering, render_entry


def disk_target(desired: DesiredState, storage_root: str, disk: DiskSpec) -> tuple[str, str]:
    """(host path, backend) of a desired disk: ``/dev/vg/lv`` phy, an image file, a partition, a
    network block device's address, or nothing for an empty drive."""
    if disk.phy is not None:
        return disk.phy, "phy"
    if disk.file is not None:
        return image_path(storage_root, disk.file), "file"
    if disk.nbd is not None:
        return disk.nbd, "nbd"
    if disk.empty:
        return "", "phy"
    volume = desired.volume(disk.volume or "")
    if volume is None:
        raise PlanError(f"volume {disk.volume} is not declared")
    return volume_target(volume, storage_root)


def domain_config(spec: DomainSpec, desired: DesiredState, storage_root: str) -> DomainConfig:
    """What ``xm create`` is given for a declared domain."""
    disks = []
    for disk in spec.disks:
        target, backend = disk_target(desired, storage_root, disk)
        disks.append(DomainDisk(target, disk.vdev, DiskMode(disk.mode), backend, cdrom=disk.cdrom))
    nfs_server = nfs_root = None
    if spec.nfs_root:
        export = desired.export(spec.nfs_root)
        if export is None:
            raise PlanError(f"NFS export {spec.nfs_root} is not declared")
        nfs_server, nfs_root = export.server, export.path
    hvm = None
    if spec.hvm is not None:
        hvm = HvmConfig(**{k: v for k, v in asdict(spec.hvm).items() if k != "loader"})
    return DomainConfig(
        name=spec.name,
        memory=spec.memory,
        maxmem=spec.maxmem,
        vcpus=spec.vcpus,
        maxvcpus=spec.maxvcpus,
        kernel=spec.hvm.loader if spec.hvm is not None else spec.kernel,
        builder="hvm" if spec.hvm is not None else "linux",
        hvm=hvm,
        ramdisk=spec.ramdisk,
        bootloader=spec.bootloader,
        root=spec.root,
        extra=spec.extra,
        disks=tuple(disks),
        vifs=tuple(Vif(v.bridge, v.mac, v.type, v.model) for v in spec.vifs),
        on_poweroff=OnEvent(spec.on_poweroff),
        on_reboot=OnEvent(spec.on_reboot),
        on_crash=OnEvent(spec.on_crash),
        nfs_server=nfs_server,
        nfs_root=nfs_root,
        ip=spec.ip,
    )


def entry_ordering(spec: AutostartSpec) -> Ordering:
    return Ordering(spec.order, spec.after, spec.up, spec.stop.value, spec.stop_timeout, spec.on_timeout)


def entry_text(desired: DesiredState, storage_root: str, spec: AutostartSpec, source: str | None = None) -> str:
    """The managed entry a spec's autostart entry is written as (its header naming ``source``,
    by default the spec file it was declared in)."""
    domain = desired.domain(spec.domain)
    if domain is None:
        raise PlanError(f"autostart entry {spec.entry_name}: domain {spec.domain} is not declared")
    config = domain_config(domain, desired, storage_root)
    return render_entry(config, entry_ordering(spec), spec.origin.file if source is None else source)


def entry_digest(desired: DesiredState, storage_root: str, spec: AutostartSpec, source: str | None = None) -> str:
    return hashlib.sha256(entry_text(desired, storage_root, spec, source).encode("utf-8")).hexdigest()
