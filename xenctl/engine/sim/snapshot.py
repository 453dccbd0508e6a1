"""Reading the whole live state of a simulated host into frozen values, fast.

One read transaction, one query per table, no query per object: a host with 10,000 domains and
30,000 volumes is read in a fraction of a second. Derived facts (states, CPU time, what running
guests have written so far, COW space used) are computed here for the moment of the read, the
same way the write path folds them, so a reader never needs the write lock.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict

from xenctl.engine.api import (
    DOMAIN0,
    Domain,
    DomainConfig,
    HostInfo,
    HostState,
    ImageFile,
    LogicalVolume,
    NfsExport,
    Owner,
    Partition,
    Phase,
    VolumeGroup,
)
from xenctl.engine.sim import domains, lifecycle, memory
from xenctl.engine.sim.blockdevs import digest_of, write_bytes
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import config_from_dict, disk_from_dict
from xenctl.engine.sim.storage import EXTENT, PV_METADATA


def _natural(text: str) -> tuple[object, ...]:
    """Sort key that puts sda2 before sda10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _owner(row: sqlite3.Row) -> Owner | None:
    managed_by = row["managed_by"]
    return Owner(managed_by, row["source"] or "") if managed_by else None


class _Writes:
    """What running guests have written to each target so far, not yet folded into the rows."""

    def __init__(self, ctx: Ctx, disk_rows: list[sqlite3.Row], domain_rows: dict[int, sqlite3.Row]) -> None:
        self.pending: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
        self.holders: dict[str, set[str]] = defaultdict(set)
        for disk in disk_rows:
            domain = domain_rows[disk["domid"]]
            self.holders[disk["target"]].add(domain["name"])
            if disk["mode"] == "r":
                continue
            ran = lifecycle.run_time(domain, ctx.now)
            if ran > disk["attached_run"]:
                self.pending[disk["target"]].append(
                    (domain["uuid"], disk["attached_run"], write_bytes(ctx, ran, disk["attached_run"]))
                )

    def digest(self, path: str, stored: str) -> str:
        for uuid, since, _written in self.pending.get(path, ()):
            stored = digest_of(stored, uuid, f"{since:.6f}")
        return stored

    def written(self, path: str) -> int:
        return sum(w for _u, _s, w in self.pending.get(path, ()))

    def holders_of(self, path: str) -> tuple[str, ...]:
        return tuple(sorted(self.holders.get(path, ())))


def _domain(ctx: Ctx, row: sqlite3.Row, disks: list[sqlite3.Row]) -> Domain:
    config: DomainConfig = config_from_dict(json.loads(row["config"]), tuple(disk_from_dict(dict(d)) for d in disks))
    return Domain(
        domid=row["domid"],
        name=row["name"],
        uuid=row["uuid"],
        phase=lifecycle.phase_of(row, ctx.now),
        memory=row["memory"],
        target=row["target"],
        vcpus=row["vcpus"],
        cpu_time=lifecycle.cpu_time(row, ctx.now),
        config=config,
        owner=_owner(row),
        created_at=row["created_at"],
        up_at=row["up_at"],
    )


def domain0(ctx: Ctx) -> Domain:
    created = ctx.meta("created_at")
    started = float(created) if isinstance(created, (int, float)) else ctx.now
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
        cpu_time=max(0.0, ctx.now - started) * 0.05 * vcpus,
        config=DomainConfig(name=DOMAIN0, memory=dom0_mem, vcpus=vcpus, maxvcpus=domains.dom0_vcpu_ceiling(ctx)),
        created_at=started,
        up_at=started,
    )


def read_domain(ctx: Ctx, domid: int) -> Domain:
    row = ctx.db.execute("SELECT * FROM domains WHERE domid = ?", (domid,)).fetchone()
    disks = ctx.db.execute("SELECT * FROM disks WHERE domid = ? ORDER BY rowid", (domid,)).fetchall()
    return _domain(ctx, row, disks)


