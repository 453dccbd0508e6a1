"""Storage on a libvirt host, made and removed as pools and volumes (``pools`` reads them back).

A volume group is a ``logical`` pool defined on its physical volumes, built (``vgcreate``),
started and set to autostart; a logical volume is a volume of it (capacity and allocation its
size, rounded up to LVM's extent); a snapshot a volume with a ``<backingStore>`` on its origin
(allocation: the COW space); an image file a volume of the storage root's ``dir`` pool (sparse:
nothing allocated). xenctl checks what libvirt's test driver would let pass and LVM would not:
a group that still holds volumes, an origin that still has snapshots, a volume a running guest
holds are not removed; a group's physical volume is not taken by a second group.

Growing is ``virStorageVolResize`` where the host has it (libvirt's test driver has not; the
capability is denied with that reason). libvirt makes no filesystems and puts no files on a
volume, and exports no NFS roots: those calls are refused with the reasons ``capabilities()``
gives, and the planner refuses a spec that needs them before anything runs.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import libvirt

from xenctl.engine.api import Capabilities, Domain, HostState, Owner
from xenctl.engine.libvirt import pools as read
from xenctl.engine.libvirt.owners import OwnersRecord, volume_key
from xenctl.engine.libvirt.reading import EXTENT, NO_FILESYSTEMS, NO_NFS, engine_error
from xenctl.errors import EngineError, NotFoundError
from xenctl.units import format_size

T = TypeVar("T")


def _call(op: str, obj: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except libvirt.libvirtError as exc:
        raise engine_error(exc, op, obj) from None


def _extents(size: int) -> int:
    return -(-size // EXTENT) * EXTENT


def _volume_xml(name: str, capacity: int, allocation: int, backing: str | None = None, raw: bool = False) -> str:
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(capacity)
    ET.SubElement(root, "allocation", unit="bytes").text = str(allocation)
    if raw:
        target = ET.SubElement(root, "target")
        ET.SubElement(target, "format", type="raw")
    if backing is not None:
        store = ET.SubElement(root, "backingStore")
        ET.SubElement(store, "path").text = backing
    return ET.tostring(root, encoding="unicode")


def _pool_xml(kind: str, name: str, target: str, devices: tuple[str, ...] = ()) -> str:
    root = ET.Element("pool", type=kind)
    ET.SubElement(root, "name").text = name
    if kind == "logical":
        source = ET.SubElement(root, "source")
        for device in devices:
            ET.SubElement(source, "device", path=device)
        ET.SubElement(source, "name").text = name
        ET.SubElement(source, "format", type="lvm2")
    ET.SubElement(ET.SubElement(root, "target"), "path").text = target
    return ET.tostring(root, encoding="unicode")


def _optional(call: Callable[[], object]) -> None:
    """A step some hosts do not have (the test driver builds nothing): skipped there."""
    try:
        call()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise


class LibvirtStorage:
    """The storage half of the ``Driver`` protocol, on libvirt's pools and volumes."""

    conn: Any
    kind: str
    url: str
    _caps: Capabilities

    if TYPE_CHECKING:  # what the driver gives the storage half (``LibvirtDriver`` defines them)

        def _guests(self) -> list[Domain]: ...
        def record_event(self, op: str, obj: str, outcome: str, message: str = "") -> None: ...
        def _state_dir(self) -> str: ...

    @property
    def owners(self) -> OwnersRecord:
        return OwnersRecord(self._state_dir())

    # -- reading --------------------------------------------------------------------------

    def read_storage(self, guests: list[Domain]) -> tuple[read.Storage, str]:
        """The host's storage, and its storage root (where relative image paths live); none on
        a connection without libvirt's storage driver."""
        if not self._caps.volume_groups:
            return read.Storage((), (), (), ()), os.path.join(self._state_dir(), "images")
        found = _call("list", "storage pools", lambda: read.read_pools(self.conn))
        devices = read.read_block_devices(self.conn)
        owners = self.owners
        storage = read.storage_of(found, devices, guests, owners.owners("pools"), owners.owners("volumes"))
        return storage, self._root(found)

    def _root(self, found: tuple[read.Pool, ...]) -> str:
        root = read.root_pool(found)
        return root.target if root is not None else os.path.join(self._state_dir(), "images")

    def _pools(self) -> tuple[read.Pool, ...]:
        return _call("list", "storage pools", lambda: read.read_pools(self.conn))

    def _group(self, vg: str, op: str) -> read.Pool:
        found = next((p for p in self._pools() if p.kind == "logical" and p.vg == vg), None)
        if found is None:
            raise NotFoundError(f"{vg}: no such volume group (no logical storage pool of that name)", op=op, obj=vg)
        return found

    def _lv(self, vg: str, name: str, op: str) -> tuple[read.Pool, read.PoolVolume]:
        pool = self._group(vg, op)
        vol = next((v for v in pool.volumes if v.name == name), None)
        if vol is None:
            raise NotFoundError(f"{vg}/{name}: no such logical volume", op=op, obj=f"{vg}/{name}")
        return pool, vol

    def _holders(self, path: str) -> tuple[str, ...]:
        return read.holders_of(self._guests()).get(path, ())

    def _refuse_held(self, path: str, op: str) -> None:
        holders = self._holders(path)
        if holders:
            raise EngineError(f"{path}: {op}: in use by {', '.join(holders)}", op=op, obj=path)

    # -- volume groups ----------------------------------------------------------------------

    def create_volume_group(self, name: str, pvs: tuple[str, ...], *, owner: Owner | None = None) -> None:
        found = self._pools()
        if any(p.name == name or (p.kind == "logical" and p.vg == name) for p in found):
            raise EngineError(f"{name}: vgcreate: a storage pool of that name exists", op="vgcreate", obj=name)
        if not pvs:
            raise EngineError(f"{name}: vgcreate: no physical volumes given", op="vgcreate", obj=name)
        for pool in found:
            taken = sorted(set(pvs) & set(pool.devices))
            if taken:
                raise EngineError(f"{name}: vgcreate: {taken[0]} is a physical volume of {pool.vg} already",
                                  op="vgcreate", obj=name)  # fmt: skip
        xml = _pool_xml("logical", name, f"/dev/{name}", pvs)
        pool = _call("vgcreate", name, lambda: self.conn.storagePoolDefineXML(xml, 0))
        try:
            _call("vgcreate", name, lambda: _optional(lambda: pool.build(0)))
            _call("vgcreate", name, lambda: pool.create(0))
            _call("vgcreate", name, lambda: pool.setAutostart(1))
        except EngineError:
            self._drop_pool(pool)  # no half-made group
            raise
        self.owners.set("pools", pool.UUIDString(), owner)
        self.record_event("vgcreate", name, "ok", " ".join(pvs))

    def _drop_pool(self, pool: Any) -> None:
        for step in (pool.destroy, lambda: pool.delete(0), pool.undefine):
            try:
                step()
            except libvirt.libvirtError:
                continue  # not running, or nothing to delete: the next step still applies

    def remove_volume_group(self, name: str) -> None:
        pool = self._group(name, "vgremove")
        if pool.volumes:
            held = ", ".join(v.name for v in pool.volumes)
            raise EngineError(f"{name}: vgremove: it still holds logical volumes ({held})", op="vgremove", obj=name)
        _call("vgremove", name, pool.handle.destroy)
        _call("vgremove", name, lambda: _optional(lambda: pool.handle.delete(0)))
        _call("vgremove", name, pool.handle.undefine)
        self.owners.set("pools", pool.uuid, None)
        self.record_event("vgremove", name, "ok")

    # -- logical volumes --------------------------------------------------------------------

    def _make_volume(self, pool: read.Pool, name: str, xml: str, need: int, op: str, obj: str) -> None:
        if any(v.name == name for v in pool.volumes):
            raise EngineError(f"{obj}: {op}: it exists already", op=op, obj=obj)
        if need > pool.available:
            free = format_size(pool.available)
            raise EngineError(f"{obj}: {op}: needs {format_size(need)}, {pool.vg} has {free} free", op=op, obj=obj)
        _call(op, obj, lambda: pool.handle.createXML(xml, 0))

    def create_logical_volume(self, vg: str, name: str, size: int, *, owner: Owner | None = None) -> None:
        pool = self._group(vg, "lvcreate")
        size = _extents(size)
        self._make_volume(pool, name, _volume_xml(name, size, size), size, "lvcreate", f"{vg}/{name}")
        self.owners.set("volumes", volume_key(pool.uuid, name), owner)
        self.record_event("lvcreate", f"{vg}/{name}", "ok", format_size(size))

    def create_snapshot(self, vg: str, name: str, origin: str, cow_size: int, *, owner: Owner | None = None) -> None:
        op = "lvcreate --snapshot"
        pool, source = self._lv(vg, origin, op)
        cow = _extents(cow_size)
        xml = _volume_xml(name, source.capacity, cow, backing=source.path)
        self._make_volume(pool, name, xml, cow, op, f"{vg}/{name}")
        self.owners.set("volumes", volume_key(pool.uuid, name), owner)
        self.record_event("lvcreate --snapshot", f"{vg}/{name}", "ok", f"of {origin}, {format_size(cow)}")

    def _grow(self, kind: str, op: str, obj: str, vol: read.PoolVolume, size: int) -> None:
        if kind not in self._caps.grow:
            raise EngineError(f"{obj}: {op}: {self._caps.reason('grow:' + kind)}", op=op, obj=obj)
        if size <= vol.capacity:
            raise EngineError(f"{obj}: {op}: {format_size(size)} is not more than its {format_size(vol.capacity)}",
                              op=op, obj=obj)  # fmt: skip
        _call(op, obj, lambda: vol.handle.resize(size, 0))
        self.record_event(op, obj, "ok", format_size(size))

    def grow_logical_volume(self, vg: str, name: str, size: int) -> None:
        _pool, vol = self._lv(vg, name, "lvextend")
        self._grow("snapshot" if vol.backing else "lvm", "lvextend", f"{vg}/{name}", vol, _extents(size))

    def remove_logical_volume(self, vg: str, name: str) -> None:
        pool, vol = self._lv(vg, name, "lvremove")
        self._refuse_held(vol.path, "lvremove")
        snapshots = [v.name for v in pool.volumes if v.backing == vol.path]
        if snapshots:
            raise EngineError(f"{vg}/{name}: lvremove: it has snapshots ({', '.join(snapshots)})",
                              op="lvremove", obj=f"{vg}/{name}")  # fmt: skip
        _call("lvremove", f"{vg}/{name}", lambda: vol.handle.delete(0))
        self.owners.set("volumes", volume_key(pool.uuid, name), None)
        self.record_event("lvremove", f"{vg}/{name}", "ok")

    # -- image files ------------------------------------------------------------------------

    def _image_pool(self, path: str, op: str, make: bool = False) -> tuple[read.Pool, str]:
        """The dir pool an image path is in, and the volume's name: a relative path is in the
        storage root (xenctl's own dir pool is made when the host has none and ``make``)."""
        found = self._pools()
        if os.path.isabs(path):
            directory, name = os.path.split(os.path.normpath(path))
            pool = next((p for p in found if p.kind == "dir" and os.path.normpath(p.target) == directory), None)
            if pool is None:
                raise NotFoundError(f"{path}: {op}: no dir storage pool holds {directory}", op=op, obj=path)
            return pool, name
        if os.path.dirname(os.path.normpath(path)):
            raise EngineError(f"{path}: {op}: a dir storage pool holds no subdirectories; name a file in it",
                              op=op, obj=path)  # fmt: skip
        root = read.root_pool(found)
        if root is None and make:
            root = self._make_root_pool()
        if root is None:
            raise NotFoundError(f"{path}: {op}: no such image (the host has no dir storage pool)", op=op, obj=path)
        return root, os.path.normpath(path)

    def _make_root_pool(self) -> read.Pool:
        target = os.path.join(self._state_dir(), "images")
        if self.kind != "test":
            os.makedirs(target, exist_ok=True)
        xml = _pool_xml("dir", read.ROOT_POOL, target)
        pool = _call("pool-define", read.ROOT_POOL, lambda: self.conn.storagePoolDefineXML(xml, 0))
        _call("pool-start", read.ROOT_POOL, lambda: pool.create(0))
        _call("pool-autostart", read.ROOT_POOL, lambda: pool.setAutostart(1))
        self.record_event("pool-define", read.ROOT_POOL, "ok", target)
        made = read.read_pool(pool)
        assert made is not None
        return made

    def _image(self, path: str, op: str) -> tuple[read.Pool, read.PoolVolume]:
        pool, name = self._image_pool(path, op)
        vol = next((v for v in pool.volumes if v.name == name), None)
        if vol is None:
            raise NotFoundError(f"{path}: no such image", op=op, obj=path)
        return pool, vol

    def create_image(self, path: str, size: int, *, sparse: bool = True, owner: Owner | None = None) -> str:
        pool, name = self._image_pool(path, "image-create", make=True)
        full = os.path.join(pool.target, name)
        xml = _volume_xml(name, size, 0 if sparse else size, raw=True)
        self._make_volume(pool, name, xml, 0 if sparse else size, "image-create", full)
        self.owners.set("volumes", volume_key(pool.uuid, name), owner)
        self.record_event("image-create", full, "ok", format_size(size))
        return full

    def grow_image(self, path: str, size: int) -> None:
        _pool, vol = self._image(path, "image-grow")
        self._grow("file", "image-grow", vol.path, vol, size)

    def remove_image(self, path: str) -> None:
        pool, vol = self._image(path, "image-remove")
        self._refuse_held(vol.path, "image-remove")
        _call("image-remove", vol.path, lambda: vol.handle.delete(0))
        self.owners.set("volumes", volume_key(pool.uuid, vol.name), None)
        self.record_event("image-remove", vol.path, "ok")

    # -- what libvirt does not do -----------------------------------------------------------

    def _volume_at(self, path: str, op: str) -> tuple[str, str]:
        """The owners record's kind and key of the volume or volume group at ``path``."""
        for pool in self._pools():
            if pool.kind == "logical" and path == f"/dev/{pool.vg}":
                return "pools", pool.uuid
            if pool.kind not in ("logical", "dir"):
                continue
            vol = next((v for v in pool.volumes if v.path == path), None)
            if vol is not None:
                return "volumes", volume_key(pool.uuid, vol.name)
        raise NotFoundError(f"{path}: no such volume", op=op, obj=path)

    def format_volume(self, path: str, filesystem: str, *, blank_only: bool = False) -> None:
        self._volume_at(path, "mkfs")
        raise EngineError(f"{path}: mkfs: {NO_FILESYSTEMS}", op="mkfs", obj=path)

    def populate_volume(self, path: str, source: str, *, blank_only: bool = False) -> None:
        self._volume_at(path, "populate")
        raise EngineError(f"{path}: populate: {NO_FILESYSTEMS}", op="populate", obj=path)

    def create_nfs_export(self, server: str, path: str, *, owner: Owner | None = None) -> None:
        raise EngineError(f"{server}:{path}: nfs-export: {NO_NFS}", op="nfs-export", obj=f"{server}:{path}")

    def remove_nfs_export(self, server: str, path: str) -> None:
        raise EngineError(f"{server}:{path}: nfs-unexport: {NO_NFS}", op="nfs-unexport", obj=f"{server}:{path}")

    def record_import(self, state: HostState, owner: Owner) -> int:
        """Record as ``owner``'s every guest, volume group and volume of ``state`` that has no
        owner: what ``import --from-host`` wrote a spec of (see ``owners``); how many."""
        guests = [(d.uuid.lower(), owner) for d in state.domains if d.domid != 0 and d.owner is None and d.uuid]
        self.owners.set_many("domains", guests)
        paths = [f"/dev/{g.name}" for g in state.volume_groups if g.owner is None]
        paths += [v.path for v in state.logical_volumes if v.owner is None]
        paths += [i.path for i in state.images if i.owner is None]
        found = [self._volume_at(path, "import") for path in paths]
        for kind in ("pools", "volumes"):
            self.owners.set_many(kind, [(key, owner) for what, key in found if what == kind])
        self.record_event("import", self.url, "ok", f"{len(guests) + len(found)} objects recorded as {owner.source}")
        return len(guests) + len(found)

    def set_volume_owner(self, path: str, owner: Owner | None) -> None:
        kind, key = self._volume_at(path, "set-owner")
        self.owners.set(kind, key, owner)
        self.record_event("set-owner", path, "ok", owner.source if owner else "")
