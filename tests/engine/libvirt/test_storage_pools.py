"""Storage on a libvirt host as a user meets it: a spec's volume group, logical volumes, snapshot
and image files become libvirt pools and volumes (seen with virsh's eyes: pool and volume XML),
read back as xenctl's, and what libvirt cannot do is refused by the plan before anything runs."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.drivers import libvirt_test_host
from tests.engine.libvirt.libvirt_specs import DATA, apply_text, plan_text
from tests.helpers import run_xenctl
from xenctl.engine.libvirt.driver import LibvirtDriver, open_driver
from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action
from xenctl.units import GIB, MIB

SPEC = """
storage:
  volume_groups:
    - {name: vg0, pvs: [/dev/sdb1, /dev/sdc1]}
  volumes:
    - {name: gold, lvm: {vg: vg0, size: 2G}}
    - {name: web1-root, lvm: {vg: vg0, snapshot_of: gold, size: 512M}}
    - {name: web1-data, file: {path: web1-data.img, size: 1G}}
domains:
  - name: web1
    memory: 128M
    kernel: /boot/vmlinuz-2.6.18-xen
    disks:
      - {volume: web1-root, vdev: xvda}
      - {volume: web1-data, vdev: xvdb}
    vifs: [{bridge: xenbr0}]
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LibvirtDriver]:
    opened = open_driver(libvirt_test_host(tmp_path / "host"))
    yield opened
    opened.close()


def test_a_spec_s_storage_becomes_libvirt_pools_and_volumes(driver: LibvirtDriver, tmp_path: Path) -> None:
    apply_text(driver, SPEC, tmp_path)
    pool = ET.fromstring(driver.conn.storagePoolLookupByName("vg0").XMLDesc(0))
    assert pool.get("type") == "logical"
    assert [d.get("path") for d in pool.findall("source/device")] == ["/dev/sdb1", "/dev/sdc1"]
    assert driver.conn.storagePoolLookupByName("vg0").autostart() == 1
    snap = ET.fromstring(driver.conn.storagePoolLookupByName("vg0").storageVolLookupByName("web1-root").XMLDesc(0))
    assert snap.findtext("backingStore/path") == "/dev/vg0/gold"
    assert int(snap.findtext("allocation") or 0) == 512 * MIB  # the COW space
    images = driver.conn.storagePoolLookupByName("xenctl")  # the host had no dir pool: xenctl's own
    assert images.storageVolLookupByName("web1-data.img").info()[1:] == [GIB, 0]  # sparse


def test_storage_made_from_a_spec_reads_back_as_it_was_declared(driver: LibvirtDriver, tmp_path: Path) -> None:
    apply_text(driver, SPEC, tmp_path)
    state = driver.snapshot()
    lvs = {lv.name: lv for lv in state.logical_volumes}
    assert (lvs["gold"].size, lvs["gold"].origin) == (2 * GIB, None)
    assert (lvs["web1-root"].origin, lvs["web1-root"].cow_size) == ("gold", 512 * MIB)
    assert lvs["web1-root"].holders == ("web1",)
    assert all(lv.owner is not None and lv.owner.managed_by == "xenctl" for lv in lvs.values())
    assert [p.vg for p in state.partitions] == ["vg0", "vg0"]
    [image] = state.images
    assert image.path == f"{state.host.storage_root}/web1-data.img" and image.sparse
    assert plan_text(driver, SPEC, tmp_path).changes == ()


def test_a_volume_a_running_guest_holds_is_retained_not_removed(driver: LibvirtDriver, tmp_path: Path) -> None:
    apply_text(driver, SPEC, tmp_path)
    without = SPEC.replace("    - {name: web1-data, file: {path: web1-data.img, size: 1G}}\n", "").replace(
        "      - {volume: web1-data, vdev: xvdb}\n", ""
    )
    plan = plan_text(driver, without, tmp_path)
    assert {c.address: c.action for c in plan.changes if c.address.startswith("volume.")} == {
        "volume.web1-data.img": Action.RETAIN
    }


