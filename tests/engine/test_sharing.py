"""xend's device-sharing check (shared/XEN.md, section 4): every cell of the table, with xm's words."""

from __future__ import annotations

import pytest

from tests.helpers import disk, domain
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import XenError
from xenctl.units import GIB

IN_GUEST = "Device {dev} is mounted in a guest domain,\nand so cannot be mounted now."
RW_IN_GUEST = "Device {dev} is mounted read-write in a guest domain,\nand so cannot be mounted read-only now."
IN_DOM0 = "Device {dev} is mounted in the privileged domain,\nand so cannot be mounted by a guest."
RW_IN_DOM0 = (
    "Device {dev} is mounted read-write in the privileged domain,\nand so cannot be mounted read-only by a guest."
)


def refusal(message: str, devid: int = 2049) -> str:
    """What xm prints after ``Error: `` when a vbd is refused."""
    return f"Device {devid} (vbd) could not be connected.\n{message}"


def refused_create(host: SimHost, name: str, *disks: tuple[str, ...]) -> str:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain(name, disks=disks))
    assert host.snapshot().domain(name) is None
    return str(caught.value)


def holders(host: SimHost, path: str) -> tuple[str, ...]:
    return next(p.holders for p in host.snapshot().partitions if p.path == path)


# -- against Domain-0's mounts ---------------------------------------------------------------


def test_write_on_a_partition_domain0_mounts_read_write_is_refused(host: SimHost) -> None:
    message = refused_create(host, "web", ("hda1", "sda1", "w"))
    assert message == refusal(IN_DOM0.format(dev="/dev/hda1"))


def test_read_on_a_partition_domain0_mounts_read_write_is_refused(host: SimHost) -> None:
    message = refused_create(host, "web", ("hda1", "sda1", "r"))
    assert message == refusal(RW_IN_DOM0.format(dev="/dev/hda1"))


def test_read_on_a_partition_domain0_mounts_read_only_is_allowed(host: SimHost) -> None:
    host.create_domain(domain("web", disks=[("sda5", "sda1", "r")]))
    assert holders(host, "/dev/sda5") == ("web",)


def test_write_on_a_partition_domain0_mounts_read_only_is_refused(host: SimHost) -> None:
    message = refused_create(host, "web", ("sda5", "sda1", "w"))
    assert message == refusal(IN_DOM0.format(dev="/dev/sda5"))


@pytest.mark.parametrize("target", ["hda1", "hda2", "sda5"])
def test_forced_write_on_a_partition_domain0_mounts_is_allowed(host: SimHost, target: str) -> None:
    host.create_domain(domain("web", disks=[(target, "sda1", "w!")]))
    assert holders(host, f"/dev/{target}") == ("web",)


@pytest.mark.parametrize(("vdev", "devid"), [("sda1", 2049), ("sda2", 2050), ("hda1", 769), ("xvda", 51712)])
def test_the_refusal_names_the_guest_device_by_its_linux_device_number(host: SimHost, vdev: str, devid: int) -> None:
    message = refused_create(host, "web", ("hda1", vdev, "w"))
    assert message == refusal(IN_DOM0.format(dev="/dev/hda1"), devid)


# -- against other guests --------------------------------------------------------------------


def test_a_partition_held_read_write_by_another_guest_is_refused_for_write(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w")]))
    message = refused_create(host, "second", ("hda3", "sda1", "w"))
    assert message == refusal(IN_GUEST.format(dev="/dev/hda3"))


def test_a_partition_held_read_write_by_another_guest_is_refused_for_read(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w")]))
    message = refused_create(host, "second", ("hda3", "sda1", "r"))
    assert message == refusal(RW_IN_GUEST.format(dev="/dev/hda3"))


def test_a_partition_held_read_only_by_another_guest_can_be_shared_read_only(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "r")]))
    host.create_domain(domain("second", disks=[("hda3", "sda1", "r")]))
    assert holders(host, "/dev/hda3") == ("first", "second")


