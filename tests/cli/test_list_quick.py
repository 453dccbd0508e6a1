"""``xenctl list`` reads a simulated host's rows straight from its file: the same table the driver's
snapshot gives, in every state a domain can be in, without importing the driver or the planner."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import domain, modules_after, run_xenctl
from xenctl.cli.listing import format_list
from xenctl.engine.api import Fault, OnEvent
from xenctl.engine.sim import SimHost, VirtualClock, open_host
from xenctl.engine.sim.xmlist import list_rows

HEAVY = (
    "networkx",
    "jsonschema",
    "yaml",
    "watchdog",
    "xenctl.engine.api",
    "xenctl.engine.sim.host",
    "xenctl.app.host",
    "xenctl.reconcile.plan",
    "xenctl.spec.load",
)


def _both(home: Path, host: SimHost, clock: VirtualClock, refs: tuple[str, ...] = ()) -> tuple[str, str]:
    quick = list_rows(str(home), None, clock.now(), refs)
    assert quick is not None, "the quick path gave way where it should answer"
    full = [host.domain(ref) for ref in refs] if refs else list(host.snapshot().domains)
    return format_list(quick), format_list(full)


def test_the_quick_list_prints_what_the_driver_prints_in_every_state(home: Path, clock: VirtualClock) -> None:
    host = open_host(str(home), clock=clock)
    try:
        host.create_domain(domain("booting"))
        host.create_domain(domain("paused"))
        host.create_domain(domain("stopping", on_poweroff=OnEvent.PRESERVE))
        host.create_domain(domain("halted", on_poweroff=OnEvent.PRESERVE))
        host.add_fault(Fault("create", "crashing", kind="crash-at-boot"))
        host.create_domain(domain("crashing", on_crash=OnEvent.PRESERVE))
        clock.advance(8.5)
        host.create_domain(domain("young"))
        host.pause_domain("paused")
        host.shutdown_domain("halted")
        host.set_vcpus("Domain-0", 2)
        clock.advance(5)
        host.shutdown_domain("stopping")
        clock.advance(1)
        quick, full = _both(home, host, clock)
        assert quick == full
        for state in ("r-----", "-b----", "--p---", "---s--", "----c-"):
            assert state in quick
        assert _both(home, host, clock, ("young", "0", "3")) == _both(home, host, clock, ("young", "Domain-0", "3"))
        quick, full = _both(home, host, clock, ("young", "0", "3"))
        assert quick == full
        assert len(quick.splitlines()) == 4
    finally:
        host.close()


def test_the_quick_list_gives_way_when_only_the_driver_can_answer(
    home: Path, clock: VirtualClock, tmp_path: Path
) -> None:
    assert list_rows(str(home), None, clock.now()) is None  # no host yet: the driver makes one
    host = open_host(str(home), clock=clock)
    try:
        host.create_domain(domain("web1"))
        assert list_rows(str(home), None, clock.now(), ("nosuch",)) is None  # the driver names it
        clock.advance(9)
        host.shutdown_domain("web1")
        clock.advance(5)
        assert list_rows(str(home), None, clock.now()) is None  # the exit is due: the driver carries it out
        host.snapshot()
        assert list_rows(str(home), None, clock.now()) is not None
        root = tmp_path / "xenroot"
        root.mkdir()
        (root / "xend-config.sxp").write_text("(dom0-cpus 1)\n")
        assert list_rows(str(home), str(root), clock.now()) is None  # xend's settings change Domain-0
    finally:
        host.close()


def test_xenctl_list_imports_neither_the_driver_nor_yaml_jsonschema_or_networkx(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "vm1.cfg"
    config.write_text('name = "vm1"\nmemory = 128\nkernel = "/boot/vmlinuz-2.6.18-xen"\n')
    assert run_xenctl(home, "create", str(config)).returncode == 0
    for args in (("list",), ("list", "vm1", "Domain-0")):
        out, modules = modules_after(home, *args)
        assert "vm1" in out and "Domain-0" in out
        assert not modules & set(HEAVY), f"xenctl {' '.join(args)} imported {sorted(modules & set(HEAVY))}"
    # and a host the quick path cannot read still lists, through the driver
    done = run_xenctl(home, "list", "nosuch")
    assert done.returncode == 1 and done.stderr == "Error: Domain 'nosuch' does not exist.\n"
