"""diff(desired, live): what must change, in which class, for the host to match the specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import disk, domain
from xenctl.engine.api import Owner
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action, ChangeClass, Kind
from xenctl.reconcile.diff import DiffOptions, diff
from xenctl.spec.load import load_specs
from xenctl.spec.model import DesiredState
from xenctl.units import GIB

OURS = Owner("xenctl", "specs/web.yaml")
KERNEL = "/boot/vmlinuz-2.6.18-xen"


def specs(tmp_path: Path, text: str) -> DesiredState:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_specs([str(path)])


WEB1 = f"""
domains:
  - name: web1
    memory: 512M
    maxmem: 1G
    vcpus: 2
    maxvcpus: 4
    kernel: {KERNEL}
    root: /dev/sda1 ro
    disks: [{{phy: /dev/hda3, vdev: sda1}}]
"""


def make_web1(host: SimHost, clock: VirtualClock, **fields: object) -> None:
    settings: dict[str, object] = {"maxmem": 1024, "vcpus": 2, "maxvcpus": 4, "root": "/dev/sda1 ro", "vifs": ()}
    settings.update(fields)
    host.create_domain(domain("web1", 512, disks=[disk("/dev/hda3", "sda1")], **settings), owner=OURS)
    clock.advance(10)


def only(changes: tuple, address: str):  # type: ignore[no-untyped-def, type-arg]
    found = [c for c in changes if c.address == address]
    assert len(found) == 1, changes
    return found[0]


def test_a_declared_domain_not_on_the_host_is_created(host: SimHost, tmp_path: Path) -> None:
    result = diff(specs(tmp_path, WEB1), host.snapshot())
    assert [(c.address, c.action) for c in result.changes] == [("domain.web1", Action.CREATE)]


def test_a_domain_that_matches_its_spec_needs_nothing(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    make_web1(host, clock)
    assert diff(specs(tmp_path, WEB1), host.snapshot()).changes == ()


def test_memory_up_to_maxmem_is_set_live(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    make_web1(host, clock)
    change = only(diff(specs(tmp_path, WEB1.replace("512M", "1G", 1)), host.snapshot()).changes, "domain.web1")
    assert change.action is Action.UPDATE
    assert [(f.name, f.before, f.after, f.change_class) for f in change.fields] == [
        ("memory", 512, 1024, ChangeClass.LIVE)
    ]


def test_memory_beyond_maxmem_needs_a_restart_and_says_which_field(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    make_web1(host, clock)
    text = WEB1.replace("memory: 512M", "memory: 2G").replace("maxmem: 1G", "maxmem: 2G")
    change = only(diff(specs(tmp_path, text), host.snapshot()).changes, "domain.web1")
    assert change.action is Action.RESTART
    assert set(change.forced_by()) == {"memory", "maxmem"}


def test_a_new_kernel_needs_a_restart(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    make_web1(host, clock)
    change = only(
        diff(specs(tmp_path, WEB1.replace(KERNEL, "/boot/vmlinuz-2.6.24-xen")), host.snapshot()).changes, "domain.web1"
    )
    assert (change.action, change.forced_by()) == (Action.RESTART, ("kernel",))


def test_vcpus_up_to_maxvcpus_change_live(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    make_web1(host, clock)
    change = only(diff(specs(tmp_path, WEB1.replace("vcpus: 2", "vcpus: 4")), host.snapshot()).changes, "domain.web1")
    assert change.action is Action.UPDATE
    assert [(f.name, f.change_class) for f in change.fields] == [("vcpus", ChangeClass.LIVE)]


def test_an_added_disk_is_attached_live(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    make_web1(host, clock)
    text = WEB1.replace("[{phy: /dev/hda3, vdev: sda1}]", "[{phy: /dev/hda3, vdev: sda1}, {phy: /dev/hda4, vdev: sdb}]")
    change = only(diff(specs(tmp_path, text), host.snapshot()).changes, "domain.web1")
    assert change.action is Action.UPDATE
    assert [f.name for f in change.fields] == ["disks"]


@pytest.mark.parametrize(
    ("declared", "paused", "action"),
    [("paused", False, Action.PAUSE), ("running", True, Action.RESUME), ("stopped", False, Action.STOP)],
)
def test_the_declared_state_is_reached_by_pause_resume_or_stop(
    host: SimHost, clock: VirtualClock, tmp_path: Path, declared: str, paused: bool, action: Action
) -> None:
    make_web1(host, clock)
    if paused:
        host.pause_domain("web1")
    change = only(diff(specs(tmp_path, WEB1 + f"    state: {declared}\n"), host.snapshot()).changes, "domain.web1")
    assert change.action is action


def test_a_stopped_domain_that_is_not_there_needs_nothing(host: SimHost, tmp_path: Path) -> None:
    assert diff(specs(tmp_path, WEB1 + "    state: stopped\n"), host.snapshot()).changes == ()


def test_a_crashed_domain_kept_for_a_look_is_started_again(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    from xenctl.engine.api import Fault, OnEvent

    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    make_web1(host, clock, on_crash=OnEvent.PRESERVE)
    change = only(diff(specs(tmp_path, WEB1 + "    on_crash: preserve\n"), host.snapshot()).changes, "domain.web1")
    assert change.action is Action.START and "crashed" in change.reason


def test_a_managed_domain_missing_from_the_specs_is_deleted_and_a_hand_made_one_left(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    make_web1(host, clock)
    host.create_domain(domain("byhand", 128))
    result = diff(specs(tmp_path, "domains: []\n"), host.snapshot())
    assert [(c.address, c.action) for c in result.changes] == [("domain.web1", Action.DELETE)]
    assert [(u.kind, u.name) for u in result.unmanaged] == [(Kind.DOMAIN, "byhand")]


def test_a_spec_naming_a_hand_made_domain_is_an_error_unless_adopted(host: SimHost, tmp_path: Path) -> None:
    host.create_domain(domain("web1", 512))
    with pytest.raises(PlanError, match=r"did not make \(give --adopt to take them over\): domain.web1"):
        diff(specs(tmp_path, WEB1), host.snapshot())
    adopted = diff(specs(tmp_path, WEB1), host.snapshot(), DiffOptions(adopt=True))
    assert [(c.address, c.action) for c in adopted.changes] == [("domain.web1", Action.ADOPT)]


LVM = """
storage:
  volume_groups: [{name: vg, pvs: [/dev/sda10]}]
  volumes:
    - name: data
      lvm: {vg: vg, size: SIZE}
