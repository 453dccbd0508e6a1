"""``xenctl import``: xm config files, or a live host, as the spec that declares the same things.

Pure: ``import_configs`` takes domains read from config files, ``import_host`` a host's snapshot,
and each returns a ``DesiredState`` with the notes of what could not be carried over. A config
file says less than a host: it names an LV or an image file but not the volume group's physical
volumes or the image's size, so such disks stay ``phy:``/``file:`` references (the spec then
uses what is there rather than making it); from a host, everything is declared. An HVM guest
keeps its firmware, device model and emulated hardware (``hvm:``), a network block device its
server and port (``nbd:``), and an empty cdrom stays an empty removable drive.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from xenctl.engine.api import (
    Domain,
    DomainConfig,
    DomainDisk,
    HostState,
    ImageFile,
    LogicalVolume,
    Partition,
    Phase,
    VolumeGroup,
)
from xenctl.spec.model import (
    DesiredPower,
    DesiredState,
    DiskSpec,
    DomainSpec,
    HvmSpec,
    NfsExportSpec,
    VifSpec,
    VolumeGroupSpec,
    VolumeKind,
    VolumeSpec,
    volume_name_from,
)
from xenctl.xmconfig.disks import XmDisk


@dataclass
class Imported:
    """What an import produced, and what it could not carry over (one line a note)."""

    desired: DesiredState
    notes: list[str] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.volumes: dict[str, VolumeSpec] = {}
        self.groups: dict[str, VolumeGroupSpec] = {}
        self.exports: dict[tuple[str, str], NfsExportSpec] = {}
        self.notes: list[str] = []

    def add_volume(self, volume: VolumeSpec) -> str:
        existing = self.volumes.get(volume.name)
        if existing is not None and existing != volume:
            volume = replace(volume, name=f"{volume.name}-{len(self.volumes)}")  # two things, one name
        self.volumes.setdefault(volume.name, volume)
        return volume.name

    def export(self, server: str, path: str, owner: str) -> str:
        key = (server, path)
        if key not in self.exports:
            self.exports[key] = NfsExportSpec(volume_name_from(f"{owner}-root"), server, path)
        return self.exports[key].name


def _hvm_spec(config: DomainConfig, builder: _Builder) -> HvmSpec | None:
    """An HVM guest's hardware; what only a paravirtualised guest has is noted and left behind."""
    if config.hvm is None:
        return None
    for key in ("ramdisk", "bootloader", "root", "nfs_root"):
        if getattr(config, key) is not None:
            builder.notes.append(f"{config.name}: {key} is not carried over; an HVM guest boots through hvmloader")
    return HvmSpec(loader=config.kernel or HvmSpec().loader, **asdict(config.hvm))


def _domain_spec(
    config: DomainConfig, disks: tuple[DiskSpec, ...], nfs_root: str | None, state: DesiredPower, builder: _Builder
) -> DomainSpec:
    hvm = _hvm_spec(config, builder)
    if hvm is None and config.kernel is None and config.bootloader is None:
        builder.notes.append(f"{config.name}: no kernel or bootloader in the config; add one to the spec")
    if hvm is None and any(v.type == "ioemu" or v.model for v in config.vifs):
        builder.notes.append(f"{config.name}: type=ioemu (an emulated card) is an HVM guest's; not carried over")
    pv = hvm is None
    return DomainSpec(
        name=config.name,
        memory=config.memory,
        maxmem=config.maxmem,
        vcpus=config.vcpus,
        maxvcpus=config.maxvcpus,
        kernel=config.kernel if pv else None,
        ramdisk=config.ramdisk if pv else None,
        bootloader=config.bootloader if pv else None,
        root=config.root if pv else None,
        extra=config.extra,
        disks=disks,
        nfs_root=nfs_root if pv else None,
        vifs=tuple(VifSpec(v.bridge, v.mac, *((v.type, v.model) if hvm else ())) for v in config.vifs),
        hvm=hvm,
        ip=config.ip,
        on_poweroff=config.on_poweroff.value,
        on_reboot=config.on_reboot.value,
        on_crash=config.on_crash.value,
        state=state,
    )


