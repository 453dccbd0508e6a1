"""A snapshot is the host read the plain way: each value built by its class's own constructor from
rows read by name, one query per guest for its disks, every derived fact worked out anew.

The snapshot reads a large host fast (plain tuples, values stored straight into their slots, what
guests wrote worked out once per disk as the disks are read); this reads a small host with every
kind of object the slow, obvious way, and the two must be the same values in the same order, at
moments when guests are booting, running, stopping, paused, shut off and crashed, and when what
they wrote has filled a snapshot's COW space.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.helpers import domain
from xenctl.engine.api import (
    DiskMode,
    Domain,
    DomainConfig,
    DomainDisk,
    HostState,
    HvmConfig,
    ImageFile,
    LogicalVolume,
    NfsExport,
    OnEvent,
    Owner,
    Partition,
    Phase,
    Selection,
    Vif,
    VolumeGroup,
)
from xenctl.engine.sim import SimHost, VirtualClock, open_host, timeline
from xenctl.engine.sim.blockdevs import next_digest
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.snapshot import domain0, host_info
from xenctl.units import GIB, MIB

OWNER = Owner("xenctl", "site.yaml")
BOOT, SHUTDOWN = 8, 4  # the default profile's durations, seconds


@pytest.fixture
def full_host(home: str, clock: VirtualClock) -> Iterator[SimHost]:
    """Volumes, snapshots, images, exports and guests of every kind, some of them shared."""
    host = open_host(str(home), clock=clock)
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_volume_group("data", ("/dev/sda12",), owner=OWNER)
    host.create_logical_volume("vg", "root1", 4 * GIB)
    host.format_volume("/dev/vg/root1", "ext3")
    host.populate_volume("/dev/vg/root1", "Domain-0:/")
    host.create_logical_volume("vg", "root2", 2 * GIB)
    host.format_volume("/dev/vg/root2", "ext3")
    host.create_logical_volume("vg", "shared", GIB)
    host.create_logical_volume("data", "app", GIB, owner=OWNER)
    host.create_snapshot("vg", "clone", "root1", 64 * MIB)
    host.create_snapshot("vg", "clone2", "root2", 512 * MIB, owner=OWNER)
    image = host.create_image("web.img", GIB)
    host.format_volume(image, "ext3")
    disc = host.create_image("disc.iso", GIB, sparse=False, owner=OWNER)

    web = domain(
        "web",
        256,
        disks=[("/dev/vg/root1", "sda1"), (image, "sda2", "w", "file"), ("/dev/hda3", "sda3", "r")],
        vifs=(Vif(), Vif("xenbr1", "00:16:3e:00:00:01")),
        maxmem=512,
        vcpus=2,
        maxvcpus=4,
        on_crash=OnEvent.PRESERVE,
    )
    host.create_domain(web, owner=OWNER)
    host.create_domain(domain("cloner", disks=[("/dev/vg/clone", "sda1"), ("/dev/data/app", "sda2")]))
    host.create_domain(domain("sharer1", disks=[("/dev/vg/shared", "sda1", "w!"), ("/dev/hda4", "sda2", "w!")]))
    clock.advance(3)
    host.create_domain(domain("sharer2", disks=[("/dev/vg/shared", "sda1", "w!"), ("/dev/hda4", "sda2", "w!")]))
    cdrom = DomainDisk("", "hdc", DiskMode.READ, cdrom=True)
    reader = [("/dev/vg/root2", "sda1", "r"), ("/dev/vg/clone2", "sda2", "r"), cdrom]
    host.create_domain(domain("reader", disks=reader, vifs=()))
    host.create_domain(domain("paused", disks=[("/dev/sda6", "sda1")]), paused=True)
    host.create_domain(domain("off", disks=[("/dev/sda7", "sda1")], on_poweroff=OnEvent.PRESERVE))
    host.create_domain(domain("net", disks=[("134.100.233.115 20004", "sda1", "w", "nbd")], uuid=None))
    hvm = DomainConfig(
        name="win",
        memory=512,
        kernel="/usr/lib/xen/boot/hvmloader",
        builder="hvm",
        disks=(DomainDisk("/dev/sda8", "hda"), DomainDisk(disc, "hdc", DiskMode.READ, "file", cdrom=True)),
        vifs=(Vif(type="ioemu", model="e1000"),),
        hvm=HvmConfig(boot="dc", vnc=True, vncdisplay=3),
        shadow_memory=8,
    )
    host.create_domain(hvm)
    clock.advance(BOOT)
    host.create_nfs_export("web", "/srv/export", owner=OWNER)
    host.shutdown_domain("off")
    clock.advance(SHUTDOWN)
    host.create_domain(domain("late", disks=[("/dev/sda9", "sda1")]))  # still booting
    host.shutdown_domain("sharer2")  # still shutting down
    yield host
    host.close()


def test_the_full_host_has_every_kind_of_guest(full_host: SimHost) -> None:
    phases = {d.name: d.phase for d in full_host.snapshot().domains}
    assert {Phase.BOOTING, Phase.RUNNING, Phase.SHUTTING_DOWN, Phase.PAUSED, Phase.SHUTDOWN} <= set(phases.values())


@pytest.mark.parametrize("later", [0, 1, 30, 200])
def test_a_snapshot_is_the_host_read_the_plain_way(full_host: SimHost, clock: VirtualClock, later: int) -> None:
    clock.advance(later)
    state = full_host.snapshot()
    assert state == full_host._read(plain_state)
    if later == 200:  # the writer of clone has filled its COW space
        clone = next(v for v in state.logical_volumes if v.name == "clone")
        assert clone.invalid and clone.cow_used == clone.cow_size


@pytest.mark.parametrize(
    "selection",
    [
        Selection(domains=frozenset({"web", "cloner"})),
        Selection(volumes=frozenset({"root1", "disc.iso"}), paths=frozenset({"/dev/vg/shared"})),
        Selection(),
    ],
)
def test_what_a_selection_reads_is_what_the_whole_snapshot_has(
    full_host: SimHost, clock: VirtualClock, selection: Selection
) -> None:
    clock.advance(30)
    whole = full_host.snapshot()
    _token, part = full_host.snapshot_of(selection)
    for kind in ("domains", "partitions", "volume_groups", "logical_volumes", "images", "nfs_exports"):
        read = getattr(part, kind)
        assert read == tuple(value for value in getattr(whole, kind) if value in read), kind
    assert {d.name for d in part.domains} >= selection.domains | {"Domain-0", "net", "late"}
    assert part.host == whole.host  # the free memory too: an HVM guest's shadow memory is not free


# -- the plain reader ----------------------------------------------------------------------------


def plain_state(ctx: Ctx) -> HostState:
    db, now, rate = ctx.db, ctx.now, ctx.profile.guest_write_rate
    guests = db.execute("SELECT * FROM domains").fetchall()
    holders: dict[str, set[str]] = {}
    writers: dict[str, list[tuple[str, float, int, str]]] = {}
    for row in db.execute("SELECT k.*, d.* FROM disks k JOIN domains d USING (domid) ORDER BY k.rowid"):
        ran = timeline.run_time(row, now)
        holders.setdefault(row["target"], set()).add(row["name"])
        if row["mode"] != "r" and ran > row["attached_run"]:
            written = int(rate * (ran - row["attached_run"]))
            writers.setdefault(row["target"], []).append(
                (row["uuid"], row["attached_run"], written, row["next_digest"])
            )

    def digest(path: str, stored: str) -> str:
        pending = writers.get(path, [])
        if len(pending) == 1:
            return pending[0][3]
        for uuid, since, _written, _after in pending:
            stored = next_digest(stored, uuid, since)
        return stored

    def held(path: str) -> tuple[str, ...]:
        return tuple(sorted(holders.get(path, ())))

    def written(path: str) -> int:
        return sum(w for _uuid, _since, w, _after in writers.get(path, ()))

    def owner(row: sqlite3.Row) -> Owner | None:
        return Owner(row["managed_by"], row["source"] or "") if row["managed_by"] else None

    def plain_domain(row: sqlite3.Row) -> Domain:
        disks = tuple(
            DomainDisk(disk["target"], disk["vdev"], DiskMode(disk["mode"]), disk["backend"])
            for disk in db.execute("SELECT * FROM disks WHERE domid = ? ORDER BY rowid", (row["domid"],))
        )
        return Domain(
            domid=row["domid"],
            name=row["name"],
            uuid=row["uuid"],
            phase=timeline.phase_of(row, now),
            memory=row["memory"],
            target=row["target"],
            vcpus=row["vcpus"],
            cpu_time=timeline.cpu_time(row, now),
            config=plain_config(row, disks),
            owner=owner(row),
            created_at=row["created_at"],
            up_at=row["up_at"],
        )

    def natural(path: str) -> tuple[object, ...]:
        return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path))

    partitions = sorted(db.execute("SELECT * FROM partitions"), key=lambda row: natural(row["path"]))
    volumes = []
    for row in db.execute("SELECT * FROM lvs ORDER BY vg, name"):
        path = f"/dev/{row['vg']}/{row['name']}"
        now_digest = digest(path, row["digest"])
        cow_used, invalid = 0, bool(row["invalid"])
        if row["origin"]:
            cow_used = row["cow_base"] + written(path) + written(f"/dev/{row['vg']}/{row['origin']}")
            invalid = invalid or cow_used >= row["cow_size"]
        volumes.append(
            LogicalVolume(
                vg=row["vg"],
                name=row["name"],
                size=row["size"],
                filesystem=row["filesystem"],
                digest=now_digest,
                origin=row["origin"],
                cow_size=row["cow_size"],
                cow_used=min(cow_used, row["cow_size"]),
                invalid=invalid,
                owner=owner(row),
                holders=held(path),
                written=bool(row["written"]) or now_digest != row["digest"] or bool(row["origin"]),
            )
        )
    domains = [domain0(ctx), *map(plain_domain, guests)]
    state = HostState(
        host=host_info(ctx),  # the host's totals: shadow memory held by the hypervisor is not free
        domains=tuple(sorted(domains, key=lambda d: d.name)),
        partitions=tuple(
            Partition(
                path=row["path"],
                disk=row["disk"],
                size=row["size"],
                mounted=row["mounted"],
                mountpoint=row["mountpoint"],
                filesystem=row["filesystem"],
                digest=digest(row["path"], row["digest"]),
                vg=row["vg"],
                holders=held(row["path"]),
            )
            for row in partitions
        ),
        volume_groups=tuple(
            VolumeGroup(
                name=row["name"],
                pvs=tuple(p["path"] for p in partitions if p["vg"] == row["name"]),
                extent_size=row["extent_size"],
                size=row["extents"] * row["extent_size"],
                free=(row["extents"] - row["used"]) * row["extent_size"],
                owner=owner(row),
            )
            for row in db.execute("SELECT * FROM vgs ORDER BY name")
        ),
        logical_volumes=tuple(volumes),
        images=tuple(
            ImageFile(
                path=row["path"],
                size=row["size"],
                sparse=bool(row["sparse"]),
                filesystem=row["filesystem"],
                digest=digest(row["path"], row["digest"]),
                read_only=bool(row["read_only"]),
                owner=owner(row),
                holders=held(row["path"]),
                written=bool(row["written"]) or digest(row["path"], row["digest"]) != row["digest"],
            )
            for row in db.execute("SELECT * FROM images ORDER BY path")
        ),
        nfs_exports=tuple(
            NfsExport(
                server=row["server"],
                path=row["path"],
                digest=row["digest"],
                served_by_domain=bool(row["by_domain"]),
                owner=owner(row),
            )
            for row in db.execute("SELECT * FROM exports ORDER BY server, path")
        ),
    )
    return state


def plain_config(row: sqlite3.Row, disks: tuple[DomainDisk, ...]) -> DomainConfig:
    """The config a domain's row keeps (what differs from the defaults, its disks apart; its name
    and uuid the row's, unless the record names the config otherwise; its MACs in a column)."""
    record = {"name": row["name"], "uuid": row["uuid"], **json.loads(row["record"])}
    for vif, mac in zip(record.get("vifs", ()), json.loads(row["macs"] or "[]"), strict=True):
        vif["mac"] = mac  # each guest's own, kept beside its record
    data = {key: value for key, value in record.items() if value is not None}
    cdroms = data.pop("cdroms", [])
    vifs = [Vif(v.get("bridge") or "xenbr0", v.get("mac"), v.get("type"), v.get("model")) for v in data.pop("vifs", [])]
    hvm = data.pop("hvm", None)
    events = {key: OnEvent(data.pop(key)) for key in ("on_poweroff", "on_reboot", "on_crash") if key in data}
    return DomainConfig(
        **data,
        disks=tuple(replace(disk, cdrom=True) if disk.vdev in cdroms else disk for disk in disks),
        vifs=tuple(vifs),
        hvm=None if hvm is None else HvmConfig(**hvm),
        **events,
    )
