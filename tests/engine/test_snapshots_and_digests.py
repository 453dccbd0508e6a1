"""Copy-on-write snapshots and content digests: what changes a volume's content, and what does not."""

from __future__ import annotations

import pytest

from tests.helpers import disk, domain
from xenctl.engine.api import LogicalVolume, Phase
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import XenError
from xenctl.units import GIB, MIB

ORIGIN = "/dev/vg/gtesvmdisk1"
CLONE = "/dev/vg/clone"
COW = 512 * MIB
RATE = MIB  # the default profile's guest_write_rate, bytes a second


def lv(host: SimHost, name: str) -> LogicalVolume:
    return next(v for v in host.snapshot().logical_volumes if v.name == name)


def digest(host: SimHost, path: str) -> str:
    state = host.snapshot()
    volumes = [*state.partitions, *state.images]
    found = [v.digest for v in volumes if v.path == path]
    found += [v.digest for v in state.logical_volumes if v.path == path]
    assert len(found) == 1, path
    return found[0]


@pytest.fixture
def lvm_host(host: SimHost) -> SimHost:
    """vg on /dev/sda10 with gtesvmdisk1 (4G, ext3, a root filesystem copied in)."""
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "gtesvmdisk1", 4 * GIB)
    host.format_volume(ORIGIN, "ext3")
    host.populate_volume(ORIGIN, "Domain-0:/")
    return host


@pytest.fixture
def clone_host(lvm_host: SimHost) -> SimHost:
    lvm_host.create_snapshot("vg", "clone", "gtesvmdisk1", COW)
    return lvm_host


# -- snapshots ---------------------------------------------------------------------------------


def test_a_snapshot_starts_with_its_origin_content(clone_host: SimHost) -> None:
    origin, clone = lv(clone_host, "gtesvmdisk1"), lv(clone_host, "clone")
    assert clone.digest == origin.digest
    assert clone.filesystem == origin.filesystem == "ext3"
    assert (clone.cow_used, clone.invalid) == (0, False)


def test_a_guest_writing_to_a_snapshot_uses_its_cow_space_at_the_write_rate(
    clone_host: SimHost, clock: VirtualClock
) -> None:
    original = lv(clone_host, "gtesvmdisk1").digest
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    clock.advance(100)
    clone = lv(clone_host, "clone")
    assert clone.cow_used == 100 * RATE
    assert not clone.invalid
    assert clone.digest != original
    assert lv(clone_host, "gtesvmdisk1").digest == original  # writing the clone leaves the origin alone
    clock.advance(100)
    assert lv(clone_host, "clone").cow_used == 200 * RATE