def _config_disk(disk: DomainDisk, builder: _Builder, owner: str) -> DiskSpec:
    """A disk named in a config file: partitions become volumes; LVs and files stay references."""
    mode = disk.mode.value
    if disk.empty:
        return DiskSpec(vdev=disk.vdev, mode=mode, cdrom=True)
    if disk.backend == "nbd":
        return DiskSpec(vdev=disk.vdev, mode=mode, nbd=disk.target, cdrom=disk.cdrom)
    return replace(_local_disk(disk, builder, owner), cdrom=disk.cdrom)


def _local_disk(disk: DomainDisk, builder: _Builder, owner: str) -> DiskSpec:
    mode = disk.mode.value
    parts = disk.target.split("/")
    if disk.backend == "phy" and len(parts) == 3 and parts[1] == "dev":
        name = builder.add_volume(VolumeSpec(volume_name_from(parts[2]), VolumeKind.PARTITION, path=disk.target))
        return DiskSpec(vdev=disk.vdev, mode=mode, volume=name)
    if disk.backend == "phy":
        builder.notes.append(
            f"{owner}: {disk.target} stays a phy: disk; declare its volume group and volume to have xenctl make it"
        )
        return DiskSpec(vdev=disk.vdev, mode=mode, phy=disk.target)
    if disk.backend.startswith("tap:"):
        builder.notes.append(f"{owner}: {disk.uname} is imported as a file: disk (xenctl gives tap disks no loop)")
    builder.notes.append(f"{owner}: {disk.target} stays a file: disk; its size is not in the config")
    return DiskSpec(vdev=disk.vdev, mode=mode, file=disk.target)


def import_configs(configs: Sequence[tuple[DomainConfig, tuple[str, ...], tuple[XmDisk, ...]]]) -> Imported:
    """Domains read from config files, each with the config keys that were not carried over and
    the disk entries as written (to say what of them cannot be carried over)."""
    builder = _Builder()
    domains = []
    seen: set[str] = set()
    for config, ignored, parsed_disks in configs:
        if config.name in seen:
            builder.notes.append(f"{config.name}: two configs name this domain; the spec declares it twice, rename one")
        seen.add(config.name)
        for disk in parsed_disks:
            if disk.format not in ("raw", "empty") or disk.script not in (None, "block-nbd"):
                what = f"format {disk.format}" if disk.format not in ("raw", "empty") else f"script {disk.script}"
                builder.notes.append(
                    f"{config.name}: {disk.vdev}'s {what} is not carried over (xenctl's disks are raw)"
                )
        disks = tuple(_config_disk(d, builder, config.name) for d in config.disks)
        nfs_root = None
        if config.nfs_server and config.nfs_root:
            nfs_root = builder.export(config.nfs_server, config.nfs_root, config.name)
        for key in ignored:
            builder.notes.append(f"{config.name}: config key {key!r} is not carried over")
        domains.append(_domain_spec(config, disks, nfs_root, DesiredPower.RUNNING, builder))
    return _finish(builder, domains)


def import_host(state: HostState, *, whole_storage: bool = False) -> Imported:
    """The live guests of a host, and every volume, volume group and export they use; with
    ``whole_storage`` (a libvirt host, whose pools are what a spec of it declares), every volume
    group and volume the host has, used or not."""
    builder = _Builder()
    lvs = {lv.path: lv for lv in state.logical_volumes}
    images = {image.path: image for image in state.images}
    partitions = {p.path: p for p in state.partitions}
    groups = {vg.name: vg for vg in state.volume_groups}
    domains = []
    for domain in state.domains:
        if domain.domid == 0:
            continue
        disks = []
        for disk in domain.config.disks:
            spec = _host_disk(disk, builder, lvs, images, partitions, groups)
            disks.append(replace(spec, cdrom=disk.cdrom))
        nfs_root = None
        config = domain.config
        if config.nfs_server and config.nfs_root:
            nfs_root = builder.export(config.nfs_server, config.nfs_root, config.name)
        domains.append(_domain_spec(config, tuple(disks), nfs_root, _power(domain), builder))
    if whole_storage:
        for group in state.volume_groups:
            builder.groups.setdefault(group.name, VolumeGroupSpec(group.name, tuple(group.pvs)))
        for lv in state.logical_volumes:
            _lv_volume(lv, builder, lvs)
        for image in state.images:
            _image_volume(image, builder)
    return _finish(builder, domains)


