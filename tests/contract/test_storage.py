"""Storage through the driver: volume groups, logical volumes and their snapshots, image files,
formatting; each seen in the next snapshot with its size and owner, and never shrunk."""

from __future__ import annotations

import pytest

from tests.contract.drivers import Subject
from tests.contract.support import GIB, MIB, OURS, booted, image_at, lv_named
from xenctl.engine.api import DiskMode, DomainDisk, Owner
from xenctl.errors import EngineError, NotFoundError

VG = "vgcontract"


def with_group(subject: Subject, owner: Owner | None = OURS) -> None:
    subject.can("volume_groups")
    subject.driver.create_volume_group(VG, subject.case.pvs, owner=owner)


def with_volume(subject: Subject, name: str = "data", size: int = GIB, owner: Owner | None = OURS) -> None:
    with_group(subject)
    subject.can("logical_volumes")
    subject.driver.create_logical_volume(VG, name, size, owner=owner)


# -- volume groups ------------------------------------------------------------------------------


def test_a_volume_group_is_seen_on_its_pvs_with_its_owner(subject: Subject) -> None:
    with_group(subject)
    state = subject.driver.snapshot()
    group = next(g for g in state.volume_groups if g.name == VG)
    assert set(group.pvs) == set(subject.case.pvs)
    pv_total = sum(p.size for p in state.partitions if p.path in subject.case.pvs)
    assert 0 < group.size <= pv_total
    assert group.free == group.size
    assert group.owner == OURS
    assert {p.path for p in state.partitions if p.vg == VG} == set(subject.case.pvs)


def test_a_volume_group_is_removed_and_its_pvs_are_free_again(subject: Subject) -> None:
    with_group(subject)
    subject.driver.remove_volume_group(VG)
    state = subject.driver.snapshot()
    assert [g.name for g in state.volume_groups] == []
    assert [p.path for p in state.partitions if p.vg is not None] == []


def test_a_volume_group_that_holds_volumes_is_not_removed(subject: Subject) -> None:
    with_volume(subject)
    with pytest.raises(EngineError, match=VG):
        subject.driver.remove_volume_group(VG)
    assert [g.name for g in subject.driver.snapshot().volume_groups] == [VG]


# -- logical volumes --------------------------------------------------------------------------


def test_a_logical_volume_is_seen_with_its_size_path_and_owner(subject: Subject) -> None:
    with_volume(subject, size=GIB)
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None
    assert (lv.path, lv.size, lv.owner, lv.origin) == (f"/dev/{VG}/data", GIB, OURS, None)
    group = next(g for g in subject.driver.snapshot().volume_groups if g.name == VG)
    assert group.free == group.size - GIB


