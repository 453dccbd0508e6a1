"""`xenctl apply` of a fleet: a moved pin is a live migration (or a refusal with xend's reason,
never a re-creation), and a host that fails does not stop the others, while a domain depending on
what failed elsewhere is held back and said so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.fleet.fleet_support import Fleet, domain_yaml, fleet

__all__ = ["fleet"]


def _pinned(f: Fleet, where: str) -> None:
    f.write(f.hosts_yaml("a", "b", "c") + "domains:\n" + domain_yaml("web", host=where) + domain_yaml("db", host="c"))


def _host_section(out: str, host: str) -> str:
    return out.split(f"Host {host} (")[1].split("\nHost ")[0].split("\nError:")[0]


def test_a_moved_pin_is_refused_with_xends_reason_and_neither_host_deletes_or_creates_it(fleet: Fleet) -> None:
    _pinned(fleet, "a")
    assert fleet.apply().code == 0
    _pinned(fleet, "b")
    shown = fleet.plan()
    assert shown.code == 1
    assert "Error: domain web must move from a to b, but host b does not take migrations:" in shown.out
    assert "(xend-relocation-server yes)" in shown.out
    for host in ("a", "b"):
        assert "No changes" in _host_section(shown.out, host)
    fleet.xend("b", "(xend-relocation-server yes)", "(xend-relocation-hosts-allow '^c$ ^elsewhere$')")
    shown = fleet.plan()
    assert shown.code == 1
    assert "host b does not take migrations from a: (xend-relocation-hosts-allow '^c$ ^elsewhere$')" in shown.out
    applied = fleet.apply()
    assert applied.code == 1 and "must move from a to b" in applied.err
    assert fleet.domains("a") == {"web": True} and fleet.domains("b") == {}  # nothing made, nothing lost


def test_a_moved_pin_is_migrated_live_and_reported_with_time_and_downtime(fleet: Fleet) -> None:
    _pinned(fleet, "a")
    assert fleet.apply().code == 0
    _pinned(fleet, "b")
    fleet.xend("b", "(xend-relocation-server yes)", "(xend-relocation-hosts-allow '^a$')")
    shown = fleet.plan("--detailed-exitcode")
    assert shown.code == 2
    assert "Migrations:\n  web: a -> b, live (pinned (host: b))" in shown.out
    for host in ("a", "b"):
        assert "No changes" in _host_section(shown.out, host)  # the migration moves it; no host re-creates it
    assert "1 migration." in shown.out
    applied = fleet.apply()
    assert applied.code == 0, applied.err
    line = next(x for x in applied.out.splitlines() if x.startswith("web: migrated"))
    assert line.startswith("web: migrated live from a to b in ") and " s (downtime " in line and " ms)" in line
    assert fleet.domains("a") == {} and fleet.domains("b") == {"web": True}
    assert ("create", "web", "ok") not in fleet.events("b")  # it arrived by migration, not made anew
    assert fleet.plan("--detailed-exitcode").code == 0


def test_one_host_failing_stops_neither_the_others_and_its_dependents_elsewhere_are_held_back(fleet: Fleet) -> None:
    fleet.write(
        fleet.hosts_yaml("a", "b", "c")
        + "domains:\n"
        + domain_yaml("db", host="a")
        + domain_yaml("cache", host="a")
        + domain_yaml("app", host="b", depends_on="[db]")
        + domain_yaml("tools", host="b")
        + domain_yaml("mail", host="c")
    )
    fault = fleet.run("-c", fleet.url("a"), "host", "fault", "add", "create", "db", "--message", "out of grant tables")
    assert fault.code == 0, fault.err
    applied = fleet.apply()
    assert applied.code == 1
    assert "out of grant tables" in applied.out + applied.err
    assert "b: not made, because a dependency on another host failed: app" in applied.err
    assert "finished with errors" in applied.out
    assert fleet.domains("a") == {"cache": True}
    assert fleet.domains("b") == {"tools": True}
    assert fleet.domains("c") == {"mail": True}
    fleet.run("-c", fleet.url("a"), "host", "fault", "clear")
    again = fleet.apply()
    assert again.code == 0, again.err
    assert fleet.domains("b") == {"app": True, "tools": True}


def test_hosts_whose_domains_depend_on_each_other_in_a_ring_apply_without_waiting_forever(fleet: Fleet) -> None:
    # a's x needs b's y, b's z needs c's w, c's v needs a's u: no domain waits on itself, but each
    # host waits on the next; the three apply together instead of each waiting for the other.
    fleet.write(
        fleet.hosts_yaml("a", "b", "c")
        + "domains:\n"
        + domain_yaml("u", host="a")
        + domain_yaml("x", host="a", depends_on="[y]")
        + domain_yaml("y", host="b")
        + domain_yaml("z", host="b", depends_on="[w]")
        + domain_yaml("w", host="c")
        + domain_yaml("v", host="c", depends_on="[u]")
    )
    applied = fleet.apply()
    assert applied.code == 0, applied.err
    assert fleet.domains("a") == {"u": True, "x": True}
    assert fleet.domains("b") == {"y": True, "z": True}
    assert fleet.domains("c") == {"w": True, "v": True}


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
def test_an_apply_killed_in_a_migration_is_settled_by_the_next_apply_and_the_plan_converges(
    fleet: Fleet, steps: int
) -> None:
    _pinned(fleet, "a")
    assert fleet.apply().code == 0
    fleet.relocation("a", "b", "c")
    _pinned(fleet, "b")
    killed = subprocess.run(
        [sys.executable, "-m", "xenctl", "apply", "--auto-approve", str(fleet.specs)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "XENCTL_TIME_SCALE": "0", "XENCTL_KILL_AFTER": str(steps)},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr  # killed in the move
    on_a, on_b = fleet.domains("a"), fleet.domains("b")
    assert not (on_a.get("web") and on_b.get("web")), (on_a, on_b)  # never up on both
    again = fleet.apply()
    assert again.code == 0, again.out + again.err
    on_a, on_b = fleet.domains("a"), fleet.domains("b")
    assert ("web" in on_a, "web" in on_b) == (False, True) and on_b["web"], (on_a, on_b)
    assert "No changes" in fleet.plan().out and fleet.plan().code == 0