"""


@pytest.fixture
def lvm_host(host: SimHost) -> SimHost:
    host.create_volume_group("vg", ("/dev/sda10",), owner=OURS)
    host.create_logical_volume("vg", "data", 4 * GIB, owner=OURS)
    return host


def test_a_volume_grows_in_place(lvm_host: SimHost, tmp_path: Path) -> None:
    change = only(diff(specs(tmp_path, LVM.replace("SIZE", "8G")), lvm_host.snapshot()).changes, "volume.data")
    assert change.action is Action.UPDATE
    assert [(f.name, f.before, f.after) for f in change.fields] == [("size", 4 * GIB, 8 * GIB)]


def test_shrinking_a_volume_is_retained_with_a_reason_unless_data_may_go(lvm_host: SimHost, tmp_path: Path) -> None:
    desired = specs(tmp_path, LVM.replace("SIZE", "2G"))
    change = only(diff(desired, lvm_host.snapshot()).changes, "volume.data")
    assert change.action is Action.RETAIN and "--destroy-data" in change.reason
    forced = only(diff(desired, lvm_host.snapshot(), DiffOptions(destroy_data=True)).changes, "volume.data")
    assert forced.action is Action.REPLACE


def test_a_volume_removed_from_the_specs_is_retained_unless_data_may_go(lvm_host: SimHost, tmp_path: Path) -> None:
    desired = specs(tmp_path, "storage:\n  volume_groups: [{name: vg, pvs: [/dev/sda10]}]\n")
    assert only(diff(desired, lvm_host.snapshot()).changes, "volume.data").action is Action.RETAIN
    forced = diff(desired, lvm_host.snapshot(), DiffOptions(destroy_data=True))
    assert only(forced.changes, "volume.data").action is Action.DELETE


def test_a_volume_in_sync_needs_nothing_even_though_lvm_rounds_to_extents(lvm_host: SimHost, tmp_path: Path) -> None:
    lvm_host.create_logical_volume("vg", "odd", 5 * 1024 * 1024, owner=OURS)  # 5M becomes 8M
    text = LVM.replace("SIZE", "4G") + "    - name: odd\n      lvm: {vg: vg, size: 5M}\n"
    assert diff(specs(tmp_path, text), lvm_host.snapshot()).changes == ()


def test_the_diff_is_the_same_every_time(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    make_web1(host, clock)
    host.create_domain(domain("old", 128), owner=OURS)
    desired = specs(tmp_path, WEB1.replace("512M", "768M") + LVM.replace("SIZE", "1G").replace("storage:", "storage:"))
    live = host.snapshot()
    assert diff(desired, live) == diff(desired, live)
    addresses = [c.address for c in diff(desired, live).changes]
    assert addresses == ["volume_group.vg", "volume.data", "domain.web1", "domain.old"]