def test_storage_made_by_hand_is_reported_and_left_alone(tmp_path: Path) -> None:
    hand = open_driver(f"test://{DATA / 'storage-node.xml'}")
    try:
        plan = plan_text(hand, "domains: []\n", tmp_path)
        assert plan.changes == ()
        shown = {f"{u.kind.value}.{u.name}" for u in plan.unmanaged}
        assert {"volume_group.vg", "volume.gold", "volume.web1-root", "volume.spare.img", "domain.web1"} <= shown
    finally:
        hand.close()


def test_an_image_goes_into_the_hosts_default_dir_pool(tmp_path: Path) -> None:
    node = tmp_path / "node.xml"
    shutil.copy(DATA / "storage-node.xml", node)
    driver = open_driver(f"test://{node}")
    try:
        path = driver.create_image("new.img", GIB, sparse=False)
        assert path == "/var/lib/libvirt/images/new.img"
        volume = driver.conn.storagePoolLookupByName("default").storageVolLookupByName("new.img")
        assert volume.info()[1:] == [GIB, GIB]
    finally:
        driver.close()


def run_plan(tmp_path: Path, spec: str) -> tuple[int, str]:
    (tmp_path / "spec.yaml").write_text(spec)
    url = libvirt_test_host(tmp_path / "host")
    done = run_xenctl(tmp_path / "home", "-c", url, "plan", str(tmp_path / "spec.yaml"))
    return done.returncode, done.stdout + done.stderr


def test_plan_refuses_a_filesystem_libvirt_cannot_make_before_anything_runs(tmp_path: Path) -> None:
    spec = SPEC.replace("lvm: {vg: vg0, size: 2G}}", "lvm: {vg: vg0, size: 2G}, filesystem: ext3}")
    code, said = run_plan(tmp_path, spec)
    assert code == 1
    assert "volume.gold: make its filesystem: libvirt makes no filesystems" in said
    assert "Traceback" not in said


def test_plan_refuses_an_nfs_root_libvirt_cannot_export(tmp_path: Path) -> None:
    spec = """
storage:
  nfs_exports: [{name: roots, server: web1, path: /export/roots}]
domains:
  - {name: web1, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen}
  - {name: nfs1, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen, nfs_root: roots}
"""
    code, said = run_plan(tmp_path, spec)
    assert code == 1
    assert "export an NFS root: libvirt exports no NFS roots" in said


def test_growing_a_volume_on_the_test_driver_is_refused_with_its_reason(driver: LibvirtDriver, tmp_path: Path) -> None:
    apply_text(driver, SPEC, tmp_path)
    bigger = SPEC.replace("{vg: vg0, size: 2G}", "{vg: vg0, size: 3G}")
    with pytest.raises(PlanError, match=r"volume\.gold: grow a lvm volume in place: .*virStorageVolResize"):
        plan_text(driver, bigger, tmp_path)


def test_a_connection_without_libvirts_storage_driver_denies_storage_with_that_reason() -> None:
    from xenctl.engine.libvirt.reading import capabilities

    caps = capabilities("qemu", frozenset({"hvm"}), storage=False)
    assert not (caps.volume_groups or caps.logical_volumes or caps.snapshots or caps.images or caps.grow)
    assert "no storage driver" in caps.reason("images") and "no storage driver" in caps.reason("grow:lvm")
    assert capabilities("qemu", frozenset({"hvm"})).grow == {"lvm", "file"}


def test_a_damaged_owners_record_reads_as_owning_nothing_and_is_written_anew(tmp_path: Path) -> None:
    from xenctl.engine.api import Owner
    from xenctl.engine.libvirt.owners import OwnersRecord

    record = OwnersRecord(str(tmp_path))
    for damaged in ("{not json", '["a list"]', '{"volumes": ["x"], "pools": {"u": "not a pair"}}'):
        (tmp_path / "owners.json").write_text(damaged)
        assert record.owners("volumes") == {} and record.owners("pools") == {}
    record.set("pools", "u", Owner("xenctl", "specs/a.yaml"))
    assert record.owners("pools") == {"u": Owner("xenctl", "specs/a.yaml")}