def test_a_logical_volume_size_rounds_up_to_the_extent_the_driver_reports(subject: Subject) -> None:
    with_volume(subject, size=GIB + 1)
    extent = subject.capabilities.extent_size
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None
    assert lv.size == -(-(GIB + 1) // extent) * extent


def test_a_hand_made_logical_volume_has_no_owner_until_marked(subject: Subject) -> None:
    with_volume(subject, owner=None)
    path = f"/dev/{VG}/data"
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and lv.owner is None
    subject.driver.set_volume_owner(path, OURS)
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and lv.owner == OURS


def test_a_logical_volume_grows(subject: Subject) -> None:
    subject.can("grow:lvm")
    with_volume(subject, size=GIB)
    subject.driver.grow_logical_volume(VG, "data", 2 * GIB)
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and lv.size == 2 * GIB


@pytest.mark.parametrize("size", [GIB // 2, GIB])
def test_a_logical_volume_does_not_grow_to_a_size_it_already_has(subject: Subject, size: int) -> None:
    subject.can("grow:lvm")
    with_volume(subject, size=GIB)
    with pytest.raises(EngineError):
        subject.driver.grow_logical_volume(VG, "data", size)
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and lv.size == GIB


def test_a_logical_volume_is_removed(subject: Subject) -> None:
    with_volume(subject)
    subject.driver.remove_logical_volume(VG, "data")
    assert lv_named(subject.driver.snapshot(), VG, "data") is None
    with pytest.raises(NotFoundError, match="data"):
        subject.driver.remove_logical_volume(VG, "data")


def test_a_logical_volume_a_guest_holds_is_not_removed(subject: Subject) -> None:
    with_volume(subject)
    booted(subject, disks=(DomainDisk(f"/dev/{VG}/data", "sda1", DiskMode.WRITE, "phy"),))
    with pytest.raises(EngineError, match="data"):
        subject.driver.remove_logical_volume(VG, "data")
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and lv.holders == ("web1",)


# -- snapshots ------------------------------------------------------------------------------


def test_a_snapshot_is_seen_with_its_origin_cow_size_and_owner(subject: Subject) -> None:
    subject.can("snapshots")
    with_volume(subject, size=GIB)
    subject.driver.create_snapshot(VG, "data-snap", "data", 256 * MIB, owner=OURS)
    snap = lv_named(subject.driver.snapshot(), VG, "data-snap")
    assert snap is not None
    assert (snap.origin, snap.cow_size, snap.size, snap.owner) == ("data", 256 * MIB, GIB, OURS)
    assert snap.is_snapshot and not snap.invalid


def test_a_snapshot_of_a_missing_origin_is_not_found(subject: Subject) -> None:
    subject.can("snapshots")
    with_volume(subject)
    with pytest.raises(NotFoundError, match="nosuchvolume"):
        subject.driver.create_snapshot(VG, "snap", "nosuchvolume", 256 * MIB)
    assert lv_named(subject.driver.snapshot(), VG, "snap") is None


def test_an_origin_with_snapshots_is_not_removed(subject: Subject) -> None:
    subject.can("snapshots")
    with_volume(subject)
    subject.driver.create_snapshot(VG, "data-snap", "data", 256 * MIB)
    with pytest.raises(EngineError, match="data-snap"):
        subject.driver.remove_logical_volume(VG, "data")
    subject.driver.remove_logical_volume(VG, "data-snap")
    subject.driver.remove_logical_volume(VG, "data")
    assert subject.driver.snapshot().logical_volumes == ()


# -- image files ----------------------------------------------------------------------------


def test_an_image_file_is_seen_under_the_storage_root_with_its_size_and_owner(subject: Subject) -> None:
    subject.can("images")
    path = subject.driver.create_image("contract.img", GIB, sparse=True, owner=OURS)
    state = subject.driver.snapshot()
    assert path.startswith(state.host.storage_root + "/")
    image = image_at(state, path)
    assert image is not None
    assert (image.size, image.sparse, image.owner, image.filesystem) == (GIB, True, OURS, None)


def test_a_hand_made_image_file_has_no_owner(subject: Subject) -> None:
    subject.can("images")
    path = subject.driver.create_image("handmade.img", GIB)
    image = image_at(subject.driver.snapshot(), path)
    assert image is not None and image.owner is None


def test_an_image_file_grows(subject: Subject) -> None:
    subject.can("grow:file")
    subject.can("images")
    path = subject.driver.create_image("contract.img", GIB)
    subject.driver.grow_image(path, 2 * GIB)
    image = image_at(subject.driver.snapshot(), path)
    assert image is not None and image.size == 2 * GIB


def test_an_image_file_does_not_grow_to_a_smaller_size(subject: Subject) -> None:
    subject.can("grow:file")
    subject.can("images")
    path = subject.driver.create_image("contract.img", GIB)
    with pytest.raises(EngineError):
        subject.driver.grow_image(path, GIB // 2)
    image = image_at(subject.driver.snapshot(), path)
    assert image is not None and image.size == GIB


def test_an_image_file_is_removed(subject: Subject) -> None:
    subject.can("images")
    path = subject.driver.create_image("contract.img", GIB)
    subject.driver.remove_image(path)
    assert subject.driver.snapshot().images == ()
    with pytest.raises(NotFoundError):
        subject.driver.remove_image(path)


def test_an_image_file_that_exists_is_not_made_again(subject: Subject) -> None:
    subject.can("images")
    path = subject.driver.create_image("contract.img", GIB, owner=OURS)
    with pytest.raises(EngineError, match=r"contract\.img"):
        subject.driver.create_image("contract.img", 2 * GIB)
    image = image_at(subject.driver.snapshot(), path)
    assert image is not None and (image.size, image.owner) == (GIB, OURS)


# -- formatting -----------------------------------------------------------------------------


def test_a_formatted_logical_volume_shows_its_filesystem(subject: Subject) -> None:
    subject.can("filesystems")
    with_volume(subject)
    subject.driver.format_volume(f"/dev/{VG}/data", "ext3")
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and lv.filesystem == "ext3"


def test_a_formatted_image_file_shows_its_filesystem(subject: Subject) -> None:
    subject.can("filesystems")
    subject.can("images")
    path = subject.driver.create_image("contract.img", GIB)
    subject.driver.format_volume(path, "ext3")
    image = image_at(subject.driver.snapshot(), path)
    assert image is not None and image.filesystem == "ext3"


def test_formatting_what_is_not_there_is_not_found(subject: Subject) -> None:
    with pytest.raises(NotFoundError, match="nosuchvolume"):
        subject.driver.format_volume(f"/dev/{VG}/nosuchvolume", "ext3")


def test_a_blank_only_format_of_a_written_volume_is_refused(subject: Subject) -> None:
    subject.can("filesystems")
    with_volume(subject)
    path = f"/dev/{VG}/data"
    subject.driver.format_volume(path, "ext3")
    subject.driver.populate_volume(path, "debian-etch root filesystem")
    with pytest.raises(EngineError):
        subject.driver.format_volume(path, "xfs", blank_only=True)
    lv = lv_named(subject.driver.snapshot(), VG, "data")
    assert lv is not None and (lv.filesystem, lv.written) == ("ext3", True)
