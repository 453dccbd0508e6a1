"""`xenctl plan` and `apply` of specs declaring hosts: what a user reads: where each domain goes
and why, each host's section, the errors of a spec that names hosts wrongly, a domain no host can
take, and local storage keeping its domains together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fleet.fleet_support import Fleet, domain_yaml, fleet

__all__ = ["fleet"]

THREE = {"a": "labels: [ssd]\ncapacity: {memory: 2G, vcpus: 8}", "b": "labels: [ssd, rack2]", "c": ""}


def _spec(f: Fleet, *domains: str, extra: dict[str, str] | None = None) -> None:
    f.write(f.hosts_yaml("a", "b", "c", extra=THREE if extra is None else extra) + "domains:\n" + "".join(domains))


def _placements(f: Fleet) -> dict[str, str | None]:
    shown = f.plan("--json")
    return {p["domain"]: p["host"] for p in json.loads(shown.out)["placements"]}


def test_a_fleet_is_planned_host_by_host_with_reasons_applied_and_then_has_nothing_to_do(fleet: Fleet) -> None:
    _spec(
        fleet,
        domain_yaml("db", "512M", host="a"),
        domain_yaml("web1", spread="web"),
        domain_yaml("web2", spread="web"),
        domain_yaml("web3", spread="web"),
        domain_yaml("fast", "128M", host_labels="[rack2]"),
    )
    shown = fleet.plan()
    assert shown.code == 0, shown.err
    assert "Fleet of 3 hosts: a (sim://" in shown.out
    assert "  db -> a: pinned (host: a)" in shown.out
    assert "  fast -> b:" in shown.out  # only b carries rack2
    for name in ("a", "b", "c"):
        assert f"Host {name} ({fleet.url(name)}):" in shown.out
    assert "Fleet plan: 5 changes on 3 hosts." in shown.out
    where = _placements(fleet)
    assert len({where["web1"], where["web2"], where["web3"]}) == 3  # one group: one to a host

    applied = fleet.apply()
    assert applied.code == 0, applied.err
    assert "Fleet apply complete" in applied.out
    for name, host in where.items():
        assert fleet.domains(str(host)).get(name) is True, (name, host)
    again = fleet.plan("--detailed-exitcode")
    assert again.code == 0, again.out
    assert "Fleet plan: 0 changes on 3 hosts." in again.out
    assert "Placement:" not in again.out  # every domain stays where it runs


def test_capacity_from_hosts_limits_what_a_host_is_given(fleet: Fleet) -> None:
    extra = {"a": "capacity: {memory: 600M, vcpus: 2}", "b": "capacity: {memory: 600M, vcpus: 2}"}
    fleet.write(
        fleet.hosts_yaml("a", "b", extra=extra)
        + "domains:\n"
        + "".join(domain_yaml(f"vm{i}", "250M") for i in range(4))
    )
    where = _placements(fleet)
    assert sorted(str(h) for h in where.values()) == ["a", "a", "b", "b"]  # 2 x 252M fit in 600M, not 3
    five = "".join(domain_yaml(f"vm{i}", "250M") for i in range(5))
    fleet.write(fleet.hosts_yaml("a", "b", extra=extra) + "domains:\n" + five)
    shown = fleet.plan()
    assert shown.code == 1
    assert "Error: domain vm" in shown.out and "cannot be placed" in shown.out


def _error_of(fleet: Fleet, text: str) -> str:
    fleet.write(text)
    result = fleet.plan()
    assert result.code == 1, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


def test_a_pin_to_an_undeclared_host_is_one_line_with_file_and_line(fleet: Fleet) -> None:
    line = _error_of(fleet, fleet.hosts_yaml("a", "b") + "domains:\n" + domain_yaml("vm", host="zz"))
    assert line.startswith(f"{fleet.specs / 'fleet.yaml'}:")
    assert ":10:" in line or ":10" in line.split(" ")[0]  # host: zz is on line 10
    assert "zz" in line


def test_a_host_or_uri_declared_twice_is_one_line(fleet: Fleet) -> None:
    twice = f"hosts:\n  - name: a\n    connect: {fleet.url('a')}\n  - name: a\n    connect: {fleet.url('b')}\n"
    line = _error_of(fleet, twice + "domains: []\n")
    assert "fleet.yaml:4:" in line and "host a is declared twice: first in" in line and "fleet.yaml:2" in line
    same_uri = f"hosts:\n  - name: a\n    connect: {fleet.url('a')}\n  - name: b\n    connect: {fleet.url('a')}\n"
    line = _error_of(fleet, same_uri + "domains: []\n")
    assert "fleet.yaml:4:" in line and f"host URI {fleet.url('a')} is declared twice" in line


def test_fleet_rules_without_hosts_are_one_line_each(fleet: Fleet) -> None:
    for field in ("spread: web", "host_labels: [ssd]"):
        fleet.write("domains:\n" + domain_yaml("vm") + f"    {field}\n")
        result = fleet.run("-c", fleet.url("a"), "plan", str(fleet.specs))
        assert result.code == 1, result.out
        assert len(result.err.strip().splitlines()) == 1, result.err
        assert "fleet.yaml:" in result.err and field.split(":")[0] in result.err


def test_a_bad_connect_uri_is_one_line(fleet: Fleet) -> None:
    line = _error_of(fleet, "hosts:\n  - name: a\n    connect: not a uri\ndomains: []\n")
    assert "fleet.yaml:3" in line and "is not a host URI" in line
    line = _error_of(fleet, "hosts:\n  - name: a\n    connect: nosuch:///x\ndomains: []\n")
    assert "a" in line and "nosuch" in line


def test_a_domain_no_host_can_take_is_an_error_naming_why_and_a_running_one_is_kept(fleet: Fleet) -> None:
    _spec(fleet, domain_yaml("big", "256M"), extra={"a": "", "b": "", "c": ""})
    assert fleet.apply().code == 0
    home = next(h for h in "abc" if "big" in fleet.domains(h))
    _spec(fleet, domain_yaml("big", "256M", host_labels="[gpu]"), extra={"a": "", "b": "", "c": ""})
    shown = fleet.plan()
    assert shown.code == 1
    assert "Error: domain big cannot be placed:" in shown.out and "gpu" in shown.out
    assert "delete" not in shown.out.split("Error:")[0].replace("0 to delete", "")
    applied = fleet.apply()
    assert applied.code == 1
    assert "big cannot be placed" in applied.err
    assert fleet.domains(home) == {"big": True}  # never deleted


def test_domains_sharing_a_volume_group_land_on_one_host(fleet: Fleet) -> None:
    fleet.write(
        fleet.hosts_yaml("a", "b", "c")
        + """storage:
  volume_groups:
    - {name: vg0, host: b, pvs: [/dev/sda10]}
  volumes:
    - {name: d1, lvm: {vg: vg0, size: 1G}}
    - {name: d2, lvm: {vg: vg0, size: 1G}}
