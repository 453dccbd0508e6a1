"""Guest block devices: what a disk's target is, xend's sharing check, loop devices, and writes.

Attaching a disk follows xend's hotplug ``block`` script (shared/XEN.md, section 4): the device
must exist; ``w!`` skips every check; otherwise a device mounted in Domain-0 or held by another
guest is refused by the table of modes, with the script's own words. Each ``file:`` disk holds one
loop device out of ``max_loop`` until it is detached. Two kinds of disk hold nothing of Domain-0's
and are connected without those checks: an empty removable drive (a cdrom with no disc), and a
network block device (``nbd:``), whose server is elsewhere.

Writes: a guest that runs with a disk read-write changes the disk's content. Each volume keeps a
content digest; the writes of a volume's writers are folded into it (and into the COW space of any
LVM snapshot they touch) when a writer lets go of the disk, or before a snapshot of it is taken.
Until then each writer's row holds the digest the volume will have (``next_digest``), so a
snapshot reads what a reader should see without writing anything.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from xenctl.engine.api import DiskMode, DomainDisk
from xenctl.engine.devices import device_path, vdev_number
from xenctl.engine.sim import timeline
from xenctl.engine.sim.context import Ctx
from xenctl.errors import XenError


@dataclass(frozen=True)
class Target:
    """What a disk's target path is on the host."""

    kind: str  # "partition", "lv" or "image"
    path: str
    key: tuple[str, ...]  # primary key in its table
    row: sqlite3.Row


def digest_of(*parts: object) -> str:
    text = "|".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def find_target(ctx: Ctx, path: str) -> Target | None:
    """The partition, logical volume or image file at ``path``, if there is one."""
    row = ctx.db.execute("SELECT * FROM partitions WHERE path = ?", (path,)).fetchone()
    if row is not None:
        return Target("partition", path, (path,), row)
    parts = path.split("/")
    if len(parts) == 4 and parts[0] == "" and parts[1] == "dev":
        row = ctx.db.execute("SELECT * FROM lvs WHERE vg = ? AND name = ?", (parts[2], parts[3])).fetchone()
        if row is not None:
            return Target("lv", path, (parts[2], parts[3]), row)
    row = ctx.db.execute("SELECT * FROM images WHERE path = ?", (path,)).fetchone()
    if row is not None:
        return Target("image", path, (path,), row)
    return None


def disk_path(disk: DomainDisk) -> str:
    """The canonical host path of a disk's target (``phy:hda3`` is ``/dev/hda3``)."""
    return device_path(disk.target) if disk.backend == "phy" else disk.target


def _vbd_error(vdev: str, message: str) -> XenError:
    devid = vdev_number(vdev)
    return XenError(f"Device {devid} (vbd) could not be connected.\n{message}", op="attach", obj=vdev)


def check_vdev(ctx: Ctx, disk: DomainDisk, domid: int | None) -> None:
    """The guest's name for the disk is a device, and not one the domain has connected already."""
    if vdev_number(disk.vdev) is None:
        raise XenError(f"Unable to find number for device ({disk.vdev})", op="attach", obj=disk.vdev)
    if domid is not None:
        number = vdev_number(disk.vdev)
        for (vdev,) in ctx.db.execute("SELECT vdev FROM disks WHERE domid = ?", (domid,)).fetchall():
            if vdev_number(vdev) == number:
                raise _vbd_error(disk.vdev, f"A device is already connected as {vdev}.")


def check_attach(ctx: Ctx, disk: DomainDisk, uuid: str, domid: int | None) -> Target:
    """Everything xend checks before connecting ``disk`` to the domain ``uuid``; raises XenError."""
    check_vdev(ctx, disk, domid)
    path = disk_path(disk)
    target = find_target(ctx, path)
    if target is not None and target.kind == "lv":
        target = _with_writes_counted(ctx, target)
    if disk.backend == "phy":
        if target is None:
            raise _vbd_error(disk.vdev, f"{path} does not exist.")
        if target.kind == "image":
            raise _vbd_error(disk.vdev, f"{path} is not a block device.")
    elif target is None:
        raise _vbd_error(disk.vdev, f"{path} does not exist.")
    if target.kind == "lv" and target.row["invalid"]:
        raise _vbd_error(disk.vdev, f"Snapshot {path} is invalid: its copy-on-write space is full.")
    if target.kind == "image" and target.row["read_only"] and disk.mode.writes:
        raise _vbd_error(
            disk.vdev, f"File {path} is read-only, and so I will not mount it read-write in a guest domain."
        )
    conflict = sharing_conflict(ctx, path, disk, uuid)
    if conflict:
        raise _vbd_error(disk.vdev, conflict)
    return target


