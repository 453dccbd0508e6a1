"""Storage on a libvirt host: not managed by xenctl's libvirt driver yet.

Volume groups, logical volumes, snapshots and image files are pools and volumes in libvirt; until
the driver maps them, every storage call is refused with the reason ``capabilities()`` gives, so
that the planner refuses a spec that needs them before anything is applied.
"""

from __future__ import annotations

from xenctl.engine.api import Owner
from xenctl.engine.libvirt.reading import STORAGE_LATER
from xenctl.errors import EngineError, NotFoundError


def _refuse(op: str, obj: str) -> EngineError:
    return EngineError(f"{obj}: {op}: {STORAGE_LATER}", op=op, obj=obj)


class StorageRefusals:
    """The storage half of the ``Driver`` protocol, refusing each call."""

    def create_volume_group(self, name: str, pvs: tuple[str, ...], *, owner: Owner | None = None) -> None:
        raise _refuse("vgcreate", name)

    def remove_volume_group(self, name: str) -> None:
        raise _refuse("vgremove", name)

    def create_logical_volume(self, vg: str, name: str, size: int, *, owner: Owner | None = None) -> None:
        raise _refuse("lvcreate", f"{vg}/{name}")

    def create_snapshot(self, vg: str, name: str, origin: str, cow_size: int, *, owner: Owner | None = None) -> None:
        raise _refuse("lvcreate --snapshot", f"{vg}/{name}")

    def grow_logical_volume(self, vg: str, name: str, size: int) -> None:
        raise _refuse("lvextend", f"{vg}/{name}")

    def remove_logical_volume(self, vg: str, name: str) -> None:
        raise _refuse("lvremove", f"{vg}/{name}")

    def create_image(self, path: str, size: int, *, sparse: bool = True, owner: Owner | None = None) -> str:
        raise _refuse("image-create", path)

    def grow_image(self, path: str, size: int) -> None:
        raise _refuse("image-grow", path)

    def remove_image(self, path: str) -> None:
        raise _refuse("image-remove", path)

    def format_volume(self, path: str, filesystem: str, *, blank_only: bool = False) -> None:
        raise NotFoundError(f"{path}: no such volume ({STORAGE_LATER})", op="mkfs", obj=path)

    def populate_volume(self, path: str, source: str, *, blank_only: bool = False) -> None:
        raise NotFoundError(f"{path}: no such volume ({STORAGE_LATER})", op="populate", obj=path)

    def create_nfs_export(self, server: str, path: str, *, owner: Owner | None = None) -> None:
        reason = "libvirt exports no NFS roots: declare them on the NFS server"
        raise EngineError(f"{server}:{path}: nfs-export: {reason}", op="nfs-export", obj=f"{server}:{path}")

    def remove_nfs_export(self, server: str, path: str) -> None:
        raise EngineError(f"{server}:{path}: nfs-unexport: libvirt exports no NFS roots", op="nfs-unexport", obj=path)

    def set_volume_owner(self, path: str, owner: Owner | None) -> None:
        raise NotFoundError(f"{path}: no such volume ({STORAGE_LATER})", op="set-owner", obj=path)
