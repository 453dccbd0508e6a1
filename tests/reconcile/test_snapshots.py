"""A copy-on-write snapshot that fills goes invalid: the plan shows it, what it breaks, and the repair.

The host writes fast (1 GiB a second per guest), so a clone's 2 GiB of COW space fills in about
two seconds of a running guest's writes; the tests wait for it on the wall clock.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.reconcile.support import KERNEL, connect, host_state, ok, write_spec, xenctl
from xenctl.engine.api import LogicalVolume

CLONED = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes:
    - {{name: base, lvm: {{vg: vg, size: 4G}}, filesystem: ext3, populate: debian-etch root filesystem}}
    - {{name: clone, lvm: {{vg: vg, snapshot_of: base, size: 2G}}}}
domains:
  - {{name: web1, memory: 128M, kernel: {KERNEL}, disks: [{{volume: clone, vdev: sda1, mode: w}}]}}
"""


def _clone(home: Path) -> LogicalVolume:
    with connect(home) as host:
        (lv,) = [lv for lv in host.snapshot().logical_volumes if lv.name == "clone"]
    return lv


def _filled(home: Path, tmp_path: Path) -> Path:
    """The clone made, its guest running, a plan of 'No changes' made (and cached), then the COW full."""
    profile = write_spec(tmp_path, "guest_write_rate: 1G\n", "fast.yaml")
    ok(xenctl(home, "host", "init", "--profile", str(profile)))
    spec = write_spec(tmp_path / "specs", CLONED)
    ok(xenctl(home, "apply", "--auto-approve", str(spec)))
    assert "No changes" in ok(xenctl(home, "plan", str(spec))).stdout
    deadline = time.monotonic() + 30
    while not _clone(home).invalid:
        assert time.monotonic() < deadline, "the clone never filled"
        time.sleep(0.2)
    return spec


def test_a_snapshot_that_filled_is_shown_by_plan_with_the_domains_it_breaks_and_the_repair(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = _filled(home, tmp_path)

    text = ok(xenctl(home, "plan", str(spec))).stdout
    assert "No changes" not in text
    (line,) = [line for line in text.splitlines() if "volume.clone" in line]
    assert line.lstrip().startswith("!") and "retained (state forces it)" in line
    assert "invalid: its copy-on-write space filled (2G of 2G)" in line
    assert "web1 cannot start on it" in line
    assert "--destroy-data" in line and "grow it in time" in line
    assert "1 retained" in text

    shown = ok(xenctl(home, "host", "show")).stdout
    (clone,) = [line for line in shown.splitlines() if "vg/clone" in line]
    assert "snapshot of base, COW 2G of 2G used (100%), INVALID" in clone and "held by web1" in clone
    assert any("vg/base" in line and "ext3" in line for line in shown.splitlines())
    assert "Domain-0 1G (min 196M + 8M for 1 LVM snapshot, ballooning on)" in shown
    live = json.loads(ok(xenctl(home, "host", "show", "--json")).stdout)["live"]
    (listed,) = [v for v in live["volumes"] if v["path"] == "/dev/vg/clone"]
    assert (listed["origin"], listed["invalid"], listed["cow_used"]) == ("base", True, listed["cow_size"])
    assert live["snapshots"] == {"count": 1, "dom0_memory_each": 8}


def test_after_the_guest_stops_the_plan_is_refused_until_destroy_data_makes_the_snapshot_again(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    spec = _filled(home, tmp_path)
    ok(xenctl(home, "shutdown", "-w", "web1"))
    before = host_state(home)

    refused = xenctl(home, "apply", "--auto-approve", str(spec))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "snapshots: web1 wants /dev/vg/clone, which is invalid" in refused.stderr
    assert "--destroy-data" in refused.stderr
    assert host_state(home) == before  # nothing tried, nothing half done

    ok(xenctl(home, "apply", "--auto-approve", "--destroy-data", str(spec)))
    with connect(home) as host:
        web1 = host.snapshot().domain("web1")
    assert web1 is not None and web1.config.disks[0].target == "/dev/vg/clone"
    with connect(home) as host:
        made = [e.op for e in host.events() if e.obj == "/dev/vg/clone" and e.outcome == "ok"]
    assert made[-2:] == ["lv-remove", "snapshot-create"]  # made again, empty, before web1 started on it
