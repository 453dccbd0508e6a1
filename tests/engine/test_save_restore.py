"""xm save and xm restore on the simulated host (XEN.md section 2).

The default profile takes 3 s to save and 2 s to restore; both calls return when done.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import domain
from xenctl.engine.api import DOMAIN0, OnEvent, Phase, Vif
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import NotFoundError, XenError

BOOT = 8.0
SAVE = 3.0
RESTORE = 2.0


def booted(host: SimHost, clock: VirtualClock, name: str = "web1", memory: int = 256, **fields: object) -> int:
    domid = host.create_domain(domain(name, memory, **fields)).domid  # type: ignore[arg-type]
    clock.advance(BOOT)
    return domid


def names(host: SimHost) -> list[str]:
    return [d.name for d in host.snapshot().domains]


def test_save_takes_the_save_duration_and_removes_the_domain(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    booted(host, clock)
    free = host.snapshot().host.free_memory
    start = clock.now()
    host.save_domain("web1", str(tmp_path / "web1.save"))
    assert clock.now() - start == SAVE
    assert names(host) == [DOMAIN0]
    assert host.snapshot().host.free_memory == free + 256
    with pytest.raises(NotFoundError):
        host.domain("web1")


def test_save_writes_a_linux_guest_record(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    path = tmp_path / "web1.save"
    host.save_domain("web1", str(path))
    data = path.read_bytes()
    assert data.startswith(b"LinuxGuestRecord")
    assert b"web1" in data


def test_restore_brings_the_domain_back_under_a_new_domid(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    before = host.create_domain(domain("web1", 384, vcpus=2, disks=[("hda3", "sda1", "w"), ("sda6", "sda6", "r")]))
    clock.advance(BOOT)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    start = clock.now()
    restored = host.restore_domain(path)
    assert clock.now() - start == RESTORE
    assert restored.domid > before.domid
    assert restored.name == "web1"
    assert restored.uuid == before.uuid
    assert restored.memory == 384
    assert restored.vcpus == 2
    assert restored.config.disks == before.config.disks
    assert restored.phase is Phase.RUNNING
    assert restored.state == "-b----"
    assert names(host) == [DOMAIN0, "web1"]


def test_restore_takes_a_domid_after_every_one_given_meanwhile(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    booted(host, clock, "web1")
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    other = host.create_domain(domain("db1"))
    assert host.restore_domain(path).domid > other.domid


def test_the_save_file_stays_after_restore(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    path = tmp_path / "web1.save"
    host.save_domain("web1", str(path))
    content = path.read_bytes()
    host.restore_domain(str(path))
    assert path.read_bytes() == content


def test_a_save_file_can_be_restored_again_once_the_domain_is_gone(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    booted(host, clock)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    first = host.restore_domain(path)
    host.destroy_domain("web1")
    second = host.restore_domain(path)
    assert second.domid > first.domid
    assert second.uuid == first.uuid


def test_restore_is_refused_while_the_name_exists(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    again = host.restore_domain(path)
    with pytest.raises(XenError) as caught:
        host.restore_domain(path)
    assert caught.value.message == f"Domain 'web1' already exists with ID '{again.domid}'"
    assert names(host) == [DOMAIN0, "web1"]


def test_restore_is_refused_when_a_new_domain_took_the_name(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    newcomer = host.create_domain(domain("web1"))
    with pytest.raises(XenError) as caught:
        host.restore_domain(path)
    assert caught.value.message == f"Domain 'web1' already exists with ID '{newcomer.domid}'"


@pytest.mark.parametrize(
    "content",
    [b"", b"#!/bin/sh\necho hello\n", b"LinuxGuestRecor", b"LinuxGuestRecord\x00\x00\x00\x05(dom"],
)
def test_a_file_that_is_not_a_save_file_is_refused(host: SimHost, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bogus"
    path.write_bytes(content)
    with pytest.raises(XenError) as caught:
        host.restore_domain(str(path))
    assert "not a valid guest state file" in caught.value.message
    assert names(host) == [DOMAIN0]


def test_saving_to_a_missing_directory_fails_and_the_domain_keeps_running(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    domid = booted(host, clock)
    path = str(tmp_path / "no-such-dir" / "web1.save")
    with pytest.raises(XenError) as caught:
        host.save_domain("web1", path)
    assert caught.value.message == f"xm save: Unable to create file {path}"
    running = host.domain("web1")
    assert (running.domid, running.state) == (domid, "-b----")
    clock.advance(60)
    assert host.domain("web1").state == "-b----"
    assert not (tmp_path / "no-such-dir").exists()


def test_save_of_a_paused_domain_works_and_restores(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    host.pause_domain("web1")
    path = tmp_path / "web1.save"
    host.save_domain("web1", str(path))
    assert names(host) == [DOMAIN0]
    assert path.read_bytes().startswith(b"LinuxGuestRecord")
    restored = host.restore_domain(str(path))
    assert restored.name == "web1"


def test_restore_paused_keeps_the_domain_paused(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    restored = host.restore_domain(path, paused=True)
    assert restored.state == "--p---"


def test_a_shutting_down_domain_cannot_be_saved(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock)
    host.shutdown_domain("web1")
    with pytest.raises(XenError) as caught:
        host.save_domain("web1", str(tmp_path / "web1.save"))
    assert caught.value.message == "Domain is not running"


def test_restore_short_of_memory_balloons_domain0(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock, "web1", 512)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    filler = host.snapshot().host.free_memory - 2  # leave only the 2 MiB overhead free
    host.create_domain(domain("filler", filler))
    assert host.snapshot().host.dom0_memory == 1024
    restored = host.restore_domain(path)
    assert restored.memory == 512
    info = host.snapshot().host
    assert info.dom0_memory == 1024 - 512
    assert info.free_memory == 2


def test_restore_is_refused_when_domain0_cannot_give_enough(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock, "web1", 1024)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    p = host.profile
    host.create_domain(domain("filler", host.snapshot().host.free_memory + p.dom0_initial_memory - p.dom0_min_mem - 2))
    with pytest.raises(XenError) as caught:
        host.restore_domain(path)
    assert caught.value.message == "Not enough memory is available, and dom0 cannot be shrunk any further"
    assert names(host) == [DOMAIN0, "filler"]


def test_a_restored_domain_keeps_its_mem_set_memory(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    booted(host, clock, "web1", 512)
    host.set_memory("web1", 300)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    restored = host.restore_domain(path)
    assert restored.memory == 300
    assert restored.config.memory == 512


def test_restore_is_refused_while_a_domain_with_the_same_uuid_runs(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    uuid = host.create_domain(domain("web1")).uuid
    clock.advance(BOOT)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    twin = host.create_domain(domain("web1-twin", uuid=uuid))
    with pytest.raises(XenError) as caught:
        host.restore_domain(path)
    assert caught.value.message == f"Domain 'web1-twin' already exists with ID '{twin.domid}'"
    assert names(host) == [DOMAIN0, "web1-twin"]


def test_a_restored_domain_keeps_its_whole_configuration(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    config = domain(
        "vm-1.example:a+b",
        384,
        maxmem=768,
        vcpus=2,
        maxvcpus=4,
        disks=[("hda3", "sda1", "w"), ("sda6", "sda6", "r")],
        vifs=(Vif(bridge="xenbr1", mac="00:16:3e:12:34:56"), Vif()),
        root="/dev/sda1 ro",
        extra='4 VMID=1 usr=/dev/sda6 quote="a b" back\\slash',
        ramdisk="/boot/initrd.img-2.6.18-xen",
        ip="10.0.0.5",
        on_poweroff=OnEvent.PRESERVE,
        on_reboot=OnEvent.DESTROY,
        on_crash=OnEvent.RENAME_RESTART,
    )
    before = host.create_domain(config)
    clock.advance(BOOT)
    path = str(tmp_path / "vm.save")
    host.save_domain(config.name, path)
    restored = host.restore_domain(path)
    assert restored.config == before.config
