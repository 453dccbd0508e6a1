"""A plan of unchanged specs on an unchanged host comes from the cache, and only then."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.reconcile.support import WEBFARM, connect, converge, ok, xenctl
from xenctl.engine.api import DomainConfig
from xenctl.engine.sim import VirtualClock, init_host, open_host
from xenctl.engine.sim.profile import default_profile


def cached_plans(home: Path) -> int:
    directory = home / "cache" / "plans"
    return len(list(directory.glob("*.json"))) if directory.exists() else 0


def test_an_unchanged_host_and_specs_give_the_cached_plan(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    first = ok(xenctl(home, "plan", str(WEBFARM)))
    assert cached_plans(home) == 1
    with connect(home) as host:
        token = host.change_token()
    again = ok(xenctl(home, "plan", str(WEBFARM)))
    assert again.stdout == first.stdout
    assert cached_plans(home) == 1
    with connect(home) as host:
        assert host.change_token() == token  # the cached plan read nothing that changes the host


def test_a_change_by_hand_is_planned_though_the_specs_did_not_change(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    assert "No changes" in ok(xenctl(home, "plan", str(WEBFARM))).stdout
    ok(xenctl(home, "mem-set", "db", "1024"))
    result = xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM))
    assert result.returncode == 2
    assert "memory: 1G -> 2G" in result.stdout
    again = xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM))  # from the cache: the same exit code
    assert again.returncode == 2
    assert again.stdout == result.stdout


def test_an_edited_spec_or_a_new_autostart_entry_is_planned(tmp_path: Path, xen_root: Path) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    shutil.copytree(WEBFARM, specs)
    converge(home, [specs])
    assert "No changes" in ok(xenctl(home, "plan", str(specs))).stdout

    domains = specs / "domains.yaml"
    domains.write_text(domains.read_text().replace("memory: 2G", "memory: 3G", 1))
    assert "memory: 2G -> 3G" in ok(xenctl(home, "plan", str(specs))).stdout

    domains.write_text(domains.read_text().replace("memory: 3G", "memory: 2G", 1))
    assert "No changes" in ok(xenctl(home, "plan", str(specs))).stdout
    (xen_root / "auto" / "db").write_text("# edited by hand\n" + (xen_root / "auto" / "db").read_text())
    assert "autostart.db" in ok(xenctl(home, "plan", str(specs))).stdout


def test_the_change_token_moves_with_every_operation_and_when_a_boot_falls_due(tmp_path: Path) -> None:
    clock = VirtualClock()
    with open_host(str(tmp_path / "home"), clock=clock) as host:
        quiet = host.change_token()
        assert host.change_token() == quiet
        clock.advance(60)
        assert host.change_token() == quiet  # nothing due: time alone changes nothing a plan reads

        host.create_domain(DomainConfig(name="web1", kernel="/boot/vmlinuz-2.6.18-xen"))
        booting = host.change_token()
        assert booting != quiet
        clock.advance(1)
        assert host.change_token() == booting
        clock.advance(60)  # the boot is done: the domain is now running, with nothing done to it
        assert host.change_token() != booting


def test_a_host_made_anew_has_another_token(tmp_path: Path) -> None:
    clock = VirtualClock()
    home = str(tmp_path / "home")
    with open_host(home, clock=clock) as host:
        before = host.change_token()
    init_host(home, default_profile(), clock=clock, force=True).close()
    with open_host(home, clock=clock) as host:
        assert host.change_token() != before
