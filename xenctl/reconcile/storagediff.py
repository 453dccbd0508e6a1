"""The storage part of ``diff``: volume groups and volumes, declared against what the host has.

A volume is one address, ``volume.<name>``, whatever it is made of. When the specs declare a
name as one kind (an image file) and the host has a managed volume of another kind under that
name (a logical volume), that is one replacement of what the volume is, retained without
``--destroy-data``, never a create beside a retention of the same address. A copy-on-write
snapshot whose COW space filled is invalid: nothing can read it, so the plan shows it with the
domains it breaks and its repair (made again with ``--destroy-data``), never "no changes".
"""

from __future__ import annotations

import os
from typing import TypeVar

from xenctl.engine.api import ImageFile, LogicalVolume
from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action, Change, ChangeClass, FieldChange, Kind
from xenctl.reconcile.ownership import Owned
from xenctl.spec.model import VolumeKind, VolumeSpec, image_path, volume_target
from xenctl.units import format_size

_LVM = (VolumeKind.LVM, VolumeKind.SNAPSHOT)
_Live = TypeVar("_Live", LogicalVolume, ImageFile)


class StorageDiff(Owned):
    def volume_groups(self) -> list[Change]:
        live = {vg.name: vg for vg in self.live.volume_groups}
        changes = []
        for spec in self.desired.volume_groups:
            group = live.pop(spec.name, None)
            if group is None:
                changes.append(Change(Kind.VOLUME_GROUP, spec.name, Action.CREATE, reason="not on the host"))
                continue
            adopted = self.claim(Kind.VOLUME_GROUP, spec.name, group.owner)
            if adopted is not None or not self.managed(group.owner):
                changes.extend([adopted] if adopted else [])
                continue
            if sorted(spec.pvs) != sorted(group.pvs):
                field = FieldChange("pvs", list(group.pvs), list(spec.pvs), ChangeClass.REPLACE)
                changes.append(self.data_change(Kind.VOLUME_GROUP, spec.name, field, "its physical volumes"))
        for group in live.values():
            self.gone(Kind.VOLUME_GROUP, group.name, group.owner, changes, holds_data=True)
        return changes

    def volumes(self) -> list[Change]:
        lvs = {(lv.vg, lv.name): lv for lv in self.live.logical_volumes}
        images = {image.path: image for image in self.live.images}
        partitions = {p.path: p for p in self.live.partitions}
        root = self.live.host.storage_root
        declared_images = {image_path(root, v.path or "") for v in self.desired.volumes if v.kind is VolumeKind.FILE}
        by_name = _ByName(lvs, images, declared_images)
        seen_lvs: set[tuple[str, str]] = set()
        seen_images: set[str] = set()
        changes: list[Change] = []
        for spec in self.desired.volumes:
            if spec.kind in _LVM:
                lv = lvs.get((spec.vg or "", spec.name)) or next(iter(by_name.lvs(spec.name)), None)
                if lv is not None:
                    seen_lvs.add((lv.vg, lv.name))
                    changes.extend(self.lvm_volume(spec, lv))
                    continue
                found = by_name.images(spec.name)
                other = self.other_kind(spec, found) if found else None
                if other is not None:
                    seen_images.add(other.path)
                    changes.append(self.kind_change(spec, "file", other.path))
                    continue
                changes.extend(self.lvm_volume(spec, None))
            elif spec.kind is VolumeKind.FILE:
                path = image_path(root, spec.path or "")
                image = images.get(path)
                seen_images.add(path)
                other_lv = None
                if image is None:
                    other_lv = self.other_kind(spec, by_name.lvs(spec.name))
                if other_lv is not None:
                    seen_lvs.add((other_lv.vg, other_lv.name))
                    changes.append(self.kind_change(spec, _lv_kind(other_lv), other_lv.path))
                    continue
                changes.extend(self.image_volume(spec, path, image))
            else:
                partition = partitions.get(spec.path or "")
                if partition is None:
                    raise PlanError(f"volume {spec.name}: partition {spec.path} is not on this host")
                if spec.filesystem and partition.filesystem != spec.filesystem:
                    field = FieldChange("filesystem", partition.filesystem, spec.filesystem, ChangeClass.REPLACE)
                    changes.append(self.data_change(Kind.VOLUME, spec.name, field, "its filesystem"))
        for key, lv in sorted(lvs.items()):
            if key not in seen_lvs:
                self.gone(Kind.VOLUME, lv.name, lv.owner, changes, holds_data=True)
        for path, image in sorted(images.items()):
            if path not in seen_images:
                self.gone(Kind.VOLUME, _image_name(path), image.owner, changes, holds_data=True)
        return changes

    def other_kind(self, spec: VolumeSpec, found: list[_Live]) -> _Live | None:
        """The managed volume of another kind the host has under a declared volume's address."""
        return next((v for v in found if self.managed(v.owner)), None)

    def kind_change(self, spec: VolumeSpec, before: str, where: str) -> Change:
        """A volume declared as one kind where the host has a managed one of another: one replacement."""
        wanted = f"the {_kind_words(spec.kind.value)} {volume_target(spec, self.live.host.storage_root)[0]}"
        field = FieldChange("kind", before, spec.kind.value, ChangeClass.REPLACE)
        what = f"what it is (the host has the {_kind_words(before)} {where}; the specs declare {wanted})"
        return self.data_change(Kind.VOLUME, spec.name, field, what)

    def lvm_volume(self, spec: VolumeSpec, lv: LogicalVolume | None) -> list[Change]:
        if lv is None:
            return [Change(Kind.VOLUME, spec.name, Action.CREATE, reason="not on the host")]
        adopted = self.claim(Kind.VOLUME, spec.name, lv.owner)
        if adopted is not None or not self.managed(lv.owner):
            return [adopted] if adopted else []
        identity = [
            FieldChange(name, before, after, ChangeClass.REPLACE)
            for name, before, after in (
                ("vg", lv.vg, spec.vg),
                ("snapshot_of", lv.origin, spec.snapshot_of),
            )
            if before != after
        ]
        if identity:
            return [self.data_change(Kind.VOLUME, spec.name, identity[0], "what it is", more=identity[1:])]
        if lv.invalid:
            return [self.invalid_snapshot(spec, lv)]
        live_size = lv.cow_size if lv.is_snapshot else lv.size
        return self.size_and_filesystem(
            spec, live_size, lv.filesystem, lv.written, round_to=self.live.host.capabilities.extent_size
        )

    def invalid_snapshot(self, spec: VolumeSpec, lv: LogicalVolume) -> Change:
        """A snapshot whose COW space filled: unreadable, so made again (with --destroy-data) or kept."""
        users = sorted(
            set(lv.holders)
            | {d.name for d in self.desired.domains if any(k.volume == spec.name or k.phy == lv.path for k in d.disks)}
        )
        breaks = f'; {", ".join(users)} cannot start on it ("Snapshot {lv.path} is invalid")' if users else ""
        state = f"invalid: its copy-on-write space filled ({format_size(lv.cow_used)} of {format_size(lv.cow_size)})"
        field = FieldChange("state", "invalid", "valid", ChangeClass.REPLACE)
        if self.options.destroy_data:
            reason = f"{state}{breaks}; made again, empty, as --destroy-data allows"
            return Change(Kind.VOLUME, spec.name, Action.REPLACE, (field,), reason=reason)
        reason = (
            f"{state}{breaks}; kept as it is: recreate it with --destroy-data (what it held is lost already), "
            "and give it a larger size, or grow it in time, so that it does not fill again"
        )
        return Change(Kind.VOLUME, spec.name, Action.RETAIN, (field,), reason=reason)

    def image_volume(self, spec: VolumeSpec, path: str, image: ImageFile | None) -> list[Change]:
        if image is None:
            return [Change(Kind.VOLUME, spec.name, Action.CREATE, reason="not on the host")]
        adopted = self.claim(Kind.VOLUME, spec.name, image.owner)
        if adopted is not None or not self.managed(image.owner):
            return [adopted] if adopted else []
        return self.size_and_filesystem(spec, image.size, image.filesystem, image.written, round_to=1)

    def size_and_filesystem(
        self, spec: VolumeSpec, live_size: int, live_fs: str | None, written: bool, *, round_to: int
    ) -> list[Change]:
        """Grow, format and fill a volume in place; what would lose data is retained (or replaced).
        A volume nothing was ever put on (an apply cut short after lvcreate or mkfs) loses nothing
        to mkfs or a copy: it is finished as its creation would have."""
        wanted = -(-(spec.size or 0) // round_to) * round_to  # LVM rounds up to whole extents
        if spec.filesystem is not None and live_fs is not None and spec.filesystem != live_fs:
            field = FieldChange("filesystem", live_fs, spec.filesystem, ChangeClass.REPLACE)
            return [self.data_change(Kind.VOLUME, spec.name, field, "its filesystem")]
        fields = []
        if wanted > live_size:
            fields.append(FieldChange("size", live_size, wanted, ChangeClass.GROW_ONLY))
        elif wanted < live_size:
            field = FieldChange("size", live_size, wanted, ChangeClass.GROW_ONLY)
            return [self.data_change(Kind.VOLUME, spec.name, field, "a smaller size")]
        if spec.filesystem is not None and live_fs is None:
            if not written:
                fields.append(FieldChange("filesystem", None, spec.filesystem, ChangeClass.LIVE))
            else:
                # mkfs on a volume that exists: whatever a guest wrote to it would be lost
                field = FieldChange("filesystem", None, spec.filesystem, ChangeClass.REPLACE)
                return [self.data_change(Kind.VOLUME, spec.name, field, "its filesystem")]
        if spec.populate and not written and spec.kind is not VolumeKind.SNAPSHOT:
            fields.append(FieldChange("populate", None, spec.populate, ChangeClass.LIVE))
        if not fields:
            return []
        return [Change(Kind.VOLUME, spec.name, Action.UPDATE, tuple(fields), reason="grow, format or fill in place")]


class _ByName:
    """The host's volumes by name, looked up for each declared volume (not searched: a cold plan
    declares 30,000): its LVs in (VG, name) order, sorted only when a declared one is not where
    the specs put it, and the image files no spec declares."""

    def __init__(self, lvs: dict[tuple[str, str], LogicalVolume], images: dict[str, ImageFile], declared: set[str]):
        self._lvs = lvs
        self._named: dict[str, list[LogicalVolume]] | None = None
        self._images: dict[str, list[ImageFile]] = {}
        for path, image in images.items():
            if path not in declared:
                self._images.setdefault(_image_name(path), []).append(image)

    def lvs(self, name: str) -> list[LogicalVolume]:
        if self._named is None:
            self._named = {}
            for (_vg, lv_name), lv in sorted(self._lvs.items()):
                self._named.setdefault(lv_name, []).append(lv)
        return self._named.get(name, [])

    def images(self, name: str) -> list[ImageFile]:
        return self._images.get(name, [])


def _image_name(path: str) -> str:
    """An image file's name as an address gives it: its file name."""
    return os.path.basename(path)


def _lv_kind(lv: LogicalVolume) -> str:
    return VolumeKind.SNAPSHOT.value if lv.is_snapshot else VolumeKind.LVM.value


def _kind_words(kind: str) -> str:
    return {"lvm": "logical volume", "snapshot": "snapshot", "file": "image file", "partition": "partition"}[kind]
