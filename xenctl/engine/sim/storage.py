"""Storage on the simulated host: LVM, image files, NFS exports, mkfs and copying data in.

Partitions come from the host profile. LVM follows LVM2: a partition becomes a physical volume of
one volume group; VGs are cut into 4 MiB extents (sizes round up to whole extents); a snapshot
takes its own COW space from the VG and becomes invalid when its COW space fills. Image files
live under the profile's storage root and nowhere else. Messages follow ``lvm``, ``mkfs`` and
``exportfs``. Nothing in use by a domain can be removed, formatted or overwritten.

Each function runs inside the caller's write transaction and returns the simulated seconds the
command takes (the caller waits them out after committing).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from typing import cast

from xenctl.engine.api import EMPTY_DIGEST
from xenctl.engine.devices import device_path
from xenctl.engine.sim import blockdevs, memory
from xenctl.engine.sim.blockdevs import Target, digest_of, find_target
from xenctl.engine.sim.context import Ctx
from xenctl.errors import NotFoundError, XenError
from xenctl.units import GIB, MIB, format_size

EXTENT = 4 * MIB
PV_METADATA = 1 * MIB
FILESYSTEMS = ("ext2", "ext3", "ext4", "xfs", "reiserfs", "swap")
_LVM_NAME_RE = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$")
MAX_LVM_NAME = 127

Owner = tuple[str | None, str | None]


def _check_lvm_name(name: str, what: str, op: str) -> None:
    if not _LVM_NAME_RE.match(name) or name in (".", "..") or len(name) > MAX_LVM_NAME:
        raise XenError(f'{what} name "{name[:80]}" is invalid.', op=op, obj=name[:80])


def _extents(size: int) -> int:
    return -(-size // EXTENT)


def free_extents(ctx: Ctx, vg: str) -> int:
    row = ctx.db.execute("SELECT extents, used FROM vgs WHERE name = ?", (vg,)).fetchone()
    return int(row["extents"] - row["used"])


def _vg_row(ctx: Ctx, vg: str, op: str) -> sqlite3.Row:
    row = ctx.db.execute("SELECT * FROM vgs WHERE name = ?", (vg,)).fetchone()
    if row is None:
        raise NotFoundError(f'Volume group "{vg}" not found', op=op, obj=vg)
    return cast(sqlite3.Row, row)


def _lv_row(ctx: Ctx, vg: str, name: str, op: str) -> sqlite3.Row:
    _vg_row(ctx, vg, op)
    row = ctx.db.execute("SELECT * FROM lvs WHERE vg = ? AND name = ?", (vg, name)).fetchone()
    if row is None:
        raise NotFoundError(f'Logical volume "{name}" not found in volume group "{vg}"', op=op, obj=f"{vg}/{name}")
    return cast(sqlite3.Row, row)


def _holders(ctx: Ctx, path: str) -> list[str]:
    return [
        str(r[0])
        for r in ctx.db.execute(
            "SELECT DISTINCT d.name FROM disks k JOIN domains d ON d.domid = k.domid WHERE k.target = ? "
            "ORDER BY d.name",
            (path,),
        )
    ]


def _need_space(ctx: Ctx, vg: str, extents: int, op: str) -> None:
    free = free_extents(ctx, vg)
    if extents > free:
        raise XenError(
            f'Volume group "{vg}" has insufficient free space ({free} extents): {extents} required.',
            op=op,
            obj=vg,
        )


def create_vg(ctx: Ctx, name: str, pvs: tuple[str, ...], owner: Owner) -> float:
    _check_lvm_name(name, "Volume group", "vg-create")
    if ctx.db.execute("SELECT 1 FROM vgs WHERE name = ?", (name,)).fetchone():
        raise XenError(f"A volume group called {name} already exists.", op="vg-create", obj=name)
    if not pvs:
        raise XenError("Please enter physical volume name(s)", op="vg-create", obj=name)
    paths = [device_path(pv) for pv in pvs]
    extents = 0
    for path in paths:
        row = ctx.db.execute("SELECT * FROM partitions WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise NotFoundError(f"Device {path} not found (or ignored by filtering).", op="vg-create", obj=path)
        if row["vg"] is not None:
            raise XenError(
                f"Physical volume '{path}' is already in volume group '{row['vg']}'", op="vg-create", obj=path
            )
        if row["mounted"] or _holders(ctx, path):
            raise XenError(f"Can't open {path} exclusively.  Mounted filesystem?", op="vg-create", obj=path)
        extents += max(0, (row["size"] - PV_METADATA) // EXTENT)
    if len(set(paths)) != len(paths):
        raise XenError("A physical volume is named twice", op="vg-create", obj=name)
    ctx.db.execute(
        "INSERT INTO vgs(name, extent_size, extents, managed_by, source) VALUES (?, ?, ?, ?, ?)",
        (name, EXTENT, extents, *owner),
    )
    for path in paths:
        ctx.db.execute(
            "UPDATE partitions SET vg = ?, filesystem = 'LVM2_member', digest = ? WHERE path = ?",
            (name, digest_of("pvcreate", path, name), path),
        )
    return 0.0


def remove_vg(ctx: Ctx, name: str) -> float:
    _vg_row(ctx, name, "vg-remove")
    count = ctx.db.execute("SELECT COUNT(*) FROM lvs WHERE vg = ?", (name,)).fetchone()[0]
    if count:
        raise XenError(f'Volume group "{name}" still contains {count} logical volume(s)', op="vg-remove", obj=name)
    ctx.db.execute("UPDATE partitions SET vg = NULL WHERE vg = ?", (name,))
    ctx.db.execute("DELETE FROM vgs WHERE name = ?", (name,))
    return 0.0


def create_lv(ctx: Ctx, vg: str, name: str, size: int, owner: Owner) -> float:
    _vg_row(ctx, vg, "lv-create")
    _check_lvm_name(name, "Logical volume", "lv-create")
    if size <= 0:
        raise XenError("Size must be larger than 0", op="lv-create", obj=f"{vg}/{name}")
    if ctx.db.execute("SELECT 1 FROM lvs WHERE vg = ? AND name = ?", (vg, name)).fetchone():
        raise XenError(
            f'Logical volume "{name}" already exists in volume group "{vg}"', op="lv-create", obj=f"{vg}/{name}"
        )
    extents = _extents(size)
    _need_space(ctx, vg, extents, "lv-create")
    ctx.db.execute(
        "INSERT INTO lvs(vg, name, size, digest, managed_by, source, written) VALUES (?, ?, ?, ?, ?, ?, 0)",
        (vg, name, extents * EXTENT, EMPTY_DIGEST, *owner),  # lvcreate wipes what was there
    )
    return ctx.duration("lv_create")


def create_snapshot(ctx: Ctx, vg: str, name: str, origin: str, cow_size: int, owner: Owner) -> float:
    _vg_row(ctx, vg, "snapshot-create")
    _check_lvm_name(name, "Logical volume", "snapshot-create")
    source = ctx.db.execute("SELECT * FROM lvs WHERE vg = ? AND name = ?", (vg, origin)).fetchone()
    if source is None:
        raise NotFoundError(f"Couldn't find origin volume '{vg}/{origin}'.", op="snapshot-create", obj=f"{vg}/{name}")
    if source["origin"] is not None:
        raise XenError("Snapshots of snapshots are not supported yet.", op="snapshot-create", obj=f"{vg}/{name}")
    if ctx.db.execute("SELECT 1 FROM lvs WHERE vg = ? AND name = ?", (vg, name)).fetchone():
        raise XenError(
            f'Logical volume "{name}" already exists in volume group "{vg}"', op="snapshot-create", obj=f"{vg}/{name}"
        )
    if cow_size <= 0:
        raise XenError("Size must be larger than 0", op="snapshot-create", obj=f"{vg}/{name}")
    extents = _extents(cow_size)
    _need_space(ctx, vg, extents, "snapshot-create")
    memory.hold_for_snapshot(ctx, f"{vg}/{name}")
    # The snapshot freezes the origin as it is now: count what its writers wrote so far.
    origin_path = f"/dev/{vg}/{origin}"
    blockdevs.fold_target(ctx, origin_path)
    digest = ctx.db.execute("SELECT digest FROM lvs WHERE vg = ? AND name = ?", (vg, origin)).fetchone()[0]
    ctx.db.execute(
        "INSERT INTO lvs(vg, name, size, filesystem, digest, origin, cow_size, managed_by, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (vg, name, source["size"], source["filesystem"], digest, origin, extents * EXTENT, *owner),
    )
    return ctx.duration("lv_create")


def grow_lv(ctx: Ctx, vg: str, name: str, size: int) -> float:
    row = _lv_row(ctx, vg, name, "lv-grow")
    current = row["cow_size"] if row["origin"] else row["size"]
    new, old = _extents(size), _extents(current)
    if new <= old:
        raise XenError(
            f"New size given ({new} extents) not larger than existing size ({old} extents)",
            op="lv-grow",
            obj=f"{vg}/{name}",
        )
    _need_space(ctx, vg, new - old, "lv-grow")
    column = "cow_size" if row["origin"] else "size"
    ctx.db.execute(f"UPDATE lvs SET {column} = ? WHERE vg = ? AND name = ?", (new * EXTENT, vg, name))
    return ctx.duration("lv_create")


def remove_lv(ctx: Ctx, vg: str, name: str) -> float:
    _lv_row(ctx, vg, name, "lv-remove")
    if _holders(ctx, f"/dev/{vg}/{name}"):
        raise XenError(f'Can\'t remove open logical volume "{name}"', op="lv-remove", obj=f"{vg}/{name}")
    snapshots = [
        r[0] for r in ctx.db.execute("SELECT name FROM lvs WHERE vg = ? AND origin = ? ORDER BY name", (vg, name))
    ]
    if snapshots:
        raise XenError(
            f'Logical volume "{vg}/{name}" has snapshots ({", ".join(snapshots)}); remove them first',
            op="lv-remove",
            obj=f"{vg}/{name}",
        )
    ctx.db.execute("DELETE FROM lvs WHERE vg = ? AND name = ?", (vg, name))
    return 0.0


def image_path(ctx: Ctx, path: str, op: str) -> str:
    """An image's full path, refused unless it stays inside the storage root."""
    root = ctx.profile.storage_root
    if not path or any(ord(c) < 32 or c == "\x7f" for c in path):
        raise XenError("An image path must be a file name under the storage root", op=op, obj=repr(path)[:80])
    full = "/" + os.path.normpath(os.path.join(root, path)).lstrip("/")  # "//x" is "/x" too
    if os.path.commonpath([root, full]) != root or full == root:
        raise XenError(f"Image path {path[:200]} is outside the storage root {root}", op=op, obj=path[:200])
    if any(len(part.encode()) > 255 or not part.strip() for part in full[len(root) :].split("/") if part != ""):
        raise XenError(
            f"Image path {path[:200]} has a name part that is blank or over 255 bytes", op=op, obj=path[:200]
        )
    return full


