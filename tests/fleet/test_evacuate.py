"""`xenctl evacuate HOST`: every guest leaves live, dependencies first, with the report; a guest
that cannot leave is named with its reason; the drained host gets nothing until `--undo`."""

from __future__ import annotations

from tests.fleet.fleet_support import Fleet, domain_yaml, fleet

__all__ = ["fleet"]


def _fleet(f: Fleet, *domains: str) -> None:
    f.write(f.hosts_yaml("a", "b", "c") + "domains:\n" + "".join(domains))


def _running_on_a(f: Fleet) -> None:
    """db, app (depends on db) and web on a (placement packs them there), b and c take migrations."""
    _fleet(f, domain_yaml("app", depends_on="[db]"), domain_yaml("web"), domain_yaml("db"))
    assert f.apply().code == 0
    where = {name: host for host in "abc" for name in f.domains(host)}
    assert set(where.values()) == {"a"}, where
    f.relocation("a", "b", "c")


def test_every_guest_leaves_live_dependencies_first_with_makespan_and_downtime(fleet: Fleet) -> None:
    _running_on_a(fleet)
    result = fleet.run("evacuate", "a", "--specs", str(fleet.specs))
    assert result.code == 0, result.err
    moved = [line for line in result.out.splitlines() if ": moved live to " in line]
    assert len(moved) == 3
    names = [line.split(":")[0] for line in moved]
    assert names.index("db") < names.index("app")
    assert all(" s (downtime " in line for line in moved)
    assert "Evacuated a: 3 moved live in " in result.out and " ms in all), 0 stayed." in result.out
    assert fleet.domains("a") == {}
    assert set(fleet.domains("b")) | set(fleet.domains("c")) == {"app", "web", "db"}
    assert ("create", "db", "ok") not in fleet.events("b") + fleet.events("c")  # migrated, not re-made


def test_the_drained_host_gets_nothing_until_undo(fleet: Fleet) -> None:
    _running_on_a(fleet)
    assert fleet.run("evacuate", "a", "--specs", str(fleet.specs)).code == 0
    again = fleet.plan("--detailed-exitcode")
    assert again.code == 0, again.out  # everything stays where it went; nothing goes back to a
    _fleet(fleet, domain_yaml("app", depends_on="[db]"), domain_yaml("web"), domain_yaml("db"), domain_yaml("new"))
    shown = fleet.plan()
    assert "  new -> a" not in shown.out and "  new -> " in shown.out
    assert "No changes" in shown.out.split("Host a (")[1].split("\nHost ")[0]
    listed = fleet.run("list", "--all-hosts", "--specs", str(fleet.specs))
    assert "a    (drained)" in listed.out
    three = domain_yaml("app", depends_on="[db]") + domain_yaml("web") + domain_yaml("db")
    _fleet(fleet, three, domain_yaml("new", host="a"))
    shown = fleet.plan()
    assert shown.code == 1 and "domain new cannot be placed: pinned to a, which is draining" in shown.out
    undo = fleet.run("evacuate", "--undo", "a", "--specs", str(fleet.specs))
    assert undo.code == 0 and "Host a takes domains again" in undo.out
    shown = fleet.plan()
    assert shown.code == 0 and "  new -> a: pinned (host: a)" in shown.out


def test_a_guest_that_cannot_leave_is_named_with_its_reason_and_the_others_still_move(fleet: Fleet) -> None:
    fleet.write(
        fleet.hosts_yaml("a", "b", "c")
        + "storage:\n  volume_groups:\n    - {name: vg0, host: a, pvs: [/dev/sda10]}\n"
        + "  volumes:\n    - {name: root, lvm: {vg: vg0, size: 1G}}\n"
        + "domains:\n"
        + domain_yaml("local", disks="[{volume: root, vdev: sda1}]")
        + domain_yaml("free", host="a")
    )
    assert fleet.apply().code == 0
    fleet.relocation("b", "c")
    result = fleet.run("evacuate", "a", "--specs", str(fleet.specs))
    assert result.code == 1
    assert "Error: local could not leave a: " in result.err
    assert "vg0" in result.err.split("Error: local could not leave a: ")[1].splitlines()[0]
    assert "free: moved live to " in result.out and "1 moved live" in result.out and "1 stayed" in result.out
    assert fleet.domains("a") == {"local": True}


def test_evacuate_picks_a_host_whose_xend_takes_the_guests(fleet: Fleet) -> None:
    for taker in ("b", "c"):
        _fleet(fleet, domain_yaml("vm", host="a"))
        assert fleet.run("evacuate", "--undo", "a", "--specs", str(fleet.specs)).code == 0
        applied = fleet.apply()
        assert applied.code == 0, applied.err
        fleet.relocation("a", taker)
        other = "c" if taker == "b" else "b"
        fleet.xend(other, "(xend-relocation-server no)")
        result = fleet.run("evacuate", "a", "--specs", str(fleet.specs))
        assert result.code == 0, result.err
        assert f"vm: moved live to {taker} " in result.out
        assert fleet.domains(taker) == {"vm": True}
        fleet.run("-c", fleet.url(taker), "destroy", "vm")
        assert fleet.domains(taker) == {"vm": False} or fleet.domains(taker) == {}


def test_no_host_taking_migrations_names_the_xend_refusals(fleet: Fleet) -> None:
    _fleet(fleet, domain_yaml("vm", host="a"))
    assert fleet.apply().code == 0
    result = fleet.run("evacuate", "a", "--specs", str(fleet.specs))
    assert result.code == 1
    assert "Error: vm could not leave a: " in result.err and "(xend-relocation-server yes)" in result.err
    assert fleet.domains("a") == {"vm": True}


def test_evacuating_a_host_not_in_the_fleet_is_one_line(fleet: Fleet) -> None:
    _fleet(fleet, domain_yaml("vm"))
    result = fleet.run("evacuate", "zz", "--specs", str(fleet.specs))
    assert result.code != 0 and result.err.strip() == "Error: host zz is not in the fleet; its hosts are a, b, c"