def read_state(ctx: Ctx) -> HostState:
    db = ctx.db
    domain_rows = {row["domid"]: row for row in db.execute("SELECT * FROM domains")}
    disk_rows = db.execute("SELECT * FROM disks ORDER BY domid, rowid").fetchall()
    disks_of: dict[int, list[sqlite3.Row]] = defaultdict(list)
    for disk in disk_rows:
        disks_of[disk["domid"]].append(disk)
    writes = _Writes(ctx, disk_rows, domain_rows)

    guests = [_domain(ctx, row, disks_of[domid]) for domid, row in domain_rows.items()]
    all_domains = tuple(sorted([domain0(ctx), *guests], key=lambda d: d.name))

    partitions = []
    pv_extents: dict[str, int] = defaultdict(int)
    pvs_of: dict[str, list[str]] = defaultdict(list)
    for row in sorted(db.execute("SELECT * FROM partitions"), key=lambda r: _natural(r["path"])):
        path = row["path"]
        if row["vg"]:
            pv_extents[row["vg"]] += max(0, (row["size"] - PV_METADATA) // EXTENT)
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

    lv_rows = db.execute("SELECT * FROM lvs ORDER BY vg, name").fetchall()
    used_extents: dict[str, int] = defaultdict(int)
    volumes = []
    for row in lv_rows:
        vg, name = row["vg"], row["name"]
        path = f"/dev/{vg}/{name}"
        size = row["size"]
        cow_size = row["cow_size"]
        used_extents[vg] += -(-(cow_size if row["origin"] else size) // EXTENT)
        cow_used = 0
        invalid = bool(row["invalid"])
        if row["origin"]:
            cow_used = row["cow_base"] + writes.written(path) + writes.written(f"/dev/{vg}/{row['origin']}")
            invalid = invalid or cow_used >= cow_size
            cow_used = min(cow_used, cow_size)
        volumes.append(
            LogicalVolume(
                vg=vg,
                name=name,
                size=size,
                filesystem=row["filesystem"],
                digest=writes.digest(path, row["digest"]),
                origin=row["origin"],
                cow_size=cow_size,
                cow_used=cow_used,
                invalid=invalid,
                owner=_owner(row),
                holders=writes.holders_of(path),
            )
        )

    vgs = tuple(
        VolumeGroup(
            name=row["name"],
            pvs=tuple(pvs_of[row["name"]]),
            extent_size=row["extent_size"],
            size=pv_extents[row["name"]] * EXTENT,
            free=(pv_extents[row["name"]] - used_extents[row["name"]]) * EXTENT,
            owner=_owner(row),
        )
        for row in db.execute("SELECT * FROM vgs ORDER BY name")
    )
    images = tuple(
        ImageFile(
            path=row["path"],
            size=row["size"],
            sparse=bool(row["sparse"]),
            filesystem=row["filesystem"],
            digest=writes.digest(row["path"], row["digest"]),
            read_only=bool(row["read_only"]),
            owner=_owner(row),
            holders=writes.holders_of(row["path"]),
        )
        for row in db.execute("SELECT * FROM images ORDER BY path")
    )
    exports = tuple(
        NfsExport(
            server=row["server"],
            path=row["path"],
            digest=row["digest"],
            served_by_domain=bool(row["by_domain"]),
            owner=_owner(row),
        )
        for row in db.execute("SELECT * FROM exports ORDER BY server, path")
    )
    return HostState(
        host=host_info(ctx, sum(d.memory for d in guests), sum(1 for d in disk_rows if d["loop"] is not None)),
        domains=all_domains,
        partitions=tuple(partitions),
        volume_groups=vgs,
        logical_volumes=tuple(volumes),
        images=images,
        nfs_exports=exports,
    )


def host_info(ctx: Ctx, guest_memory: int | None = None, loops_used: int | None = None) -> HostInfo:
    p = ctx.profile
    if guest_memory is None:
        guest_memory = memory.guest_memory(ctx)
    if loops_used is None:
        loops_used = int(ctx.db.execute("SELECT COUNT(*) FROM disks WHERE loop IS NOT NULL").fetchone()[0])
    dom0_mem = memory.dom0_memory(ctx)
    runlevel = ctx.meta("runlevel")
    return HostInfo(
        name=p.name,
        total_memory=p.memory,
        free_memory=p.memory - p.xen_reserved - dom0_mem - guest_memory,
        dom0_memory=dom0_mem,
        dom0_min_mem=p.dom0_min_mem,
        ballooning=p.ballooning,
        pcpus=p.cpus,
        max_loop=p.max_loop,
        loops_used=loops_used,
        bridges=p.bridges,
        storage_root=p.storage_root,
        save_dir=p.save_dir,
        runlevel=int(runlevel) if isinstance(runlevel, int) else p.runlevel,
        now=ctx.now,
    )
