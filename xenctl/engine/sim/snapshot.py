"""Reading the whole live state of a simulated host into frozen values, fast.

One read transaction, one query per table, no query per object: a host with 10,000 domains and
30,000 volumes is read in a fraction of a second. Derived facts (states, CPU time, what running
guests have written so far, COW space used) are computed here for the moment of the read, the
same way the write path folds them. A reader takes the write lock only when an exit (a shutdown
ending, a reboot, a crash) has fallen due and must be carried out first.
"""

from __future__ import annotations

import json
import re
import sqlite3
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any

from xenctl.collector import collector_paused
from xenctl.engine.api import (
    DOMAIN0,
    Domain,
    DomainConfig,
    HostInfo,
    HostState,
    ImageFile,
    LogicalVolume,
    NfsExport,
    Partition,
    Phase,
    Selection,
    VolumeGroup,
)
from xenctl.engine.sim import domains, memory, timeline
from xenctl.engine.sim.capabilities import capabilities_of
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.guests import OWNER_MARK, Guests, Owners, make_plain_volume, make_volume


def _natural(text: str) -> tuple[object, ...]:
    """Sort key that puts sda2 before sda10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def domain0(ctx: Ctx) -> Domain:
    started = timeline.dom0_started(ctx.meta("created_at"), ctx.now)
    dom0_mem = memory.dom0_memory(ctx)
    vcpus = domains.dom0_vcpus(ctx)
    return Domain(
        domid=0,
        name=DOMAIN0,
        uuid="00000000-0000-0000-0000-000000000000",
        phase=Phase.RUNNING,
        memory=dom0_mem,
        target=dom0_mem,
        vcpus=vcpus,
        cpu_time=timeline.dom0_cpu_time(ctx.now, started, vcpus),
        config=DomainConfig(
            name=DOMAIN0,
            memory=dom0_mem,
            maxmem=ctx.profile.dom0_initial_memory,  # its memory_static_max: the mem-set ceiling
            vcpus=vcpus,
            maxvcpus=domains.dom0_vcpu_ceiling(ctx),
        ),
        created_at=started,
        up_at=started,
    )


def read_domain(ctx: Ctx, domid: int) -> Domain:
    return Guests(ctx, "WHERE domid = ?", (domid,)).domains(ctx, Owners())[0]


def read_state(ctx: Ctx, selection: Selection | None = None) -> HostState:
    """The whole host, or (``selection``) the part of it a ``Selection`` names."""
    with collector_paused(kept=True):  # the caller keeps the state it asked for
        return _read_state(ctx, selection)


# A volume's columns as a snapshot reads them, one volume group at a time (its name is not read
# again for every volume). Its written mark and the four of a snapshot's copy-on-write space come
# as one value: the mark alone (an integer) for a volume that leaves the four at their defaults
# (the most of them), else a JSON array of the four and the mark. Each column is a value made in
# Python and a lock dance in the driver, the largest part of the cost of reading a row, and
# SQLite tells the defaults for much less.
_LV_COLUMNS = (
    f"name, size, filesystem, digest, {OWNER_MARK}, "
    "CASE WHEN origin IS NULL AND cow_size = 0 AND cow_base = 0 AND invalid = 0 THEN written "
    "ELSE json_array(origin, cow_size, cow_base, invalid, written) END"
)
_IN = "IN (SELECT value FROM json_each(?))"  # one parameter for a list of any length


def _basename(column: str) -> str:
    """SQL for the last part of a path (SQLite has no function for it)."""
    return f"substr({column}, length(rtrim({column}, replace({column}, '/', ''))) + 1)"


def _read_state(ctx: Ctx, selection: Selection | None) -> HostState:
    owners = Owners()
    if selection is None:
        lv_rows, image_rows, writes = _all_rows(ctx)
    else:
        lv_rows, image_rows, writes = _selected_rows(ctx, selection)
    guests = writes.domains(ctx, owners)
    partitions, pvs_of = _partitions(ctx.db, writes)
    volumes, snapshots = _logical_volumes(lv_rows, writes, owners)
    # The guests' memory from the host's own total (shadow memory too); a whole read counted the snapshots
    host = host_info(ctx, snapshots=snapshots if selection is None else None)
    return HostState(
        host=host,
        domains=_with_domain0(domain0(ctx), guests),
        partitions=partitions,
        volume_groups=_volume_groups(ctx.db, pvs_of, owners),
        logical_volumes=volumes,
        images=_images(image_rows, writes, owners),
        nfs_exports=_exports(ctx.db, owners),
    )


def _with_domain0(dom0: Domain, guests: list[Domain]) -> tuple[Domain, ...]:
    """Every domain by name: the guests come sorted by name, Domain-0 goes in its place among them."""
    at = bisect_left(guests, dom0.name, key=_name)
    return (*guests[:at], dom0, *guests[at:])


def _name(domain: Domain) -> str:
    return domain.name


def _lv_cursor(db: sqlite3.Connection) -> sqlite3.Cursor:
    cursor = db.cursor()
    cursor.row_factory = None  # plain tuples: LVs can be the largest table read
    return cursor


# The logical volumes read, by volume group: its name and the rows of its volumes, by name.
Groups = Iterable[tuple[str, Iterable[Any]]]


def _all_rows(ctx: Ctx) -> tuple[Groups, list[sqlite3.Row], Guests]:
    """Every guest and its disks; every image file; and every logical volume, each group's as a
    cursor: a group's rows are gone once its volumes are made, so a large host's read keeps little
    more than what it returns."""
    guests = Guests(ctx)
    image_rows = ctx.db.execute("SELECT * FROM images ORDER BY path").fetchall()
    return _groups(ctx.db), image_rows, guests


def _groups(db: sqlite3.Connection) -> Groups:
    """Every volume group's volumes, one query each (a range of the table's key)."""
    cursor = _lv_cursor(db)
    for (vg,) in db.execute("SELECT DISTINCT vg FROM lvs ORDER BY vg").fetchall():
        yield vg, cursor.execute(f"SELECT {_LV_COLUMNS} FROM lvs WHERE vg = ? ORDER BY name", (vg,))


def _selected_rows(ctx: Ctx, selection: Selection) -> tuple[Groups, list[sqlite3.Row], Guests]:
    """The logical volumes and image files ``selection`` names, and the guests to read with them."""
    db = ctx.db
    cursor = _lv_cursor(db)
    names, paths = json.dumps(sorted(selection.volumes)), json.dumps(sorted(selection.paths))
    cursor.execute(
        f"SELECT vg, {_LV_COLUMNS} FROM lvs WHERE name {_IN} OR origin {_IN} OR '/dev/' || vg || '/' || name {_IN} "
        "ORDER BY vg, name",
        (names, names, paths),
    )
    lv_rows = cursor.fetchall()
    image_query = f"SELECT * FROM images WHERE path {_IN} OR {_basename('path')} {_IN} ORDER BY path"
    image_rows = db.execute(image_query, (paths, names)).fetchall()
    # Every guest that holds or writes to what is read, so holders and digests come out whole
    held = [f"/dev/{row[0]}/{row[1]}" for row in lv_rows]
    held += [f"/dev/{row[0]}/{json.loads(row[-1])[0]}" for row in lv_rows if type(row[-1]) is str]
    held += [row["path"] for row in image_rows]
    held += [row[0] for row in db.execute("SELECT path FROM partitions")]
    domids = [
        row[0]
        for row in db.execute(
            f"SELECT domid FROM domains WHERE name {_IN} OR managed_by IS NULL OR managed_by = '' "
            f"UNION SELECT domid FROM disks WHERE target {_IN}",
            (json.dumps(sorted(selection.domains)), json.dumps(held)),
        )
    ]
    groups = [(vg, [row[1:] for row in rows]) for vg, rows in groupby(lv_rows, key=itemgetter(0))]
    return groups, image_rows, Guests(ctx, f"WHERE domid {_IN}", (json.dumps(domids),))


def _partitions(db: sqlite3.Connection, writes: Guests) -> tuple[tuple[Partition, ...], dict[str, list[str]]]:
    """Every partition, and the partitions each volume group is made of (its physical volumes)."""
    partitions = []
    pvs_of: dict[str, list[str]] = defaultdict(list)
    for row in sorted(db.execute("SELECT * FROM partitions"), key=lambda r: _natural(r["path"])):
        path = row["path"]
        if row["vg"]:
            pvs_of[row["vg"]].append(path)
        partitions.append(
            Partition(
                path=path,
                disk=row["disk"],
                size=row["size"],
                mounted=row["mounted"],
                mountpoint=row["mountpoint"],
                filesystem=row["filesystem"],
                digest=writes.digest(path, row["digest"]),
                vg=row["vg"],
                holders=writes.holders_of(path),
            )
        )
    return tuple(partitions), pvs_of


def _logical_volumes(groups: Groups, writes: Guests, owners: Owners) -> tuple[tuple[LogicalVolume, ...], int]:
    """The logical volumes read, with what running guests wrote so far and snapshots' COW space;
    and how many of them are snapshots."""
    volumes: list[LogicalVolume] = []
    append, used_by, owner = volumes.append, writes.uses.get, owners.marked
    snapshots = 0
    for vg, lv_rows in groups:
        prefix = f"/dev/{vg}/"
        rows = list(lv_rows)
        # A group's disks looked up first, at once: the uses lie scattered in memory, and looked up
        # between the making of values they miss the cache far more (a fifth of the volumes' time)
        uses = [used_by(prefix + row[0]) for row in rows]
        for (name, size, filesystem, digest, mark, cow), used in zip(rows, uses, strict=True):
            # as ``writes.digest`` and ``writes.holders_of``, inline for a volume one disk holds: a
            # large host has many volumes, and few are shared (a use's items are taken by index: its
            # domid and run seconds, not needed here, stay untouched in memory)
            if type(used) is tuple:
                holders, after = used[0], used[1]
                now_digest = digest if after is None else after
            elif used is None:
                holders, now_digest = (), digest
            else:
                path = prefix + name
                holders, now_digest = writes.holders_of(path), writes.digest(path, digest)
            owned = None if mark is None else owner(mark)
            if type(cow) is int:  # no snapshot, its COW columns at their defaults: its written mark
                append(
                    make_plain_volume(
                        vg, name, size, filesystem, now_digest, owned, holders, cow != 0 or now_digest != digest
                    )
                )
                continue
            origin, cow_size, cow_base, invalid, written = json.loads(cow)
            if origin:
                snapshots += 1
                cow_used = cow_base + writes.written(prefix + name) + writes.written(prefix + origin)
                shown_used, is_invalid, holds_data = (
                    min(cow_used, cow_size),
                    bool(invalid or cow_used >= cow_size),
                    True,
                )
            else:  # a snapshot holds its origin's data; another volume what was written to it
                shown_used, is_invalid, holds_data = 0, invalid != 0, written != 0 or now_digest != digest
            append(
                make_volume(
                    vg,
                    name,
                    size,
                    filesystem,
                    now_digest,
                    origin,
                    cow_size,
                    shown_used,
                    is_invalid,
                    owned,
                    holders,
                    holds_data,
                )
            )
    return tuple(volumes), snapshots


def _volume_groups(db: sqlite3.Connection, pvs_of: dict[str, list[str]], owners: Owners) -> tuple[VolumeGroup, ...]:
    return tuple(
        VolumeGroup(
            name=row["name"],
            pvs=tuple(pvs_of[row["name"]]),
            extent_size=row["extent_size"],
            size=row["extents"] * row["extent_size"],
            free=(row["extents"] - row["used"]) * row["extent_size"],
            owner=owners.get(row["managed_by"], row["source"]),
        )
        for row in db.execute("SELECT * FROM vgs ORDER BY name")
    )


def _images(image_rows: list[sqlite3.Row], writes: Guests, owners: Owners) -> tuple[ImageFile, ...]:
    return tuple(
        ImageFile(
            path=row["path"],
            size=row["size"],
            sparse=bool(row["sparse"]),
            filesystem=row["filesystem"],
            digest=writes.digest(row["path"], row["digest"]),
            read_only=bool(row["read_only"]),
            owner=owners.get(row["managed_by"], row["source"]),
            holders=writes.holders_of(row["path"]),
            written=bool(row["written"]) or writes.digest(row["path"], row["digest"]) != row["digest"],
        )
        for row in image_rows
    )


def _exports(db: sqlite3.Connection, owners: Owners) -> tuple[NfsExport, ...]:
    return tuple(
        NfsExport(
            server=row["server"],
            path=row["path"],
            digest=row["digest"],
            served_by_domain=bool(row["by_domain"]),
            owner=owners.get(row["managed_by"], row["source"]),
        )
        for row in db.execute("SELECT * FROM exports ORDER BY server, path")
    )


def host_info(ctx: Ctx, guest_memory: int | None = None, snapshots: int | None = None) -> HostInfo:
    """The host's facts; a whole read gives the totals it counted on the way (else they are read)."""
    p = ctx.profile
    if guest_memory is None:
        guest_memory = memory.guest_memory(ctx)
    # The loop devices in use, by the partial index on them (no row of disks is read)
    loops_used = int(ctx.db.execute("SELECT COUNT(*) FROM disks WHERE loop IS NOT NULL").fetchone()[0])
    dom0_mem = memory.dom0_memory(ctx)
    if snapshots is None:
        snapshots = memory.snapshots(ctx)
    runlevel = ctx.meta("runlevel")
    return HostInfo(
        name=p.name,
        total_memory=p.memory,
        free_memory=p.memory - p.xen_reserved - dom0_mem - guest_memory,
        dom0_memory=dom0_mem,
        dom0_min_mem=p.dom0_min_mem,
        ballooning=p.ballooning,
        guest_memory_max=p.memory - p.xen_reserved - (memory.dom0_floor(ctx, snapshots) if p.ballooning else dom0_mem),
        pcpus=p.cpus,
        max_loop=p.max_loop,
        loops_used=loops_used,
        bridges=p.bridges,
        storage_root=p.storage_root,
        save_dir=p.save_dir,
        runlevel=int(runlevel) if isinstance(runlevel, int) else p.runlevel,
        now=ctx.now,
        booted=ctx.meta("booted") is True,
        snapshots=snapshots,
        snapshot_memory=p.snapshot_memory,
        capabilities=capabilities_of(p),
    )