def _with_writes_counted(ctx: Ctx, target: Target) -> Target:
    """An LV's row once what its writers (and its origin's) wrote so far is counted: a snapshot
    whose COW space has filled is invalid now, not at its writer's next detach."""
    vg = target.key[0]
    fold_target(ctx, target.path)
    origin = target.row["origin"]
    if origin:
        fold_target(ctx, f"/dev/{vg}/{origin}")
    refreshed = find_target(ctx, target.path)
    return refreshed if refreshed is not None else target


def sharing_conflict(ctx: Ctx, path: str, disk: DomainDisk, uuid: str) -> str | None:
    """xend's check of a device against Domain-0's mounts and other guests, or None when allowed."""
    mode = disk.mode
    if mode is DiskMode.FORCE_WRITE:
        return None
    mounted = ctx.db.execute("SELECT mounted FROM partitions WHERE path = ?", (path,)).fetchone()
    dom0_mode = mounted[0] if mounted else None
    if mode is DiskMode.READ and dom0_mode == "rw":
        return (
            f"Device {path} is mounted read-write in the privileged domain,\n"
            "and so cannot be mounted read-only by a guest."
        )
    if mode is DiskMode.WRITE and dom0_mode is not None:
        return f"Device {path} is mounted in the privileged domain,\nand so cannot be mounted by a guest."
    others = ctx.db.execute(
        "SELECT k.mode, k.loop FROM disks k JOIN domains d ON d.domid = k.domid WHERE k.target = ? AND d.uuid != ?",
        (path, uuid),
    ).fetchall()
    held_rw = [o for o in others if o["mode"] != DiskMode.READ.value]
    offending = held_rw if mode is DiskMode.READ else others
    if not offending:
        return None
    how = "read-write " if mode is DiskMode.READ else ""
    then = "read-only now" if mode is DiskMode.READ else "now"
    loop = offending[0]["loop"]
    if loop is not None:
        return (
            f"File {path} is loopback-mounted through /dev/loop{loop},\n"
            f"which is mounted {how}in a guest domain,\nand so cannot be mounted {then}."
        )
    return f"Device {path} is mounted {how}in a guest domain,\nand so cannot be mounted {then}."


def free_loop(ctx: Ctx) -> int:
    """The lowest unused loop device, or xend's error when all ``max_loop`` are taken."""
    used = {row[0] for row in ctx.db.execute("SELECT loop FROM disks WHERE loop IS NOT NULL ORDER BY loop")}
    for number in range(ctx.profile.max_loop):
        if number not in used:
            return number
    raise XenError("Failed to find an unused loop device", op="attach")


def attach(ctx: Ctx, domid: int, uuid: str, disk: DomainDisk, run_time: float) -> None:
    """Check and connect ``disk`` to ``domid``; raises XenError and connects nothing on refusal."""
    if not disk.local:  # an empty drive or a network block device: nothing of Domain-0's to check
        check_vdev(ctx, disk, domid)
        ctx.db.execute(
            "INSERT INTO disks(domid, vdev, target, mode, backend, attached_run) VALUES (?, ?, ?, ?, ?, ?)",
            (domid, disk.vdev, disk.target, disk.mode.value, disk.backend, run_time),
        )
        return
    target = check_attach(ctx, disk, uuid, domid)
    loop = None
    if disk.needs_loop:
        try:
            loop = free_loop(ctx)
        except XenError as exc:
            raise _vbd_error(disk.vdev, exc.message) from None
    ctx.db.execute(
        "INSERT INTO disks(domid, vdev, target, mode, backend, attached_run, loop, next_digest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            domid,
            disk.vdev,
            target.path,
            disk.mode.value,
            disk.backend,
            run_time,
            loop,
            next_digest(target.row["digest"], uuid, run_time) if disk.mode.writes else None,
        ),
    )


