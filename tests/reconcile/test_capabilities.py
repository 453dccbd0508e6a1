"""The planner asks the host what it can do: a step the host says it cannot take is named with
the host's reason before anything runs, and a change the host can only make another way (memory
on a host without live changes) is planned that way."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from tests.reconcile.support import EXAMPLES, connect, converge, write_spec
from xenctl.engine.api import Capabilities, HostState
from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action
from xenctl.reconcile.diff import DiffOptions, diff
from xenctl.reconcile.plan import Plan, make_plan
from xenctl.spec.load import load_specs

CLONE = EXAMPLES / "lvm-snapshot"


def _denying(live: HostState, **denied: object) -> HostState:
    """The host as read, with some capabilities denied, each with a reason of the host's own."""
    caps = replace(live.host.capabilities, **denied, why_not=(("snapshots", "dm-snapshot is not loaded"),))
    return replace(live, host=replace(live.host, capabilities=caps))


def _plan(home: Path, spec: Path, live: HostState) -> Plan:
    desired = load_specs([str(spec)])
    return make_plan(diff(desired, live, DiffOptions()), desired, live)


def _live(home: Path) -> HostState:
    with connect(home) as host:
        return host.snapshot()


def test_a_snapshot_on_a_host_without_them_is_refused_naming_the_volume_the_step_and_the_reason(
    tmp_path: Path,
) -> None:
    live = _denying(_live(tmp_path / "home"), snapshots=False)
    with pytest.raises(PlanError) as refused:
        _plan(tmp_path / "home", CLONE, live)
    message = refused.value.message
    assert re.search(r"volume\.\S+: create a copy-on-write snapshot: dm-snapshot is not loaded", message), message


def test_a_capability_denied_without_a_reason_still_names_the_step(tmp_path: Path) -> None:
    live = _denying(_live(tmp_path / "home"), volume_groups=False)
    with pytest.raises(PlanError) as refused:
        _plan(tmp_path / "home", CLONE, live)
    assert "create a volume group: the host's driver does not offer it" in refused.value.message


def test_memory_on_a_host_without_live_changes_is_a_restart_not_a_mem_set(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(
        tmp_path / "specs",
        "domains:\n  - {name: web, memory: 256M, maxmem: 512M, kernel: /boot/vmlinuz-2.6.18-xen}\n",
    )
    converge(home, [spec])
    spec.write_text(spec.read_text().replace("256M", "384M"))
    live = _live(home)
    assert _plan(home, spec, live).change("domain.web").action is Action.UPDATE
    assert _plan(home, spec, _denying(live, live_memory=False)).change("domain.web").action is Action.RESTART


def test_growing_an_image_on_a_host_that_cannot_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", "storage:\n  volumes:\n    - {name: img, file: {path: img.img, size: 64M}}\n")
    converge(home, [spec])
    spec.write_text(spec.read_text().replace("64M", "128M"))
    live = _live(home)
    assert _plan(home, spec, live).change("volume.img").action is Action.UPDATE
    with pytest.raises(PlanError) as refused:
        _plan(home, spec, _denying(live, grow=frozenset({"lvm"})))
    assert "volume.img: grow a file volume in place" in refused.value.message


def test_the_simulated_host_reports_its_capabilities_with_each_snapshot(tmp_path: Path) -> None:
    with connect(tmp_path / "home") as host:
        caps = host.capabilities()
        assert host.snapshot().host.capabilities == caps
    assert isinstance(caps, Capabilities)
    assert caps.live_memory and caps.snapshots and "file" in caps.grow
    assert caps.migration and "migration" not in dict(caps.why_not)  # xenctl migrate moves guests now


def test_file_backed_disks_on_a_host_without_loop_devices_are_not_counted_against_max_loop(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "specs",
        "storage:\n  volumes:\n    - {name: img, file: {path: img.img, size: 64M}}\n"
        "domains:\n  - {name: web, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen,"
        " disks: [{volume: img, vdev: sda1, mode: w}]}\n",
    )
    live = _live(tmp_path / "home")
    without = _denying(live, loop_devices=False)
    without = replace(without, host=replace(without.host, max_loop=0))
    assert _plan(tmp_path / "home", spec, without).change("domain.web").action is Action.CREATE
    with pytest.raises(PlanError) as refused:  # the same host, counting loop devices, has none to give
        _plan(tmp_path / "home", spec, replace(live, host=replace(live.host, max_loop=0)))
    assert "loop devices" in refused.value.message
