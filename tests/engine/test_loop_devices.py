"""Loop devices: each ``file:`` disk holds one of ``max_loop`` until its domain lets go of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import disk, domain
from xenctl.engine.api import DomainDisk, OnEvent, Phase
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import XenError
from xenctl.units import GIB

NO_LOOP = "Failed to find an unused loop device"


def images(host: SimHost, count: int) -> list[str]:
    return [host.create_image(f"guest{i}.img", GIB) for i in range(count)]


def file_disk(path: str, vdev: str = "sda1") -> DomainDisk:
    return disk(path, vdev, "w", "file")


def loops_used(host: SimHost) -> int:
    return host.snapshot().host.loops_used


def test_the_default_host_has_eight_loop_devices_all_free(host: SimHost) -> None:
    info = host.snapshot().host
    assert (info.max_loop, info.loops_used) == (8, 0)


def test_each_file_disk_takes_one_loop_device(host: SimHost) -> None:
    first, second, third = images(host, 3)
    host.create_domain(domain("one", disks=[file_disk(first)]))
    assert loops_used(host) == 1
    host.create_domain(domain("two", disks=[file_disk(second, "sda1"), file_disk(third, "sda2")]))
    assert loops_used(host) == 3


def test_phy_disks_take_no_loop_device(host: SimHost) -> None:
    host.create_domain(domain("web", disks=[("hda3", "sda1", "w"), ("sda5", "sda2", "r")]))
    assert loops_used(host) == 0


def test_tap_aio_disks_take_no_loop_device(host: SimHost) -> None:
    (image,) = images(host, 1)
    host.create_domain(domain("web", disks=[disk(image, "sda1", "w", "tap:aio")]))
    state = host.snapshot()
    assert state.host.loops_used == 0
    assert state.images[0].holders == ("web",)


def test_the_ninth_file_disk_finds_no_loop_device_and_its_domain_is_not_created(host: SimHost) -> None:
    paths = images(host, 9)
    for index, path in enumerate(paths[:8]):
        host.create_domain(domain(f"guest{index}", disks=[file_disk(path)]))
    assert loops_used(host) == 8
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("guest8", disks=[file_disk(paths[8])]))
    assert str(caught.value) == f"Device 2049 (vbd) could not be connected.\n{NO_LOOP}"
    state = host.snapshot()
    assert state.domain("guest8") is None
    assert state.host.loops_used == 8


def test_tap_aio_disks_still_work_when_every_loop_device_is_taken(host: SimHost) -> None:
    paths = images(host, 9)
    for index, path in enumerate(paths[:8]):
        host.create_domain(domain(f"guest{index}", disks=[file_disk(path)]))
    host.create_domain(domain("guest8", disks=[disk(paths[8], "sda1", "w", "tap:aio")]))
    assert host.snapshot().domain("guest8") is not None


def test_one_domain_with_more_file_disks_than_loop_devices_takes_none(host: SimHost) -> None:
    paths = images(host, 9)
    disks = [file_disk(path, f"sd{chr(ord('a') + i)}") for i, path in enumerate(paths)]
    with pytest.raises(XenError, match=NO_LOOP):
        host.create_domain(domain("greedy", disks=disks))
    state = host.snapshot()
    assert state.domain("greedy") is None
    assert state.host.loops_used == 0


def test_a_smaller_max_loop_is_the_limit(make_host: Callable[..., SimHost]) -> None:
    host = make_host(max_loop=2)
    paths = images(host, 3)
    host.create_domain(domain("one", disks=[file_disk(paths[0])]))
    host.create_domain(domain("two", disks=[file_disk(paths[1])]))
    with pytest.raises(XenError, match=NO_LOOP):
        host.create_domain(domain("three", disks=[file_disk(paths[2])]))
    assert host.snapshot().host.max_loop == 2
    assert loops_used(host) == 2


def test_attaching_a_file_disk_with_no_loop_device_free_is_refused(make_host: Callable[..., SimHost]) -> None:
    host = make_host(max_loop=1)
    first, second = images(host, 2)
    host.create_domain(domain("web", disks=[file_disk(first)]))
    with pytest.raises(XenError, match=NO_LOOP):
        host.attach_disk("web", file_disk(second, "sda2"))
    assert [d.vdev for d in host.domain("web").config.disks] == ["sda1"]


def test_destroy_frees_the_loop_devices(host: SimHost) -> None:
    first, second = images(host, 2)
    host.create_domain(domain("web", disks=[file_disk(first, "sda1"), file_disk(second, "sda2")]))
    host.destroy_domain("web")
    assert loops_used(host) == 0


def test_detach_frees_the_loop_device(host: SimHost) -> None:
    first, second = images(host, 2)
    host.create_domain(domain("web", disks=[file_disk(first, "sda1"), file_disk(second, "sda2")]))
    host.detach_disk("web", "sda2")
    assert loops_used(host) == 1


def test_shutdown_frees_the_loop_device_once_the_guest_is_down(host: SimHost, clock: VirtualClock) -> None:
    (image,) = images(host, 1)
    host.create_domain(domain("web", disks=[file_disk(image)]))
    clock.advance(8)  # booted
    host.shutdown_domain("web")
    clock.advance(3.5)
    assert loops_used(host) == 1  # still going down
    clock.advance(0.5)  # the 4 s shutdown is over; on_poweroff=destroy
    state = host.snapshot()
    assert state.domain("web") is None
    assert state.host.loops_used == 0


def test_save_frees_the_loop_device(host: SimHost, tmp_path: Path) -> None:
    (image,) = images(host, 1)
    host.create_domain(domain("web", disks=[file_disk(image)]))
    host.save_domain("web", str(tmp_path / "web.save"))
    state = host.snapshot()
    assert state.domain("web") is None
    assert state.host.loops_used == 0


def test_restore_takes_a_loop_device_again(host: SimHost, tmp_path: Path) -> None:
    (image,) = images(host, 1)
    host.create_domain(domain("web", disks=[file_disk(image)]))
    host.save_domain("web", str(tmp_path / "web.save"))
    host.restore_domain(str(tmp_path / "web.save"))
    state = host.snapshot()
    assert state.host.loops_used == 1
    assert state.images[0].holders == ("web",)


def test_a_crashed_domain_kept_by_on_crash_preserve_keeps_its_loop_device_until_destroyed(
    host: SimHost, clock: VirtualClock
) -> None:
    (image,) = images(host, 1)
    config = domain(
        "web",
        disks=[file_disk(image)],
        nfs_server="2.3.4.5",
        nfs_root="/no/such/export",
        on_crash=OnEvent.PRESERVE,
    )
    host.create_domain(config)
    clock.advance(60)
    assert host.domain("web").phase is Phase.CRASHED
    assert loops_used(host) == 1
    host.destroy_domain("web")
    assert loops_used(host) == 0


def test_a_freed_loop_device_can_be_used_by_the_next_guest(make_host: Callable[..., SimHost]) -> None:
    host = make_host(max_loop=1)
    first, second = images(host, 2)
    host.create_domain(domain("one", disks=[file_disk(first)]))
    host.destroy_domain("one")
    host.create_domain(domain("two", disks=[file_disk(second)]))
    assert loops_used(host) == 1