def next_digest(stored: str, uuid: str, since: float) -> str:
    """The digest a volume will have once what ``uuid`` writes from ``since`` on is counted."""
    return digest_of(stored, uuid, f"{since:.6f}")


def write_bytes(ctx: Ctx, run_time: float, attached_run: float) -> int:
    return int(ctx.profile.guest_write_rate * max(0.0, run_time - attached_run))


def fold_target(ctx: Ctx, target: str) -> None:
    """Count everything written to ``target`` so far by every guest that writes it.

    All of a target's writers are counted together, in the order they attached, which is the
    order a reader combines them in: so the digest a reader saw is the digest stored.
    """
    writers = ctx.db.execute(
        "SELECT k.vdev, k.attached_run, d.* FROM disks k JOIN domains d ON d.domid = k.domid "
        "WHERE k.target = ? AND k.mode != 'r' ORDER BY k.rowid",
        (target,),
    ).fetchall()
    for row in writers:
        ran = timeline.run_time(row, ctx.now)
        if ran <= row["attached_run"]:
            continue
        written = write_bytes(ctx, ran, row["attached_run"])
        _apply_write(ctx, target, row["uuid"], row["attached_run"], written)
        ctx.db.execute(
            "UPDATE disks SET attached_run = ? WHERE domid = ? AND vdev = ?", (ran, row["domid"], row["vdev"])
        )
    # Every writer's next digest now starts from the digest just stored.
    stored = find_target(ctx, target)
    if stored is not None:
        for row in writers:
            current = ctx.db.execute(
                "SELECT attached_run FROM disks WHERE domid = ? AND vdev = ?", (row["domid"], row["vdev"])
            ).fetchone()
            ctx.db.execute(
                "UPDATE disks SET next_digest = ? WHERE domid = ? AND vdev = ?",
                (next_digest(stored.row["digest"], row["uuid"], current[0]), row["domid"], row["vdev"]),
            )


def fold_domain(ctx: Ctx, domid: int) -> None:
    """Count what ``domid`` and the guests sharing its read-write disks have written so far."""
    for (target,) in ctx.db.execute(
        "SELECT DISTINCT target FROM disks WHERE domid = ? AND mode != 'r'", (domid,)
    ).fetchall():
        fold_target(ctx, target)


def _apply_write(ctx: Ctx, path: str, uuid: str, since: float, written: int) -> None:
    """Count ``written`` bytes from ``uuid`` into the volume at ``path``."""
    target = find_target(ctx, path)
    if target is None:
        return
    new_digest = next_digest(target.row["digest"], uuid, since)
    if target.kind == "partition":
        ctx.db.execute("UPDATE partitions SET digest = ? WHERE path = ?", (new_digest, path))
    elif target.kind == "image":
        ctx.db.execute("UPDATE images SET digest = ?, written = 1 WHERE path = ?", (new_digest, path))
    else:
        vg, name = target.key
        ctx.db.execute("UPDATE lvs SET digest = ?, written = 1 WHERE vg = ? AND name = ?", (new_digest, vg, name))
        # A write to a snapshot, or to an origin, takes COW space in the snapshots it touches.
        ctx.db.execute(
            "UPDATE lvs SET cow_base = MIN(cow_size, cow_base + ?), "
            "invalid = CASE WHEN cow_base + ? >= cow_size THEN 1 ELSE invalid END "
            "WHERE vg = ? AND ((name = ? AND origin IS NOT NULL) OR origin = ?)",
            (written, written, vg, name, name),
        )


def release(ctx: Ctx, domid: int) -> None:
    """Count a departing domain's writes and let go of its disks and loop devices."""
    fold_domain(ctx, domid)
    ctx.db.execute("DELETE FROM disks WHERE domid = ?", (domid,))
