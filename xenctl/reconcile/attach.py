"""``with_values``: each change of a plan given the values apply will use (``values``), worked
out from the specs and the host as the plan read them."""

from __future__ import annotations

from xenctl.engine.api import HostState
from xenctl.reconcile.changes import Action, Change, Kind
from xenctl.reconcile.configs import domain_config, entry_text
from xenctl.reconcile.values import (
    DomainValues,
    EntryValues,
    ExportValues,
    GroupValues,
    Removal,
    Values,
    VolumeValues,
)
from xenctl.spec.model import DesiredState, VolumeKind, VolumeSpec, image_path


def with_values(changes: list[Change], desired: DesiredState, live: HostState) -> list[Change]:
    """The changes, each with the values apply will use (retained ones need none), and the live
    volume each delete or replacement removes."""
    root = live.host.storage_root
    return [
        change
        if change.action is Action.RETAIN
        # Made directly rather than by dataclasses.replace: a cold plan makes tens of thousands.
        else Change(
            change.kind,
            change.name,
            change.action,
            change.fields,
            change.reason,
            _values(change, desired, root),
            _removal(change, live, desired, root),
        )
        for change in changes
    ]


def _values(change: Change, desired: DesiredState, root: str) -> Values | None:
    if change.action is Action.DELETE:
        return None
    if change.kind is Kind.DOMAIN:
        spec = desired.domain(change.name)
        if spec is None:
            return None
        return DomainValues(domain_config(spec, desired, root), spec.origin.file, spec.state.value)
    if change.kind is Kind.VOLUME:
        volume = desired.volume(change.name)
        return None if volume is None else volume_values(volume, root)
    if change.kind is Kind.VOLUME_GROUP:
        group = next((g for g in desired.volume_groups if g.name == change.name), None)
        return None if group is None else GroupValues(group.name, group.pvs, group.origin.file)
    if change.kind is Kind.NFS_EXPORT:
        export = desired.export(change.name)
        return None if export is None else ExportValues(export.server, export.path, export.origin.file)
    entry = next((a for a in desired.autostart if a.entry_name == change.name), None)
    return None if entry is None else EntryValues(entry_text(desired, root, entry))


def volume_values(spec: VolumeSpec, root: str) -> VolumeValues:
    if spec.kind in (VolumeKind.LVM, VolumeKind.SNAPSHOT):
        path = f"/dev/{spec.vg}/{spec.name}"
    elif spec.kind is VolumeKind.FILE:
        path = image_path(root, spec.path or "")
    else:
        path = spec.path or ""
    return VolumeValues(
        kind=spec.kind.value,
        name=spec.name,
        path=path,
        size=spec.size or 0,
        vg=spec.vg,
        origin=spec.snapshot_of,
        image=spec.path if spec.kind is VolumeKind.FILE else None,
        sparse=spec.sparse,
        filesystem=spec.filesystem,
        populate=spec.populate,
        source=spec.origin.file,
    )


def _removal(change: Change, live: HostState, desired: DesiredState, root: str) -> Removal | None:
    """The live volume a delete or a replacement of ``change``'s volume removes."""
    if change.kind is not Kind.VOLUME or change.action not in (Action.DELETE, Action.REPLACE):
        return None
    lv = next((v for v in live.logical_volumes if v.name == change.name), None)
    if lv is not None:
        return Removal("lv", lv.path, lv.vg, lv.name)
    image = next((i for i in live.images if i.path.rsplit("/", 1)[-1] == change.name), None)
    spec = desired.volume(change.name)
    if image is None and spec is not None and spec.kind is VolumeKind.FILE:
        image = next((i for i in live.images if i.path == image_path(root, spec.path or "")), None)
    if image is not None:
        return Removal("image", image.path)
    return Removal("none")