def test_a_snapshot_whose_cow_space_fills_becomes_invalid(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    clock.advance(COW // RATE - 1)
    assert not lv(clone_host, "clone").invalid
    clock.advance(2)
    clone = lv(clone_host, "clone")
    assert clone.invalid
    assert clone.cow_used == clone.cow_size


def test_a_snapshot_stays_invalid_after_its_writer_is_destroyed(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    clock.advance(600)
    clone_host.destroy_domain("web")
    clock.advance(10)
    assert lv(clone_host, "clone").invalid


def test_cow_space_used_before_a_destroy_is_kept(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    clock.advance(100)
    clone_host.destroy_domain("web")
    clock.advance(100)
    assert lv(clone_host, "clone").cow_used == 100 * RATE


def test_growing_a_snapshot_gives_its_writer_more_room(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    clock.advance(400)
    clone_host.grow_logical_volume("vg", "clone", 1 * GIB)
    clock.advance(200)
    clone = lv(clone_host, "clone")
    assert clone.cow_size == 1 * GIB
    assert not clone.invalid
    assert clone.cow_used == pytest.approx(600 * RATE, abs=RATE)


def test_an_invalid_snapshot_stays_invalid_when_its_cow_space_grows(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    clock.advance(600)
    clone_host.destroy_domain("web")
    clone_host.grow_logical_volume("vg", "clone", 2 * GIB)
    assert lv(clone_host, "clone").invalid


def test_a_paused_guest_uses_no_cow_space(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]), paused=True)
    clock.advance(1000)
    clone = lv(clone_host, "clone")
    assert (clone.cow_used, clone.invalid) == (0, False)


def test_a_guest_reading_a_snapshot_uses_no_cow_space(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "r")]))
    clock.advance(1000)
    assert lv(clone_host, "clone").cow_used == 0


@pytest.fixture
def invalid_clone_host(clone_host: SimHost, clock: VirtualClock) -> SimHost:
    clone_host.create_domain(domain("filler", disks=[(CLONE, "sda1", "w")]))
    clock.advance(600)
    clone_host.destroy_domain("filler")
    assert lv(clone_host, "clone").invalid
    return clone_host


def test_an_invalid_snapshot_cannot_be_given_to_a_new_domain(invalid_clone_host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        invalid_clone_host.create_domain(domain("web", disks=[(CLONE, "sda1", "w")]))
    message = str(caught.value)
    assert message.startswith("Device 2049 (vbd) could not be connected.\n")
    assert "is invalid" in message
    assert invalid_clone_host.snapshot().domain("web") is None


def test_an_invalid_snapshot_cannot_be_attached(invalid_clone_host: SimHost) -> None:
    invalid_clone_host.create_domain(domain("web", disks=[("hda3", "sda1", "w")]))
    with pytest.raises(XenError, match="is invalid"):
        invalid_clone_host.attach_disk("web", disk(CLONE, "sda2", "r"))
    assert lv(invalid_clone_host, "clone").holders == ()


def test_an_invalid_snapshot_cannot_be_formatted(invalid_clone_host: SimHost) -> None:
    before = lv(invalid_clone_host, "clone")
    with pytest.raises(XenError, match="invalid"):
        invalid_clone_host.format_volume(CLONE, "ext3")
    after = lv(invalid_clone_host, "clone")
    assert (after.digest, after.invalid) == (before.digest, True)


def test_an_invalid_snapshot_can_still_be_removed(invalid_clone_host: SimHost) -> None:
    invalid_clone_host.remove_logical_volume("vg", "clone")
    assert [v.name for v in invalid_clone_host.snapshot().logical_volumes] == ["gtesvmdisk1"]


def test_writes_to_the_origin_use_the_snapshot_cow_space_and_leave_its_content(
    clone_host: SimHost, clock: VirtualClock
) -> None:
    frozen = lv(clone_host, "clone").digest
    clone_host.create_domain(domain("web", disks=[(ORIGIN, "sda1", "w")]))
    clock.advance(100)
    origin, clone = lv(clone_host, "gtesvmdisk1"), lv(clone_host, "clone")
    assert clone.cow_used == 100 * RATE
    assert clone.digest == frozen
    assert origin.digest != frozen


def test_writes_to_the_origin_can_fill_the_snapshot(clone_host: SimHost, clock: VirtualClock) -> None:
    clone_host.create_domain(domain("web", disks=[(ORIGIN, "sda1", "w")]))
    clock.advance(600)
    assert lv(clone_host, "clone").invalid
    assert not lv(clone_host, "gtesvmdisk1").invalid


def test_a_snapshot_of_a_volume_being_written_captures_what_was_written_so_far(
    lvm_host: SimHost, clock: VirtualClock
) -> None:
    lvm_host.create_domain(domain("web", disks=[(ORIGIN, "sda1", "w")]))
    clock.advance(30)
    now = digest(lvm_host, ORIGIN)
    taken = clock.now()
    lvm_host.create_snapshot("vg", "clone", "gtesvmdisk1", COW)
    clone = lv(lvm_host, "clone")
    assert clone.digest == now
    # Only what the guest wrote after the snapshot was taken (while lvcreate ran) is in its COW space.
    assert clone.cow_used == int((clock.now() - taken) * RATE) < 30 * RATE


# -- content digests -----------------------------------------------------------------------------


@pytest.fixture(params=["lv", "image", "partition"])
def volume(request: pytest.FixtureRequest, lvm_host: SimHost) -> str:
    """One volume of each kind a guest can write to."""
    if request.param == "lv":
        return ORIGIN
    if request.param == "image":
        path = lvm_host.create_image("gtes11vm.img", 2 * GIB)
        lvm_host.format_volume(path, "ext3")
        return path
    return "/dev/hda3"


def backend(path: str) -> str:
    return "file" if path.endswith(".img") else "phy"


def test_a_volume_no_guest_holds_keeps_its_digest(lvm_host: SimHost, clock: VirtualClock, volume: str) -> None:
    before = digest(lvm_host, volume)
    clock.advance(1000)
    assert digest(lvm_host, volume) == before


def test_a_volume_held_read_only_keeps_its_digest(lvm_host: SimHost, clock: VirtualClock, volume: str) -> None:
    before = digest(lvm_host, volume)
    lvm_host.create_domain(domain("web", disks=[(volume, "sda1", "r", backend(volume))]))
    clock.advance(1000)
    assert digest(lvm_host, volume) == before
    lvm_host.destroy_domain("web")
    assert digest(lvm_host, volume) == before


def test_a_volume_of_a_paused_guest_keeps_its_digest(lvm_host: SimHost, clock: VirtualClock, volume: str) -> None:
    before = digest(lvm_host, volume)
    lvm_host.create_domain(domain("web", disks=[(volume, "sda1", "w", backend(volume))]), paused=True)
    assert digest(lvm_host, volume) == before
    clock.advance(1000)
    assert lvm_host.domain("web").phase is Phase.PAUSED
    assert digest(lvm_host, volume) == before


def test_a_volume_a_running_guest_writes_changes_its_digest(
    lvm_host: SimHost, clock: VirtualClock, volume: str
) -> None:
    before = digest(lvm_host, volume)
    lvm_host.create_domain(domain("web", disks=[(volume, "sda1", "w", backend(volume))]))
    clock.advance(30)
    assert digest(lvm_host, volume) != before


def test_a_written_volume_keeps_its_digest_once_the_guest_is_destroyed(
    lvm_host: SimHost, clock: VirtualClock, volume: str
) -> None:
    before = digest(lvm_host, volume)
    lvm_host.create_domain(domain("web", disks=[(volume, "sda1", "w", backend(volume))]))
    clock.advance(30)
    last_seen = digest(lvm_host, volume)
    lvm_host.destroy_domain("web")
    after = digest(lvm_host, volume)
    assert after == last_seen != before
    clock.advance(1000)
    assert digest(lvm_host, volume) == after


@pytest.mark.parametrize("first_to_go", ["first", "second"])
def test_a_volume_two_guests_write_with_w_bang_keeps_the_digest_a_reader_saw_when_one_goes(
    host: SimHost, clock: VirtualClock, first_to_go: str
) -> None:
    before = digest(host, "/dev/hda3")
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w!")]))
    clock.advance(5)
    host.create_domain(domain("second", disks=[("hda3", "sda1", "w!")]))
    clock.advance(10)
    seen = digest(host, "/dev/hda3")
    assert seen != before
    host.destroy_domain(first_to_go)  # no time passes: nothing more is written
    assert digest(host, "/dev/hda3") == seen
    host.destroy_domain("second" if first_to_go == "first" else "first")
    assert digest(host, "/dev/hda3") == seen


def test_a_guest_that_ran_changes_the_digest_after_an_unpause(lvm_host: SimHost, clock: VirtualClock) -> None:
    before = digest(lvm_host, ORIGIN)
    lvm_host.create_domain(domain("web", disks=[(ORIGIN, "sda1", "w")]), paused=True)
    clock.advance(100)
    lvm_host.unpause_domain("web")
    clock.advance(10)
    assert digest(lvm_host, ORIGIN) != before


# -- format and populate ---------------------------------------------------------------------------


def test_format_sets_the_filesystem_changes_the_digest_and_takes_mkfs_time(host: SimHost, clock: VirtualClock) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "gtesvmdisk1", 4 * GIB)
    fresh = lv(host, "gtesvmdisk1")
    assert fresh.filesystem is None
    start = clock.now()
    host.format_volume(ORIGIN, "ext3")
    formatted = lv(host, "gtesvmdisk1")
    assert formatted.filesystem == "ext3"
    assert formatted.digest != fresh.digest
    assert clock.now() - start == pytest.approx(2.0)


def test_format_works_on_images_and_free_partitions(host: SimHost) -> None:
    image = host.create_image("gtes11vm.img", 2 * GIB)
    before = {path: digest(host, path) for path in (image, "/dev/hda3")}
    host.format_volume(image, "ext3")
    host.format_volume("/dev/hda3", "xfs")
    state = host.snapshot()
    assert state.images[0].filesystem == "ext3"
    assert next(p.filesystem for p in state.partitions if p.path == "/dev/hda3") == "xfs"
    assert digest(host, image) != before[image]
    assert digest(host, "/dev/hda3") != before["/dev/hda3"]


def test_populate_changes_the_digest_and_keeps_the_filesystem(lvm_host: SimHost) -> None:
    before = lv(lvm_host, "gtesvmdisk1")
    lvm_host.populate_volume(ORIGIN, "/srv/debian-etch")
    after = lv(lvm_host, "gtesvmdisk1")
    assert after.digest != before.digest
    assert after.filesystem == "ext3"


def test_populate_is_refused_on_an_unformatted_volume(host: SimHost) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "gtesvmdisk1", 4 * GIB)
    before = lv(host, "gtesvmdisk1").digest
    with pytest.raises(XenError, match="format it first"):
        host.populate_volume(ORIGIN, "Domain-0:/")
    assert lv(host, "gtesvmdisk1").digest == before


