"""Autostart on a libvirt host (not xen:///): the spec's entries set libvirt's own autostart flag
on their domains, and ``boot``/``halt`` go by xenctl's dependency order (libvirt-guests has none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.drivers import libvirt_test_host
from tests.engine.libvirt.libvirt_specs import apply_text, plan_text, shared
from tests.helpers import run_xenctl
from xenctl.app.host import connect
from xenctl.app.libvirtauto import FlaggedAutoDir
from xenctl.autostart.runlevels import change_runlevel
from xenctl.engine.libvirt.driver import LibvirtDriver, open_driver
from xenctl.reconcile.changes import Action

SPEC = """
domains:
  - {name: db1, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen, vifs: [{bridge: xenbr0}]}
  - {name: web1, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen, vifs: [{bridge: xenbr0}], depends_on: [db1]}
  - {name: batch1, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen, vifs: [{bridge: xenbr0}]}
autostart:
  - {domain: db1, order: 10, stop: shutdown}
  - {domain: web1, after: [db1], stop: shutdown}
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LibvirtDriver]:
    opened = open_driver(libvirt_test_host(tmp_path / "host"))
    yield opened
    opened.close()


def flags(driver: LibvirtDriver) -> dict[str, int]:
    return {dom.name(): dom.autostart() for dom in driver.conn.listAllDomains(0)}


def test_autostart_entries_set_libvirts_flag_and_removing_one_clears_it(driver: LibvirtDriver, tmp_path: Path) -> None:
    auto = FlaggedAutoDir(str(tmp_path / "xen"), flag=driver.set_autostart_flag)
    apply_text(driver, SPEC, tmp_path, auto)
    assert flags(driver) == {"db1": 1, "web1": 1, "batch1": 0}
    assert sorted(e.domain for e in auto.read()[0]) == ["db1", "web1"]  # the order is xenctl's: in its entries
    apply_text(driver, SPEC.replace("  - {domain: web1, after: [db1], stop: shutdown}\n", ""), tmp_path, auto)
    assert flags(driver) == {"db1": 1, "web1": 0, "batch1": 0}


def test_a_flag_cleared_by_hand_is_set_again_by_the_next_apply(driver: LibvirtDriver, tmp_path: Path) -> None:
    auto = FlaggedAutoDir(str(tmp_path / "xen"), flag=driver.set_autostart_flag, unflagged=driver.unflagged_domains)
    apply_text(driver, SPEC, tmp_path, auto)
    assert plan_text(driver, SPEC, tmp_path, auto).changes == ()
    driver.conn.lookupByName("web1").setAutostart(0)  # virsh autostart --disable web1
    plan = plan_text(driver, SPEC, tmp_path, auto)
    assert [(c.address, c.action) for c in plan.changes] == [("autostart.web1", Action.UPDATE)]
    apply_text(driver, SPEC, tmp_path, auto)
    assert flags(driver)["web1"] == 1


def test_boot_and_halt_go_by_xenctls_dependency_order(driver: LibvirtDriver, tmp_path: Path) -> None:
    auto = FlaggedAutoDir(str(tmp_path / "xen"), flag=driver.set_autostart_flag)
    apply_text(driver, SPEC, tmp_path, auto)
    one = shared(driver)
    names = {str(d.domid): d.name for d in driver.snapshot().domains}
    seen = len(driver.events())
    change_runlevel(lambda: one, auto, 0, parallelism=4)
    stops = [names.get(e.obj, e.obj) for e in driver.events(seen) if e.op == "shutdown"]
    assert [name for name in stops if name != "batch1"] == ["web1", "db1"]  # web1 runs after db1: it stops first
    seen = len(driver.events())
    change_runlevel(lambda: one, auto, 3, parallelism=4)
    starts = [e.obj for e in driver.events(seen) if e.op == "create"]
    assert starts == ["db1", "web1"]


def test_a_libvirt_host_keeps_its_entries_in_xenctls_record_and_lists_them(tmp_path: Path) -> None:
    with connect(libvirt_test_host(tmp_path / "host")) as host:
        auto = host.autostart
        assert isinstance(auto, FlaggedAutoDir)
        assert auto.xen_root.startswith(str(tmp_path / "cache"))
    listed = run_xenctl(tmp_path / "home", "-c", libvirt_test_host(tmp_path / "host"), "autostart", "list")
    assert listed.returncode == 0, listed.stderr
