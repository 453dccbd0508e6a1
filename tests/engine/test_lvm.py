"""LVM on the simulated host: PVs on partitions, VGs in 4 MiB extents, LVs, and what is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers import disk, domain
from xenctl.engine.api import LogicalVolume, Owner, VolumeGroup
from xenctl.engine.sim import SimHost, VirtualClock, open_host
from xenctl.engine.sim.store import SCHEMA_VERSION
from xenctl.errors import NotFoundError, XenError
from xenctl.units import GIB, MIB

EXTENT = 4 * MIB
SDA10_EXTENTS = (40 * GIB - MIB) // EXTENT  # one MiB of PV metadata, then whole extents


def vg(host: SimHost, name: str = "vg") -> VolumeGroup:
    return next(v for v in host.snapshot().volume_groups if v.name == name)


def lv(host: SimHost, name: str, group: str = "vg") -> LogicalVolume:
    return next(v for v in host.snapshot().logical_volumes if (v.vg, v.name) == (group, name))


@pytest.fixture
def lvm_host(host: SimHost) -> SimHost:
    """The documented steps: pvcreate /dev/sda10; vgcreate vg /dev/sda10; lvcreate -L4096M -n gtesvmdisk1 vg."""
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "gtesvmdisk1", 4 * GIB)
    return host


def test_a_volume_group_on_sda10_has_its_size_in_whole_4m_extents(host: SimHost) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    group = vg(host)
    assert group.pvs == ("/dev/sda10",)
    assert group.extent_size == EXTENT
    assert group.size == 10239 * EXTENT  # (40G - 1M) // 4M
    assert group.free == group.size


def test_the_partition_of_a_volume_group_shows_as_its_physical_volume(host: SimHost) -> None:
    host.create_volume_group("vg", ("sda10",))
    sda10 = next(p for p in host.snapshot().partitions if p.path == "/dev/sda10")
    assert sda10.vg == "vg"


def test_a_volume_group_on_two_partitions_adds_up_their_extents(host: SimHost) -> None:
    host.create_volume_group("vg", ("/dev/sda10", "/dev/sda12"))
    assert vg(host).size == (SDA10_EXTENTS + (20 * GIB - MIB) // EXTENT) * EXTENT


def test_a_logical_volume_takes_its_extents_from_the_free_space(lvm_host: SimHost) -> None:
    volume = lv(lvm_host, "gtesvmdisk1")
    assert volume.size == 4 * GIB
    assert volume.path == "/dev/vg/gtesvmdisk1"
    assert vg(lvm_host).free == (SDA10_EXTENTS - 1024) * EXTENT


@pytest.mark.parametrize(
    ("asked", "got"), [(5 * MIB, 8 * MIB), (1, 4 * MIB), (4 * MIB, 4 * MIB), (4 * MIB + 1, 8 * MIB)]
)
def test_a_logical_volume_size_rounds_up_to_whole_extents(host: SimHost, asked: int, got: int) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "small", asked)
    assert lv(host, "small").size == got
    assert vg(host).free == SDA10_EXTENTS * EXTENT - got


def test_a_second_logical_volume_of_the_same_name_is_refused(lvm_host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        lvm_host.create_logical_volume("vg", "gtesvmdisk1", GIB)
    assert str(caught.value) == 'Logical volume "gtesvmdisk1" already exists in volume group "vg"'
    assert lv(lvm_host, "gtesvmdisk1").size == 4 * GIB
    assert vg(lvm_host).free == (SDA10_EXTENTS - 1024) * EXTENT


def test_a_logical_volume_larger_than_the_free_space_is_refused_with_the_numbers(lvm_host: SimHost) -> None:
    free = SDA10_EXTENTS - 1024
    with pytest.raises(XenError) as caught:
        lvm_host.create_logical_volume("vg", "big", 40 * GIB)
    assert str(caught.value) == f'Volume group "vg" has insufficient free space ({free} extents): 10240 required.'
    assert [v.name for v in lvm_host.snapshot().logical_volumes] == ["gtesvmdisk1"]


def test_a_logical_volume_exactly_the_free_space_fits(lvm_host: SimHost) -> None:
    lvm_host.create_logical_volume("vg", "rest", (SDA10_EXTENTS - 1024) * EXTENT)
    assert vg(lvm_host).free == 0
    with pytest.raises(XenError, match=r"insufficient free space \(0 extents\): 1 required"):
        lvm_host.create_logical_volume("vg", "more", MIB)


def test_a_logical_volume_in_a_missing_volume_group_is_not_found(host: SimHost) -> None:
    with pytest.raises(NotFoundError, match='Volume group "vg" not found'):
        host.create_logical_volume("vg", "gtesvmdisk1", GIB)


def test_pvcreate_on_a_partition_domain0_mounts_is_refused(host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        host.create_volume_group("vg", ("/dev/hda1",))
    assert str(caught.value) == "Can't open /dev/hda1 exclusively.  Mounted filesystem?"
    assert host.snapshot().volume_groups == ()


def test_pvcreate_on_a_partition_a_guest_holds_is_refused(host: SimHost) -> None:
    host.create_domain(domain("web", disks=[("sda10", "sda1", "w")]))
    with pytest.raises(XenError, match=r"Can't open /dev/sda10 exclusively\.  Mounted filesystem\?"):
        host.create_volume_group("vg", ("/dev/sda10",))
    assert host.snapshot().volume_groups == ()


def test_a_partition_already_in_a_volume_group_cannot_join_another(host: SimHost) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    with pytest.raises(XenError) as caught:
        host.create_volume_group("vg2", ("/dev/sda12", "/dev/sda10"))
    assert str(caught.value) == "Physical volume '/dev/sda10' is already in volume group 'vg'"
    state = host.snapshot()
    assert [g.name for g in state.volume_groups] == ["vg"]
    assert next(p.vg for p in state.partitions if p.path == "/dev/sda12") is None


def test_pvcreate_on_a_missing_device_is_not_found(host: SimHost) -> None:
    with pytest.raises(NotFoundError) as caught:
        host.create_volume_group("vg", ("/dev/sdz9",))
    assert str(caught.value) == "Device /dev/sdz9 not found (or ignored by filtering)."


def test_a_second_volume_group_of_the_same_name_is_refused(host: SimHost) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    with pytest.raises(XenError, match="A volume group called vg already exists"):
        host.create_volume_group("vg", ("/dev/sda12",))


def test_a_volume_group_with_logical_volumes_cannot_be_removed(lvm_host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        lvm_host.remove_volume_group("vg")
    assert str(caught.value) == 'Volume group "vg" still contains 1 logical volume(s)'
    assert [g.name for g in lvm_host.snapshot().volume_groups] == ["vg"]


def test_an_empty_volume_group_can_be_removed_and_its_partition_reused(lvm_host: SimHost) -> None:
    lvm_host.remove_logical_volume("vg", "gtesvmdisk1")
    lvm_host.remove_volume_group("vg")
    state = lvm_host.snapshot()
    assert state.volume_groups == ()
    assert next(p.vg for p in state.partitions if p.path == "/dev/sda10") is None
    lvm_host.create_volume_group("vg2", ("/dev/sda10",))
    assert vg(lvm_host, "vg2").size == SDA10_EXTENTS * EXTENT


def test_a_logical_volume_can_grow(lvm_host: SimHost) -> None:
    lvm_host.grow_logical_volume("vg", "gtesvmdisk1", 6 * GIB)
    assert lv(lvm_host, "gtesvmdisk1").size == 6 * GIB
    assert vg(lvm_host).free == (SDA10_EXTENTS - 1536) * EXTENT


def test_a_logical_volume_cannot_shrink(lvm_host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        lvm_host.grow_logical_volume("vg", "gtesvmdisk1", 2 * GIB)
    assert str(caught.value) == "New size given (512 extents) not larger than existing size (1024 extents)"
    assert lv(lvm_host, "gtesvmdisk1").size == 4 * GIB


def test_growing_a_logical_volume_to_its_own_size_is_refused(lvm_host: SimHost) -> None:
    with pytest.raises(XenError, match="not larger than existing size"):
        lvm_host.grow_logical_volume("vg", "gtesvmdisk1", 4 * GIB)


def test_growing_beyond_the_free_space_is_refused(lvm_host: SimHost) -> None:
    with pytest.raises(XenError, match=r'Volume group "vg" has insufficient free space \(9215 extents\)'):
        lvm_host.grow_logical_volume("vg", "gtesvmdisk1", 100 * GIB)
    assert lv(lvm_host, "gtesvmdisk1").size == 4 * GIB


def test_a_logical_volume_a_domain_uses_cannot_be_removed_until_the_domain_is_gone(lvm_host: SimHost) -> None:
    lvm_host.create_domain(domain("web", disks=[("vg/gtesvmdisk1", "sda1", "w")]))
    with pytest.raises(XenError) as caught:
        lvm_host.remove_logical_volume("vg", "gtesvmdisk1")
    assert str(caught.value) == 'Can\'t remove open logical volume "gtesvmdisk1"'
    assert lv(lvm_host, "gtesvmdisk1").holders == ("web",)
    lvm_host.destroy_domain("web")
    lvm_host.remove_logical_volume("vg", "gtesvmdisk1")
    assert lvm_host.snapshot().logical_volumes == ()
    assert vg(lvm_host).free == SDA10_EXTENTS * EXTENT


def test_a_logical_volume_held_read_only_cannot_be_removed_either(lvm_host: SimHost) -> None:
    lvm_host.create_domain(domain("web", disks=[("vg/gtesvmdisk1", "sda1", "r")]))
    with pytest.raises(XenError, match="Can't remove open logical volume"):
        lvm_host.remove_logical_volume("vg", "gtesvmdisk1")


def test_an_origin_with_snapshots_cannot_be_removed_until_they_are(lvm_host: SimHost) -> None:
    lvm_host.create_snapshot("vg", "clone", "gtesvmdisk1", 512 * MIB)
    with pytest.raises(XenError, match=r"has snapshots \(clone\)"):
        lvm_host.remove_logical_volume("vg", "gtesvmdisk1")
    assert [v.name for v in lvm_host.snapshot().logical_volumes] == ["clone", "gtesvmdisk1"]
    lvm_host.remove_logical_volume("vg", "clone")
    lvm_host.remove_logical_volume("vg", "gtesvmdisk1")
    assert lvm_host.snapshot().logical_volumes == ()


def test_a_snapshot_takes_only_its_cow_space_from_the_volume_group(lvm_host: SimHost) -> None:
    lvm_host.create_snapshot("vg", "clone", "gtesvmdisk1", 512 * MIB)
    clone = lv(lvm_host, "clone")
    assert (clone.origin, clone.size, clone.cow_size, clone.cow_used) == ("gtesvmdisk1", 4 * GIB, 512 * MIB, 0)
    assert vg(lvm_host).free == (SDA10_EXTENTS - 1024 - 128) * EXTENT


def test_removing_a_missing_logical_volume_is_not_found(lvm_host: SimHost) -> None:
    with pytest.raises(NotFoundError, match='Logical volume "nothere" not found in volume group "vg"'):
        lvm_host.remove_logical_volume("vg", "nothere")


def test_a_domain_can_boot_from_phy_vg_slash_lv(lvm_host: SimHost) -> None:
    created = lvm_host.create_domain(domain("gtes11vm", disks=[disk("vg/gtesvmdisk1", "sda1", "w")]))
    assert created.config.disks[0].target == "/dev/vg/gtesvmdisk1"
    assert lv(lvm_host, "gtesvmdisk1").holders == ("gtes11vm",)


def test_a_logical_volume_is_shared_by_the_same_rules_as_a_partition(lvm_host: SimHost) -> None:
    lvm_host.create_domain(domain("first", disks=[("vg/gtesvmdisk1", "sda1", "w")]))
    with pytest.raises(XenError) as caught:
        lvm_host.create_domain(domain("second", disks=[("/dev/vg/gtesvmdisk1", "sda1", "w")]))
    assert str(caught.value) == (
        "Device 2049 (vbd) could not be connected.\n"
        "Device /dev/vg/gtesvmdisk1 is mounted in a guest domain,\nand so cannot be mounted now."
    )


def test_a_phy_disk_on_a_missing_logical_volume_does_not_exist(lvm_host: SimHost) -> None:
    with pytest.raises(XenError, match=r"/dev/vg/nothere does not exist\."):
        lvm_host.create_domain(domain("web", disks=[("vg/nothere", "sda1", "w")]))


def test_a_format_for_blank_volumes_only_is_refused_once_anything_was_written(host: SimHost) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "blank", 64 * MIB)
    host.create_logical_volume("vg", "used", 64 * MIB)
    host.format_volume("/dev/vg/used", "ext3")
    host.populate_volume("/dev/vg/used", "a guest's files")
    host.format_volume("/dev/vg/blank", "ext3", blank_only=True)  # nothing on it: fine
    host.populate_volume("/dev/vg/blank", "root filesystem", blank_only=True)
    before = {lv.name: lv.digest for lv in host.snapshot().logical_volumes}
    for call in (
        lambda: host.format_volume("/dev/vg/used", "ext3", blank_only=True),
        lambda: host.populate_volume("/dev/vg/blank", "root filesystem", blank_only=True),
    ):
        with pytest.raises(XenError, match="has been written to since the plan was made"):
            call()
    assert {lv.name: lv.digest for lv in host.snapshot().logical_volumes} == before


def test_a_host_file_whose_volumes_are_in_rowid_order_is_rebuilt_in_key_order(tmp_path: Path) -> None:
    """Schema 7 keeps the volumes in (vg, name) order, the order a snapshot reads them in: a file
    of schema 6 is rebuilt in place with the same volumes, the same VG space used, and triggers
    that still count space and journal each change."""
    home = str(tmp_path / "old")
    clock = VirtualClock()
    with open_host(home, clock=clock) as host:
        host.create_volume_group("vg", ("/dev/sda10",))
        host.create_logical_volume("vg", "web", 4 * GIB, owner=Owner("xenctl", "site.yaml"))
        host.create_logical_volume("vg", "app", GIB)
        host.create_snapshot("vg", "web-snap", "web", 64 * MIB)
        host.create_domain(domain("web", disks=[("/dev/vg/web", "sda1")]))
        before = host.snapshot()
    with sqlite3.connect(tmp_path / "old" / "host.db") as db:  # as schema 6 had it: a rowid table
        triggers = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'lvs'").fetchall()
        table = db.execute("SELECT sql FROM sqlite_master WHERE name = 'lvs'").fetchone()[0]
        db.execute("ALTER TABLE lvs RENAME TO lvs_new")
        db.execute(table.replace(" WITHOUT ROWID", ""))
        db.execute("INSERT INTO lvs SELECT * FROM lvs_new ORDER BY name DESC")
        db.execute("DROP TABLE lvs_new")
        for (sql,) in triggers:
            db.execute(sql)
        db.execute("CREATE INDEX lvs_snapshots ON lvs(origin) WHERE origin IS NOT NULL")
        db.execute("PRAGMA user_version=6")
    with open_host(home, clock=clock) as host:
        assert host.snapshot() == before
        token = host.change_token()
        assert token is not None
        host.create_logical_volume("vg", "db", GIB)
        assert vg(host).free == next(v for v in before.volume_groups if v.name == "vg").free - GIB
        assert host.changed_domains(token) is None  # storage changed: the journal saw it
        host.remove_logical_volume("vg", "db")
        assert host.snapshot().volume_groups == before.volume_groups
    with sqlite3.connect(tmp_path / "old" / "host.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lvs_snapshots'").fetchone()  # made again
        assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'lvs'").fetchone()[0]
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'lvs_rowid'").fetchone() is None