def create_image(ctx: Ctx, path: str, size: int, sparse: bool, owner: Owner) -> tuple[str, float]:
    full = image_path(ctx, path, "image-create")
    if size <= 0:
        raise XenError("An image needs a size larger than 0", op="image-create", obj=full)
    if find_target(ctx, full) is not None:
        raise XenError(f"{full}: File exists", op="image-create", obj=full)
    # An image is a file: nothing can live inside one, and it cannot hold others.
    parent = os.path.dirname(full)
    while parent != ctx.profile.storage_root and len(parent) > len(ctx.profile.storage_root):
        if ctx.db.execute("SELECT 1 FROM images WHERE path = ?", (parent,)).fetchone():
            raise XenError(f"{full}: Not a directory ({parent} is an image file)", op="image-create", obj=full)
        parent = os.path.dirname(parent)
    if ctx.db.execute("SELECT 1 FROM images WHERE path LIKE ? ESCAPE '\\'", (_like_prefix(full),)).fetchone():
        raise XenError(f"{full}: Is a directory (it holds image files)", op="image-create", obj=full)
    ctx.db.execute(
        "INSERT INTO images(path, size, sparse, digest, managed_by, source, written) VALUES (?, ?, ?, ?, ?, ?, 0)",
        (full, size, int(sparse), EMPTY_DIGEST, *owner),  # dd from /dev/zero
    )
    took = 0.0 if sparse else ctx.duration("image_create") * size / GIB
    return full, took


