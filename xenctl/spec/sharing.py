"""The checks of devices across domains and volumes: who holds what, and where it may live.

A device held read-write by two domains that run at once; a partition used both as an LVM
physical volume and as a disk or volume; two volumes declared on one partition or image file;
an image file outside the storage root. Each costs a pass over the specs' disks, so the set of
files whose structure passed them (``xenctl.spec.cache``) skips them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator

from xenctl.spec.model import (
    DesiredPower,
    DesiredState,
    DomainSpec,
    Origin,
    PathPart,
    VolumeKind,
    VolumeSpec,
    image_path,
    volume_target,
)

# A finding: the object's origin, the message, and a more precise path to point at (or None).
Finding = tuple[Origin, str, "tuple[PathPart, ...] | None"]


def storage_findings(desired: DesiredState, root: str) -> Iterator[Finding]:
    """Every finding about devices, with ``root`` the host's storage root for image files."""
    yield from _pv_and_disk(desired, root)
    yield from _sharing(desired, root)
    yield from _one_thing_two_names(desired, root)
    yield from _outside_the_storage_root(desired, root)


def _outside_the_storage_root(desired: DesiredState, root: str) -> Iterator[Finding]:
    """An image file the specs would make must be under the storage root (the host refuses others)."""
    top = os.path.normpath(root)
    for volume in desired.volumes:
        if volume.kind is VolumeKind.FILE and volume.path and os.path.isabs(volume.path):
            path = image_path(root, volume.path)
            if os.path.commonpath([top, path]) != top:
                yield (
                    volume.origin,
                    f"{volume.path} is outside the storage root {root}; image files are made under it",
                    (*volume.origin.path, "file", "path"),
                )


def _one_thing_two_names(desired: DesiredState, root: str) -> Iterator[Finding]:
    """Two volumes declared on one partition or one image file."""
    first: dict[str, VolumeSpec] = {}
    for volume in desired.volumes:
        if volume.kind not in (VolumeKind.FILE, VolumeKind.PARTITION):
            continue
        device = volume_target(volume, root)[0]
        if device in first and first[device].name != volume.name:
            yield volume.origin, f"{device} is declared as volume {first[device].name} already", None
        first.setdefault(device, volume)


def _sharing(desired: DesiredState, root: str) -> Iterator[Finding]:
    """Two domains that will run at once may share a device only read-only, or both with w!."""
    table = desired.disk_targets(root)
    devices = [
        device
        for domain, targets in zip(desired.domains, table, strict=True)
        if domain.state is not DesiredPower.STOPPED
        for device, _backend in targets
    ]
    if len(set(devices)) == len(devices):
        return  # no device named twice: the usual case, told at the speed of a set
    holders: dict[str, list[tuple[DomainSpec, int]]] = defaultdict(list)
    for domain, targets in zip(desired.domains, table, strict=True):
        if domain.state is DesiredPower.STOPPED:
            continue
        for i, (device, _backend) in enumerate(targets):
            holders[device].append((domain, i))
    for device, held in sorted(item for item in holders.items() if len(item[1]) > 1):
        if len({domain.name for domain, _i in held}) < 2:
            continue
        modes = {domain.disks[i].mode for domain, i in held}
        if modes in ({"r"}, {"w!"}):
            continue
        shown = device.removeprefix("file:").removeprefix("volume:")
        who = ", ".join(f"{domain.name} ({domain.disks[i].mode})" for domain, i in held)
        last, index = held[-1]
        yield (
            last.origin,
            f"{shown} is held by {who}; domains may share a device only all read-only (r), or all with w!",
            (*last.origin.path, "disks", index),
        )


def _pv_and_disk(desired: DesiredState, root: str) -> Iterator[Finding]:
    pvs: dict[str, str] = {}
    for group in desired.volume_groups:
        listed = [pv for i, pv in enumerate(group.pvs) if pv in group.pvs[:i]]
        for pv in dict.fromkeys(listed):
            yield group.origin, f"{pv} is listed twice", (*group.origin.path, "pvs")
        for pv in dict.fromkeys(group.pvs):
            if pv in pvs and pvs[pv] != group.name:
                yield group.origin, f"{pv} is already a physical volume of {pvs[pv]}", None
            pvs.setdefault(pv, group.name)
    if not pvs:
        return
    table = desired.disk_targets(root)
    on_pvs = not pvs.keys().isdisjoint(device for targets in table for device, _backend in targets)
    for domain, targets in zip(desired.domains, table, strict=True) if on_pvs else ():
        for i, (device, _backend) in enumerate(targets):
            if device in pvs:
                yield (
                    domain.origin,
                    f"{device} is a physical volume of volume group {pvs[device]} and cannot also be a disk",
                    (*domain.origin.path, "disks", i),
                )
    for volume in desired.volumes:
        if volume.kind is VolumeKind.PARTITION and volume.path in pvs:
            yield (
                volume.origin,
                f"{volume.path} is a physical volume of volume group {pvs[volume.path]} and cannot also be a volume",
                (*volume.origin.path, "partition"),
            )