domains:
"""
        + domain_yaml("one", disks="[{volume: d1, vdev: sda1}]")
        + domain_yaml("two", disks="[{volume: d2, vdev: sda1}]")
    )
    where = _placements(fleet)
    assert where == {"one": "b", "two": "b"}
    text = (fleet.specs / "fleet.yaml").read_text().replace("host: b, ", "")
    big = domain_yaml("big1", "15800M") + domain_yaml("big2", "15800M")  # each leaves room for one of the pair
    fleet.write(text.replace("domains:\n", "domains:\n" + big))
    where = _placements(fleet)
    assert where["one"] == where["two"] not in (where["big1"], where["big2"])  # together, where room is
    applied = fleet.apply()
    assert applied.code == 0, applied.err
    assert set(fleet.domains(str(where["one"]))) == {"one", "two"}


def test_storage_no_domain_uses_and_no_host_names_is_an_error(fleet: Fleet) -> None:
    fleet.write(
        fleet.hosts_yaml("a", "b")
        + "storage:\n  volume_groups:\n    - {name: vg0, pvs: [/dev/sda10]}\n"
        + "domains:\n"
        + domain_yaml("vm")
    )
    shown = fleet.plan()
    assert shown.code == 1
    assert "Error: volume group vg0 is used by no domain of the fleet; say which host it is on with host:" in shown.out


def test_target_plans_and_applies_only_that_domain_on_its_host(fleet: Fleet) -> None:
    _spec(fleet, domain_yaml("db", "512M", host="a"), domain_yaml("web1", host="c"))
    shown = fleet.plan("--target", "web1")
    assert shown.code == 0, shown.err
    assert "domain.web1" in shown.out and "domain.db" not in shown.out
    applied = fleet.apply("--target", "web1")
    assert applied.code == 0, applied.err
    assert fleet.domains("c") == {"web1": True} and fleet.domains("a") == {}
    missing = fleet.plan("--target", "nowhere")
    assert missing.code == 1
    assert missing.err == "Error: --target nowhere: nothing of that name in the specs or the plan\n"


def test_a_fleets_specs_are_refused_by_a_single_hosts_plan(fleet: Fleet) -> None:
    # The page's plan and xenctl watch plan one host: a fleet there would put every domain on it.
    import pytest

    from xenctl.app.host import Settings, connect
    from xenctl.app.options import PlanOptions
    from xenctl.app.plans import plan
    from xenctl.errors import UsageError

    _spec(fleet, domain_yaml("web1", host="c"))
    with connect(fleet.url("a"), Settings(time_scale=0)) as host, pytest.raises(UsageError) as refused:
        plan(host, [str(fleet.specs)], PlanOptions())
    assert "the specs declare a fleet (hosts: in " in str(refused.value)
    assert fleet.domains("a") == {}


def test_a_fleets_plan_needs_no_single_host_and_makes_nothing_under_one(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _spec(fleet, domain_yaml("db", "256M"))
    home = tmp_path / "default-home"
    monkeypatch.setenv("XENCTL_HOME", str(home))
    monkeypatch.delenv("XENCTL_CONNECT", raising=False)
    result = fleet.plan()
    assert result.code == 0, result.err
    assert "db" in result.out
    assert not home.exists()  # the default host's home is not made by planning a fleet
    bogus = fleet.run("-c", "not a uri", "plan", str(fleet.specs))  # the fleet's hosts are in its specs
    assert bogus.code == 0, bogus.err
    assert bogus.out == result.out
    single = fleet.run("-c", "not a uri", "plan", str(fleet.root))  # no fleet's specs there: the error stands
    assert single.code == 1 and "not a uri" in single.err