def test_a_partition_held_read_only_by_another_guest_is_refused_for_write(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "r")]))
    message = refused_create(host, "second", ("hda3", "sda1", "w"))
    assert message == refusal(IN_GUEST.format(dev="/dev/hda3"))


def test_a_partition_held_force_write_by_another_guest_is_refused_for_read(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w!")]))
    message = refused_create(host, "second", ("hda3", "sda1", "r"))
    assert message == refusal(RW_IN_GUEST.format(dev="/dev/hda3"))


@pytest.mark.parametrize("held", ["r", "w", "w!"])
def test_forced_write_skips_the_check_against_other_guests(host: SimHost, held: str) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", held)]))
    host.create_domain(domain("second", disks=[("hda3", "sda1", "w!")]))
    assert holders(host, "/dev/hda3") == ("first", "second")


def test_a_guest_never_conflicts_with_itself(host: SimHost) -> None:
    host.create_domain(domain("web", disks=[("hda3", "sda1", "w"), ("hda3", "sda2", "r")]))
    vdevs = [d.vdev for d in host.snapshot().domain("web").config.disks]  # type: ignore[union-attr]
    assert vdevs == ["sda1", "sda2"]


def test_a_refused_create_leaves_no_domain_no_loop_device_and_no_memory_taken(host: SimHost) -> None:
    image = host.create_image("web.img", 2 * GIB)
    before = host.snapshot().host
    message = refused_create(host, "web", (image, "sda2", "w", "file"), ("hda1", "sda1", "w"))
    assert message == refusal(IN_DOM0.format(dev="/dev/hda1"))
    state = host.snapshot()
    assert state.host.loops_used == 0
    assert state.host.free_memory == before.free_memory
    assert state.host.dom0_memory == before.dom0_memory
    assert state.images[0].holders == ()


# -- what the target is ----------------------------------------------------------------------


def test_a_relative_phy_name_is_the_device_under_dev(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w")]))
    assert holders(host, "/dev/hda3") == ("first",)
    message = refused_create(host, "second", ("/dev/hda3", "sda1", "w"))
    assert message == refusal(IN_GUEST.format(dev="/dev/hda3"))


def test_a_phy_device_that_does_not_exist_is_refused(host: SimHost) -> None:
    message = refused_create(host, "web", ("sdz9", "sda1", "w"))
    assert message == refusal("/dev/sdz9 does not exist.")


def test_a_phy_disk_on_an_image_file_is_not_a_block_device(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    message = refused_create(host, "web", (image, "sda1", "w", "phy"))
    assert message == refusal(f"{image} is not a block device.")


def test_a_file_disk_on_a_missing_file_is_refused(host: SimHost) -> None:
    message = refused_create(host, "web", ("/var/lib/xen/images/none.img", "sda1", "w", "file"))
    assert message == refusal("/var/lib/xen/images/none.img does not exist.")


def test_a_read_only_image_is_refused_read_write(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    host.set_image_read_only(image)
    message = refused_create(host, "web", (image, "sda1", "w", "file"))
    assert message == refusal(f"File {image} is read-only, and so I will not mount it read-write in a guest domain.")
    assert host.snapshot().host.loops_used == 0


def test_a_read_only_image_can_be_given_read_only(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    host.set_image_read_only(image)
    host.create_domain(domain("web", disks=[(image, "sda1", "r", "file")]))
    assert host.snapshot().images[0].holders == ("web",)


def test_an_image_made_writable_again_can_be_given_read_write(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    host.set_image_read_only(image)
    host.set_image_read_only(image, False)
    host.create_domain(domain("web", disks=[(image, "sda1", "w", "file")]))
    assert host.snapshot().images[0].holders == ("web",)


def test_a_second_guest_on_the_same_image_is_told_about_the_loop_device(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    host.create_domain(domain("first", disks=[(image, "sda1", "w", "file")]))
    message = refused_create(host, "second", (image, "sda1", "w", "file"))
    assert message == refusal(
        f"File {image} is loopback-mounted through /dev/loop0,\n"
        "which is mounted in a guest domain,\nand so cannot be mounted now."
    )
    assert host.snapshot().host.loops_used == 1


def test_a_read_only_second_guest_on_an_image_held_read_write_is_refused(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    host.create_domain(domain("first", disks=[(image, "sda1", "w", "file")]))
    message = refused_create(host, "second", (image, "sda1", "r", "file"))
    assert message == refusal(
        f"File {image} is loopback-mounted through /dev/loop0,\n"
        "which is mounted read-write in a guest domain,\nand so cannot be mounted read-only now."
    )


def test_the_loopback_message_names_the_loop_device_the_holder_took(host: SimHost) -> None:
    other = host.create_image("other.img", GIB)
    image = host.create_image("web.img", GIB)
    host.create_domain(domain("first", disks=[(other, "sda1", "w", "file"), (image, "sda2", "w", "file")]))
    message = refused_create(host, "second", (image, "sda1", "w", "file"))
    assert "is loopback-mounted through /dev/loop1,\n" in message


# -- hot-plugging ------------------------------------------------------------------------------


def test_attaching_a_disk_another_guest_holds_read_write_is_refused(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w")]))
    host.create_domain(domain("second", disks=[("hda4", "sda1", "w")]))
    with pytest.raises(XenError) as caught:
        host.attach_disk("second", disk("hda3", "sdb", "r"))
    assert str(caught.value) == refusal(RW_IN_GUEST.format(dev="/dev/hda3"), 2064)
    assert [d.target for d in host.domain("second").config.disks] == ["/dev/hda4"]


def test_attaching_a_partition_domain0_mounts_is_refused(host: SimHost) -> None:
    host.create_domain(domain("web", disks=[("hda3", "sda1", "w")]))
    with pytest.raises(XenError) as caught:
        host.attach_disk("web", disk("hda2", "sda2", "w"))
    assert str(caught.value) == refusal(IN_DOM0.format(dev="/dev/hda2"), 2050)
    assert holders(host, "/dev/hda2") == ()


def test_attaching_a_free_disk_to_a_running_guest_works(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web", disks=[("hda3", "sda1", "w")]))
    clock.advance(10)
    host.attach_disk("web", disk("sda5", "sda2", "r"))
    assert [d.vdev for d in host.domain("web").config.disks] == ["sda1", "sda2"]
    assert holders(host, "/dev/sda5") == ("web",)


def test_a_disk_freed_by_detach_can_be_taken_by_another_guest(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w"), ("hda4", "sda2", "w")]))
    host.create_domain(domain("second", disks=[("sda1", "sda1", "w")]))
    with pytest.raises(XenError):
        host.attach_disk("second", disk("hda4", "sda2", "w"))
    host.detach_disk("first", "sda2")
    host.attach_disk("second", disk("hda4", "sda2", "w"))
    assert holders(host, "/dev/hda4") == ("second",)
    assert holders(host, "/dev/hda3") == ("first",)


def test_a_disk_freed_by_destroy_can_be_taken_by_another_guest(host: SimHost) -> None:
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w")]))
    refused_create(host, "second", ("hda3", "sda1", "w"))
    host.destroy_domain("first")
    host.create_domain(domain("second", disks=[("hda3", "sda1", "w")]))
    assert holders(host, "/dev/hda3") == ("second",)


def test_a_file_disk_freed_by_detach_can_be_taken_by_another_guest(host: SimHost) -> None:
    image = host.create_image("web.img", GIB)
    host.create_domain(domain("first", disks=[("hda3", "sda1", "w"), (image, "sda2", "w", "file")]))
    host.create_domain(domain("second", disks=[("hda4", "sda1", "w")]))
    host.detach_disk("first", "sda2")
    host.attach_disk("second", disk(image, "sda2", "w", "file"))
    state = host.snapshot()
    assert state.images[0].holders == ("second",)
    assert state.host.loops_used == 1