def cow_deadline(ctx: Ctx) -> str:
    """When the next copy-on-write snapshot fills by itself, and how many have filled since their
    writes were last counted: part of the host's change token, so that a plan made before a
    snapshot went invalid is not taken for the answer after it."""
    rows = ctx.db.execute(
        "SELECT vg, name, origin, cow_size, cow_base FROM lvs WHERE origin IS NOT NULL AND invalid = 0"
    ).fetchall()
    if not rows:
        return ""
    targets = sorted({f"/dev/{r['vg']}/{n}" for r in rows for n in (r["name"], r["origin"])})
    writers = Guests(
        ctx, f"WHERE domid IN (SELECT domid FROM disks WHERE target {_IN} AND mode != 'r')", (json.dumps(targets),)
    )
    running: dict[str, int] = defaultdict(int)
    for row in writers.rows:  # _DOMAIN_COLUMNS: domid 0, run_since 12, exit_at 13
        if row[12] is not None and (row[13] is None or row[13] > ctx.now):
            for disk in writers.disks.get(row[0], ()):
                if disk.mode.writes:
                    running[disk.target] += 1
    rate = ctx.profile.guest_write_rate
    filled, due = 0, None
    for row in rows:
        path, origin = f"/dev/{row['vg']}/{row['name']}", f"/dev/{row['vg']}/{row['origin']}"
        left = row["cow_size"] - row["cow_base"] - writers.written(path) - writers.written(origin)
        streams = running[path] + running[origin]
        if left <= 0:
            filled += 1
        elif streams and rate:
            at = round(ctx.now + left / (rate * streams), 1)
            due = at if due is None else min(due, at)
    return f"{filled}:{due!r}"