def _power(domain: Domain) -> DesiredPower:
    return DesiredPower.PAUSED if domain.phase is Phase.PAUSED else DesiredPower.RUNNING


def _host_disk(
    disk: DomainDisk,
    builder: _Builder,
    lvs: dict[str, LogicalVolume],
    images: dict[str, ImageFile],
    partitions: dict[str, Partition],
    groups: dict[str, VolumeGroup],
) -> DiskSpec:
    mode = disk.mode.value
    if disk.empty or disk.backend == "nbd":
        return DiskSpec(vdev=disk.vdev, mode=mode, nbd=disk.target or None, cdrom=disk.cdrom)
    lv = lvs.get(disk.target)
    if lv is not None:
        group = groups.get(lv.vg)
        if group is not None:
            builder.groups.setdefault(group.name, VolumeGroupSpec(group.name, tuple(group.pvs)))
        return DiskSpec(vdev=disk.vdev, mode=mode, volume=_lv_volume(lv, builder, lvs))
    image = images.get(disk.target)
    if image is not None:
        return DiskSpec(vdev=disk.vdev, mode=mode, volume=_image_volume(image, builder))
    if disk.target in partitions:
        name = builder.add_volume(
            VolumeSpec(volume_name_from(disk.target.split("/")[-1]), VolumeKind.PARTITION, path=disk.target)
        )
        return DiskSpec(vdev=disk.vdev, mode=mode, volume=name)
    if disk.backend != "phy" and not disk.target.startswith("/dev/"):
        return DiskSpec(vdev=disk.vdev, mode=mode, file=disk.target)  # a file no storage pool holds
    return DiskSpec(vdev=disk.vdev, mode=mode, phy=disk.target)


def _lv_volume(lv: LogicalVolume, builder: _Builder, lvs: dict[str, LogicalVolume]) -> str:
    """A logical volume (and a snapshot's origin) declared; the name it is declared under."""
    if lv.origin is None:
        return builder.add_volume(VolumeSpec(lv.name, VolumeKind.LVM, size=lv.size, vg=lv.vg, filesystem=lv.filesystem))
    origin = lvs.get(f"/dev/{lv.vg}/{lv.origin}")
    if origin is not None:
        _lv_volume(origin, builder, lvs)
    return builder.add_volume(
        VolumeSpec(lv.name, VolumeKind.SNAPSHOT, size=lv.cow_size, vg=lv.vg, snapshot_of=lv.origin)
    )


def _image_volume(image: ImageFile, builder: _Builder) -> str:
    """An image file declared, by its whole path."""
    return builder.add_volume(
        VolumeSpec(
            volume_name_from(os.path.splitext(os.path.basename(image.path))[0]),
            VolumeKind.FILE,
            size=image.size,
            path=image.path,
            sparse=image.sparse,
            filesystem=image.filesystem,
        )
    )


def _finish(builder: _Builder, domains: list[DomainSpec]) -> Imported:
    desired = DesiredState(
        domains=tuple(sorted(domains, key=lambda d: d.name)),
        volume_groups=tuple(sorted(builder.groups.values(), key=lambda g: g.name)),
        volumes=tuple(sorted(builder.volumes.values(), key=lambda v: v.name)),
        nfs_exports=tuple(sorted(builder.exports.values(), key=lambda e: e.name)),
    )
    return Imported(desired, builder.notes)
