"""The order of a plan, and plans that apply cannot carry out: every planned action must be possible when
its turn comes, so that one apply converges (promises 5 and 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import networkx as nx
import pytest

from tests.reconcile.support import (
    EXAMPLES,
    KERNEL,
    WEBFARM,
    actions,
    apply_in_process,
    connect,
    converge,
    plan_for,
    write_spec,
)
from xenctl.errors import PlanError
from xenctl.reconcile.apply import ApplyResult


def _failures(result: ApplyResult) -> dict[str, str]:
    return {a: o.error or f"skipped: {o.skipped_because}" for a, o in result.outcomes.items() if not o.ok}


@pytest.mark.parametrize("destroy_data", [False, True])
def test_taking_down_the_webfarm_stops_the_nfs_clients_before_removing_their_export(
    destroy_data: bool, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    empty = write_spec(tmp_path / "specs", "domains: []\n")
    plan = plan_for(home, [empty], destroy_data=destroy_data)
    export = "nfs_export.nfs1:/export/webroot"
    assert plan.change(export).action.value == "delete"
    for client in ("domain.web1", "domain.web2"):
        assert nx.has_path(plan.graph, client, export), f"{client} must be gone before its NFS root is unexported"
    assert nx.has_path(plan.graph, export, "domain.nfs1")

    result = apply_in_process(plan, home, parallelism=1)
    assert result.ok, _failures(result)
    assert plan_for(home, [empty], destroy_data=destroy_data).actionable == ()


def test_memory_given_back_by_a_live_mem_set_is_freed_before_a_new_domain_needs_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    big = f"  - {{name: big, memory: 12000M, maxmem: 12000M, kernel: {KERNEL}}}\n"
    spec = write_spec(tmp_path / "specs", "domains:\n" + big)
    converge(home, [spec])
    spec.write_text(
        "domains:\n"
        + big.replace("memory: 12000M", "memory: 4000M")
        + f"  - {{name: new, memory: 8000M, kernel: {KERNEL}}}\n"
    )

    plan = plan_for(home, [spec])
    assert actions(plan) == {"domain.big": "update", "domain.new": "create"}
    assert nx.has_path(plan.graph, "domain.big", "domain.new")  # the host cannot hold both at once
    result = apply_in_process(plan, home)
    assert result.ok, _failures(result)
    assert plan_for(home, [spec]).actionable == ()


def test_memory_freed_by_deleting_a_domain_comes_before_the_domain_that_replaces_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", f"domains:\n  - {{name: old, memory: 12000M, kernel: {KERNEL}}}\n")
    converge(home, [spec])
    spec.write_text(f"domains:\n  - {{name: new, memory: 12000M, kernel: {KERNEL}}}\n")
    plan = plan_for(home, [spec])
    assert list(plan.graph.edges()) == [("domain.old", "domain.new")]
    result = apply_in_process(plan, home)
    assert result.ok, _failures(result)


VOLUME_IN_USE = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes: [{{name: data, lvm: {{vg: vg, size: 2G}}, filesystem: ext3}}]
domains:
  - {{name: db, memory: 256M, kernel: {KERNEL}, disks: [{{volume: data, vdev: sda1, mode: w}}]}}
"""


def _plan_then_apply_converges(home: Path, spec: Path, name: str) -> None:
    """With --destroy-data: either refused at plan time naming ``name``, or carried out in one apply."""
    try:
        plan = plan_for(home, [spec], destroy_data=True)
    except PlanError as refused:
        assert name in refused.message
        return
    result = apply_in_process(plan, home)
    assert result.ok, _failures(result)
    assert plan_for(home, [spec], destroy_data=True).actionable == ()


def test_replacing_a_volume_a_running_domain_holds_is_refused_or_carried_out_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", VOLUME_IN_USE)
    converge(home, [spec])
    spec.write_text(VOLUME_IN_USE.replace("size: 2G", "size: 1G"))
    _plan_then_apply_converges(home, spec, "data")


def test_replacing_a_snapshots_origin_is_refused_or_carried_out_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [EXAMPLES / "lvm-snapshot"])
    specs = tmp_path / "specs"
    shutil.copytree(EXAMPLES / "lvm-snapshot", specs)
    storage = specs / "storage.yaml"
    storage.write_text(storage.read_text().replace("size: 4G", "size: 2G"))
    _plan_then_apply_converges(home, specs, "gtesvmdisk1")


def test_replacing_a_volume_group_that_holds_volumes_is_refused_or_carried_out_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    text = VOLUME_IN_USE[: VOLUME_IN_USE.index("domains:")]
    spec = write_spec(tmp_path / "specs", text)
    converge(home, [spec])
    spec.write_text(text.replace("[/dev/sda10]", "[/dev/sda10, /dev/sda11]"))
    _plan_then_apply_converges(home, spec, "vg")


@pytest.mark.parametrize(
    ("disk", "device"),
    [
        ("{phy: /dev/hda1, vdev: sda1, mode: w}", "/dev/hda1"),  # mounted rw on / in Domain-0
        ("{phy: /dev/sda5, vdev: sda1, mode: w}", "/dev/sda5"),  # mounted ro on /srv/xen-usr
        ("{phy: /dev/hda9, vdev: sda1, mode: w}", "/dev/hda9"),  # no such partition
    ],
    ids=["mounted rw in Domain-0", "mounted ro in Domain-0", "not on the host"],
)
def test_a_disk_xend_would_refuse_is_refused_at_plan_time(disk: str, device: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(
        tmp_path / "specs", f"domains:\n  - {{name: x, memory: 128M, kernel: {KERNEL}, disks: [{disk}]}}\n"
    )
    with pytest.raises(PlanError) as refused:
        plan_for(home, [spec])
    assert device in refused.value.message and "x" in refused.value.message


def test_a_device_domain_0_mounts_read_only_may_be_shared_read_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    disk = "{phy: /dev/sda5, vdev: sda1, mode: r}"
    spec = write_spec(
        tmp_path / "specs", f"domains:\n  - {{name: x, memory: 128M, kernel: {KERNEL}, disks: [{disk}]}}\n"
    )
    converge(home, [spec])
    with connect(home) as host:
        assert host.snapshot().domain("x") is not None


def test_a_bridge_the_host_does_not_have_is_refused_at_plan_time(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(
        tmp_path / "specs", f"domains:\n  - {{name: x, memory: 128M, kernel: {KERNEL}, vifs: [{{bridge: xenbr9}}]}}\n"
    )
    with pytest.raises(PlanError, match="xenbr9"):
        plan_for(home, [spec])


HANDOVER = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes: [{{name: data, lvm: {{vg: vg, size: 256M}}, filesystem: ext3}}]
domains:
  - {{name: OWNER, memory: 128M, kernel: {KERNEL}, disks: [{{volume: data, vdev: sda1, mode: MODE}}]}}
"""


@pytest.mark.parametrize("mode", ["r", "w"])
def test_a_device_handed_from_a_deleted_domain_to_a_new_one_is_let_go_first(mode: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", HANDOVER.replace("OWNER", "old").replace("MODE", "w"))
    converge(home, [spec])
    spec.write_text(HANDOVER.replace("OWNER", "new").replace("MODE", mode))

    plan = plan_for(home, [spec])
    assert actions(plan) == {"domain.new": "create", "domain.old": "delete"}
    assert nx.has_path(plan.graph, "domain.old", "domain.new"), "old holds /dev/vg/data read-write until it is gone"
    result = apply_in_process(plan, home)
    assert result.ok, _failures(result)
    assert plan_for(home, [spec]).actionable == ()