@pytest.mark.parametrize("mode", ["w", "r"])
def test_format_and_populate_are_refused_on_a_volume_a_domain_uses(lvm_host: SimHost, mode: str) -> None:
    lvm_host.create_domain(domain("web", disks=[(ORIGIN, "sda1", mode)]))
    before = digest(lvm_host, ORIGIN)
    with pytest.raises(XenError, match="is apparently in use by the system"):
        lvm_host.format_volume(ORIGIN, "ext3")
    with pytest.raises(XenError, match="is apparently in use by the system"):
        lvm_host.populate_volume(ORIGIN, "Domain-0:/")
    assert digest(lvm_host, ORIGIN) == before


@pytest.mark.parametrize("path", ["/dev/hda1", "/dev/sda5"])
def test_format_and_populate_are_refused_on_a_partition_domain0_mounts(host: SimHost, path: str) -> None:
    before = digest(host, path)
    with pytest.raises(XenError, match="is apparently in use by the system"):
        host.format_volume(path, "ext3")
    with pytest.raises(XenError, match="is apparently in use by the system"):
        host.populate_volume(path, "Domain-0:/")
    assert digest(host, path) == before


def test_format_and_populate_are_refused_on_a_physical_volume(lvm_host: SimHost) -> None:
    before = digest(lvm_host, "/dev/sda10")
    with pytest.raises(XenError, match="physical volume of volume group vg"):
        lvm_host.format_volume("/dev/sda10", "ext3")
    with pytest.raises(XenError, match="physical volume of volume group vg"):
        lvm_host.populate_volume("/dev/sda10", "Domain-0:/")
    assert digest(lvm_host, "/dev/sda10") == before
    assert lv(lvm_host, "gtesvmdisk1").filesystem == "ext3"


def test_a_volume_freed_by_its_domain_can_be_formatted_again(lvm_host: SimHost) -> None:
    lvm_host.create_domain(domain("web", disks=[(ORIGIN, "sda1", "w")]))
    lvm_host.destroy_domain("web")
    lvm_host.format_volume(ORIGIN, "ext4")
    assert lv(lvm_host, "gtesvmdisk1").filesystem == "ext4"