def _like_prefix(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


def grow_image(ctx: Ctx, path: str, size: int) -> float:
    row = _image_row(ctx, path, "image-grow")
    if size <= row["size"]:
        raise XenError(
            f"New size {format_size(size)} is not larger than the image's {format_size(row['size'])}",
            op="image-grow",
            obj=row["path"],
        )
    ctx.db.execute("UPDATE images SET size = ? WHERE path = ?", (size, row["path"]))
    return 0.0 if row["sparse"] else ctx.duration("image_create") * (size - row["size"]) / GIB


def _image_row(ctx: Ctx, path: str, op: str) -> sqlite3.Row:
    full = image_path(ctx, path, op)
    row = ctx.db.execute("SELECT * FROM images WHERE path = ?", (full,)).fetchone()
    if row is None:
        raise NotFoundError(f"{full}: No such file or directory", op=op, obj=full)
    return cast(sqlite3.Row, row)


def remove_image(ctx: Ctx, path: str) -> float:
    row = _image_row(ctx, path, "image-remove")
    holders = _holders(ctx, row["path"])
    if holders:
        raise XenError(f"Image file {row['path']} is in use by domain {holders[0]}", op="image-remove", obj=row["path"])
    ctx.db.execute("DELETE FROM images WHERE path = ?", (row["path"],))
    return 0.0


def _writable_target(ctx: Ctx, path: str, op: str) -> Target:
    target = find_target(ctx, path)
    if target is None:
        raise NotFoundError(f"{path}: No such file or directory", op=op, obj=path)
    if _holders(ctx, path) or (target.kind == "partition" and target.row["mounted"]):
        raise XenError(f"{path} is apparently in use by the system; will not make a filesystem here!", op=op, obj=path)
    if target.kind == "partition" and target.row["vg"]:
        raise XenError(
            f"{path} is a physical volume of volume group {target.row['vg']}; remove the volume group first",
            op=op,
            obj=path,
        )
    if target.kind == "lv" and target.row["invalid"]:
        raise XenError(f"{path}: Input/output error (the snapshot is invalid)", op=op, obj=path)
    return target


def _set_content(ctx: Ctx, target: Target, digest: str, filesystem: str | None, *, written: bool) -> None:
    table, keys = {
        "partition": ("partitions", "path = ?"),
        "image": ("images", "path = ?"),
        "lv": ("lvs", "vg = ? AND name = ?"),
    }[target.kind]
    ctx.db.execute(f"UPDATE {table} SET digest = ?, filesystem = ? WHERE {keys}", (digest, filesystem, *target.key))
    if target.kind != "partition":
        ctx.db.execute(f"UPDATE {table} SET written = ? WHERE {keys}", (int(written), *target.key))


def _still_blank(target: Target, path: str, op: str) -> None:
    if target.kind != "partition" and target.row["written"]:
        raise XenError(
            f"{path} has been written to since the plan was made; not touching it (plan again)", op=op, obj=path
        )


def format_volume(ctx: Ctx, path: str, filesystem: str, *, blank_only: bool = False) -> float:
    if filesystem not in FILESYSTEMS:
        raise XenError(
            f"mkfs: unknown filesystem type {filesystem!r}; use one of {', '.join(FILESYSTEMS)}", op="format", obj=path
        )
    target = _writable_target(ctx, path, "format")
    if blank_only:
        _still_blank(target, path, "format")
    _set_content(ctx, target, digest_of(target.row["digest"], "mkfs", filesystem), filesystem, written=False)
    return ctx.duration("mkfs")


def populate_volume(ctx: Ctx, path: str, source: str, *, blank_only: bool = False) -> float:
    target = _writable_target(ctx, path, "populate")
    if blank_only:
        _still_blank(target, path, "populate")
    filesystem = target.row["filesystem"]
    if filesystem in (None, "swap", "LVM2_member"):
        raise XenError(f"mount: {path} has no filesystem to copy files into; format it first", op="populate", obj=path)
    _set_content(ctx, target, digest_of(target.row["digest"], "copy", source), filesystem, written=True)
    return 0.0


def create_export(ctx: Ctx, server: str, path: str, owner: Owner) -> float:
    if any(server == name for name, _paths in ctx.profile.nfs_servers):
        raise XenError(
            f"NFS server {server} is outside this host; its exports come from the host profile",
            op="export-create",
            obj=f"{server}:{path}",
        )
    if ctx.db.execute("SELECT 1 FROM domains WHERE name = ?", (server,)).fetchone() is None:
        raise NotFoundError(f"Domain '{server}' does not exist.", op="export-create", obj=f"{server}:{path}")
    if not path.startswith("/") or "\0" in path:
        raise XenError(f"exportfs: {path!r} is not an absolute path", op="export-create", obj=f"{server}:{path}")
    if ctx.db.execute("SELECT 1 FROM exports WHERE server = ? AND path = ?", (server, path)).fetchone():
        raise XenError(f"exportfs: {server}:{path} is already exported", op="export-create", obj=f"{server}:{path}")
    ctx.db.execute(
        "INSERT INTO exports(server, path, digest, by_domain, managed_by, source) VALUES (?, ?, ?, 1, ?, ?)",
        (server, path, digest_of("export", server, path, ctx.now), *owner),
    )
    return 0.0


def remove_export(ctx: Ctx, server: str, path: str) -> float:
    address = f"{server}:{path}"
    row = ctx.db.execute("SELECT * FROM exports WHERE server = ? AND path = ?", (server, path)).fetchone()
    if row is None:
        raise NotFoundError(f"exportfs: {address} is not exported", op="export-remove", obj=address)
    if not row["by_domain"]:
        raise XenError(
            f"NFS server {server} is outside this host; its exports come from the host profile",
            op="export-remove",
            obj=address,
        )
    for domain in ctx.db.execute("SELECT name, record FROM domains ORDER BY name"):
        config = json.loads(domain["record"])
        if config.get("nfs_server") == server and config.get("nfs_root") == path:
            raise XenError(
                f"{address} is the root filesystem of domain {domain['name']}", op="export-remove", obj=address
            )
    ctx.db.execute("DELETE FROM exports WHERE server = ? AND path = ?", (server, path))
    return 0.0


def set_owner(ctx: Ctx, path: str, owner: Owner) -> str:
    """Mark a VG (``/dev/vg``), LV, image or export (``server:/path``) as owned."""
    if ":" in path and not path.startswith("/"):
        server, _, export = path.partition(":")
        cur = ctx.db.execute(
            "UPDATE exports SET managed_by = ?, source = ? WHERE server = ? AND path = ?", (*owner, server, export)
        )
    else:
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "dev":
            cur = ctx.db.execute("UPDATE vgs SET managed_by = ?, source = ? WHERE name = ?", (*owner, parts[2]))
        elif len(parts) == 4 and parts[1] == "dev":
            cur = ctx.db.execute(
                "UPDATE lvs SET managed_by = ?, source = ? WHERE vg = ? AND name = ?", (*owner, parts[2], parts[3])
            )
        else:
            cur = ctx.db.execute("UPDATE images SET managed_by = ?, source = ? WHERE path = ?", (*owner, path))
    if cur.rowcount == 0:
        raise NotFoundError(f"{path}: No such volume", op="set-owner", obj=path)
    return path
