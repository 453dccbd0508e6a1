"""A spec's HVM guests, network block devices and empty removable drives: validate, apply, and no device held."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_xenctl
from xenctl.engine.sim import SystemClock, open_host

SPEC = """
domains:
  - name: desktop
    memory: 256M
    hvm: {boot: dc, vnc: true, vncdisplay: 3, usb: true, usbdevice: tablet}
    disks:
      - {nbd: {host: 134.100.233.115, port: 20004}, vdev: hda}
      - {vdev: hdc, cdrom: true}
    vifs:
      - {bridge: xenbr0, type: ioemu, model: e1000}
"""


def test_an_hvm_guest_with_an_nbd_disk_and_an_empty_cdrom_validates_applies_and_holds_nothing(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "desktop.yaml").write_text(SPEC)
    home = tmp_path / "home"
    checked = run_xenctl(home, "validate", str(specs))
    assert checked.returncode == 0, checked.stderr
    applied = run_xenctl(home, "apply", "--auto-approve", str(specs))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    console = run_xenctl(home, "console", "desktop").stdout
    assert "VNC server on 127.0.0.1:5903" in console and "Booting from CD-Rom..." in console
    assert "ioemu (e1000): eth0: bridge xenbr0" in console
    with open_host(str(home), clock=SystemClock(0)) as host:
        state = host.snapshot()
    assert state.host.loops_used == 0
    assert all("desktop" not in p.holders for p in state.partitions)
    (guest,) = [d for d in state.domains if d.name == "desktop"]
    assert [(d.vdev, d.target, d.backend, d.cdrom) for d in guest.config.disks] == [
        ("hda", "134.100.233.115 20004", "nbd", False),
        ("hdc", "", "phy", True),
    ]
    again = run_xenctl(home, "plan", str(specs))
    assert again.returncode == 0 and "No changes" in again.stdout, again.stdout


def test_an_empty_cdrom_added_to_a_running_guest_is_attached_live_and_the_plan_then_converges(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = specs / "desktop.yaml"
    spec.write_text(SPEC.replace("      - {vdev: hdc, cdrom: true}\n", ""))
    home = tmp_path / "home"
    assert run_xenctl(home, "apply", "--auto-approve", str(specs)).returncode == 0
    spec.write_text(SPEC)
    planned = run_xenctl(home, "plan", str(specs))
    assert "~ domain.desktop" in planned.stdout, planned.stdout  # a live change, no restart
    applied = run_xenctl(home, "apply", "--auto-approve", str(specs))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = run_xenctl(home, "plan", str(specs))
    assert again.returncode == 0 and "No changes" in again.stdout, again.stdout
