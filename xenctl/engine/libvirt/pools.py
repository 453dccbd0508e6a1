"""A libvirt host's storage pools and volumes, read, and shown as a Xen host's storage.

The mapping (docs/libvirt.md has the table):

- a block device libvirt's node devices report (capability ``storage``: its ``<block>`` path and
  ``<size>``) is a partition, free for a volume group to be made on;
- a ``logical`` pool is a volume group: its ``<source><name>`` the group's name, its source
  devices the physical volumes, its capacity and free space the group's; each physical volume
  is a partition of the group (one no node device reports holds its share of the pool's
  capacity: libvirt gives the pool's size, not each device's);
- a volume of a ``logical`` pool is a logical volume ``/dev/VG/NAME``; one with a
  ``<backingStore>`` is a copy-on-write snapshot of the volume at that path, its allocation the
  COW space (as ``lvcreate -s -L`` is given it);
- a volume of a ``dir`` pool is an image file at its path; sparse when its allocation is below its
  capacity. The storage root (where a spec's relative image paths live) is the ``dir`` pool named
  ``default`` (libvirt's customary one), else ``xenctl`` (the one xenctl makes when a host has
  none), else the first active ``dir`` pool by name.

Pools of other types, and inactive pools (libvirt lists no volumes of those), are not shown.
libvirt makes no filesystems: every volume reads with none, and as written (what is on it is
unknown, so nothing would ever be formatted over it). Owners come from xenctl's record
(``owners``), holders from the running guests' disks.
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import libvirt

from xenctl.engine.api import Domain, ImageFile, LogicalVolume, Owner, Partition, VolumeGroup
from xenctl.engine.libvirt.owners import volume_key
from xenctl.engine.libvirt.reading import EXTENT
from xenctl.engine.libvirt.xml import parse
from xenctl.engine.libvirt.xmlparts import UNITS, text_of

ROOT_POOL = "xenctl"  # the dir pool xenctl defines for image files on a host that has none


@dataclass(frozen=True)
class PoolVolume:
    """One volume of a pool, as libvirt describes it."""

    name: str
    path: str
    capacity: int
    allocation: int
    backing: str | None = None  # the path of its <backingStore>
    handle: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Pool:
    """One active storage pool, as libvirt describes it."""

    name: str
    uuid: str
    kind: str  # logical, dir, ...
    target: str  # its target path: /dev/VG, an image directory
    source_name: str  # a logical pool's volume group
    devices: tuple[str, ...]
    capacity: int
    available: int
    volumes: tuple[PoolVolume, ...]
    handle: Any = field(default=None, compare=False, repr=False)

    @property
    def vg(self) -> str:
        return self.source_name or self.name


def _bytes(element: ET.Element | None) -> int:
    if element is None or not (element.text or "").strip().isdigit():
        return 0
    return int((element.text or "0").strip()) * UNITS.get(element.get("unit", "bytes").lower(), 1)


def read_volume(vol: Any, pool_target: str) -> PoolVolume:
    root = parse(vol.XMLDesc(0), "a storage volume's XML")
    name = text_of(root, "name") or vol.name()
    path = text_of(root, "target/path") or os.path.join(pool_target, name)
    return PoolVolume(
        name=name,
        path=path,
        capacity=_bytes(root.find("capacity")),
        allocation=_bytes(root.find("allocation")),
        backing=text_of(root, "backingStore/path"),
        handle=vol,
    )


def read_pool(pool: Any) -> Pool | None:
    """An active pool with its volumes; None for one that is not running (or went away)."""
    try:
        if not pool.isActive():
            return None
        root = parse(pool.XMLDesc(0), "a storage pool's XML")
        target = text_of(root, "target/path") or ""
        volumes = tuple(sorted((read_volume(v, target) for v in pool.listAllVolumes(0)), key=lambda v: v.name))
    except libvirt.libvirtError:
        return None
    return Pool(
        name=text_of(root, "name") or pool.name(),
        uuid=pool.UUIDString(),
        kind=root.get("type", ""),
        target=target,
        source_name=text_of(root, "source/name") or "",
        devices=tuple(d.get("path", "") for d in root.findall("source/device")),
        capacity=_bytes(root.find("capacity")),
        available=_bytes(root.find("available")),
        volumes=volumes,
        handle=pool,
    )


def read_pools(conn: Any) -> tuple[Pool, ...]:
    found = (read_pool(p) for p in conn.listAllStoragePools(0))
    return tuple(sorted((p for p in found if p is not None), key=lambda p: p.name))


def read_block_devices(conn: Any) -> dict[str, int]:
    """The host's block devices and their sizes, from libvirt's node devices (none where the
    connection offers no node devices)."""
    try:
        devices = conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_STORAGE)
    except libvirt.libvirtError:
        return {}
    found = {}
    for device in devices:
        try:
            root = parse(device.XMLDesc(0), "a node device's XML")
        except libvirt.libvirtError:
            continue  # gone between the listing and the read
        for cap in root.findall("capability[@type='storage']"):
            block = text_of(cap, "block")
            if block:
                found[block] = _bytes(cap.find("size"))
    return found


def root_pool(pools: tuple[Pool, ...]) -> Pool | None:
    """The dir pool that is the storage root (see the module's docstring)."""
    dirs = [p for p in pools if p.kind == "dir"]
    for name in ("default", ROOT_POOL):
        chosen = next((p for p in dirs if p.name == name), None)
        if chosen is not None:
            return chosen
    return dirs[0] if dirs else None


def _digest(vol: PoolVolume) -> str:
    """What changes when the volume changes as libvirt sees it (its size and what it allocates)."""
    return hashlib.sha1(f"{vol.path}:{vol.capacity}:{vol.allocation}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Storage:
    """A host's pools as a Xen host's storage."""

    partitions: tuple[Partition, ...]
    volume_groups: tuple[VolumeGroup, ...]
    logical_volumes: tuple[LogicalVolume, ...]
    images: tuple[ImageFile, ...]


def holders_of(guests: list[Domain]) -> dict[str, tuple[str, ...]]:
    """The running guests that have each path attached."""
    held: dict[str, list[str]] = {}
    for guest in guests:
        for disk in guest.config.disks:
            if disk.target:
                held.setdefault(disk.target, []).append(guest.name)
    return {path: tuple(sorted(set(names))) for path, names in held.items()}


def storage_of(
    pools: tuple[Pool, ...],
    devices: dict[str, int],
    guests: list[Domain],
    pool_owners: dict[str, Owner],
    volume_owners: dict[str, Owner],
) -> Storage:
    held = holders_of(guests)
    in_groups = {device for pool in pools if pool.kind == "logical" for device in pool.devices}
    partitions = [
        Partition(path, _disk_of(path), size, None, None, None, "", None, held.get(path, ()))
        for path, size in devices.items()
        if path not in in_groups
    ]
    groups: list[VolumeGroup] = []
    lvs: list[LogicalVolume] = []
    images: list[ImageFile] = []
    for pool in pools:
        if pool.kind == "logical":
            share = pool.capacity // max(1, len(pool.devices))
            for device in pool.devices:
                size, holders = devices.get(device, share), held.get(device, ())
                partitions.append(Partition(device, _disk_of(device), size, None, None, None, "", pool.vg, holders))
            groups.append(
                VolumeGroup(pool.vg, pool.devices, EXTENT, pool.capacity, pool.available, pool_owners.get(pool.uuid))
            )
            lvs.extend(_logical_volumes(pool, held, volume_owners))
        elif pool.kind == "dir":
            images.extend(
                ImageFile(
                    path=vol.path,
                    size=vol.capacity,
                    sparse=vol.allocation < vol.capacity,
                    filesystem=None,
                    digest=_digest(vol),
                    owner=volume_owners.get(volume_key(pool.uuid, vol.name)),
                    holders=held.get(vol.path, ()),
                )
                for vol in pool.volumes
            )
    return Storage(
        tuple(sorted(partitions, key=lambda p: p.path)),
        tuple(groups),
        tuple(sorted(lvs, key=lambda v: (v.vg, v.name))),
        tuple(sorted(images, key=lambda i: i.path)),
    )


def _logical_volumes(pool: Pool, held: dict[str, tuple[str, ...]], owners: dict[str, Owner]) -> list[LogicalVolume]:
    """A logical pool's volumes; one backed by another volume of the pool is its snapshot."""
    paths = {v.path: v for v in pool.volumes}
    found = []
    for vol in pool.volumes:
        origin = paths.get(vol.backing or "")
        found.append(
            LogicalVolume(
                vg=pool.vg,
                name=vol.name,
                size=vol.capacity,
                filesystem=None,
                digest=_digest(vol),
                origin=origin.name if origin is not None else None,
                cow_size=vol.allocation if origin is not None else 0,
                owner=owners.get(volume_key(pool.uuid, vol.name)),
                holders=held.get(vol.path, ()),
            )
        )
    return found


def _disk_of(device: str) -> str:
    """The disk a partition is on: /dev/sdb1 -> sdb."""
    return os.path.basename(device).rstrip("0123456789") or os.path.basename(device)
