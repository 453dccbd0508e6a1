"""Promise 6: a failed action skips only what depends on it, the summary names the root cause once, and
running apply again converges."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_xenctl
from tests.reconcile.support import KERNEL, apply_in_process, connect, converge, ok, plan_for, write_spec
from xenctl.engine.api import Fault

CHAIN = f"""
x-guest: &guest
  memory: 128M
  kernel: {KERNEL}
  vifs: [{{bridge: xenbr0}}]

domains:
  - {{<<: *guest, name: web1}}
  - {{<<: *guest, name: app1, depends_on: [web1]}}
  - {{<<: *guest, name: app2, depends_on: [app1]}}
  - {{<<: *guest, name: solo}}
  - {{<<: *guest, name: solo2}}
"""


def test_a_failed_create_skips_its_dependents_creates_the_rest_and_names_the_root_cause_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", CHAIN)
    ok(run_xenctl(home, "host", "fault", "add", "create", "web1", "--message", "xend: out of grant tables"))

    result = run_xenctl(home, "apply", "--auto-approve", str(spec))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "2 done, 1 failed, 2 skipped" in result.stdout
    assert "domain.app1: skipped, because domain.web1 failed" in result.stdout
    assert "domain.app2: skipped, because domain.web1 failed" in result.stdout  # the root, not app1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "domain.web1" in errors[0] and "xend: out of grant tables" in errors[0]
    assert "2 skipped" in errors[0]
    assert result.stderr.count("out of grant tables") == 1

    listed = ok(run_xenctl(home, "list")).stdout
    names = {line.split()[0] for line in listed.splitlines()[1:]}
    assert names == {"Domain-0", "solo", "solo2"}

    ok(run_xenctl(home, "host", "fault", "clear"))
    again = ok(run_xenctl(home, "apply", "--auto-approve", str(spec)))
    assert "3 done, 0 failed, 0 skipped" in again.stdout
    assert run_xenctl(home, "plan", "--detailed-exitcode", str(spec)).returncode == 0


STORAGE = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes:
    - {{name: broken, lvm: {{vg: vg, size: 256M}}, filesystem: ext3}}
    - {{name: fine, lvm: {{vg: vg, size: 256M}}, filesystem: ext3}}
domains:
  - {{name: user, memory: 128M, kernel: {KERNEL}, disks: [{{volume: broken, vdev: sda1, mode: r}}]}}
  - {{name: client, memory: 128M, kernel: {KERNEL}, depends_on: [user]}}
  - {{name: other, memory: 128M, kernel: {KERNEL}, disks: [{{volume: fine, vdev: sda1, mode: r}}]}}
"""


def test_a_failed_volume_skips_the_domains_that_need_it_and_nothing_else(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", STORAGE)
    with connect(home) as host:
        host.add_fault(Fault(op="lv-create", obj="/dev/vg/broken", message="device-mapper: reload ioctl failed"))

    result = apply_in_process(plan_for(home, [spec]), home)
    assert [(f.address, f.error) for f in result.failures] == [("volume.broken", "device-mapper: reload ioctl failed")]
    assert {o.address: o.skipped_because for o in result.skipped} == {
        "domain.user": "volume.broken",
        "domain.client": "volume.broken",
    }
    with connect(home) as host:
        live = host.snapshot()
        host.clear_faults()
    assert {d.name for d in live.domains} == {"Domain-0", "other"}
    assert {lv.name for lv in live.logical_volumes} == {"fine"}

    converge(home, [spec])
    assert plan_for(home, [spec]).changes == ()


def test_a_domain_that_crashes_at_boot_fails_its_create_and_its_dependents_wait(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", CHAIN.replace("name: app1,", "name: app1, on_crash: preserve,"))
    with connect(home) as host:
        host.add_fault(Fault(op="create", obj="app1", kind="crash-at-boot", times=1))

    result = apply_in_process(plan_for(home, [spec]), home)
    assert [f.address for f in result.failures] == ["domain.app1"]
    assert {o.address: o.skipped_because for o in result.skipped} == {"domain.app2": "domain.app1"}

    converge(home, [spec])
    assert plan_for(home, [spec]).changes == ()
