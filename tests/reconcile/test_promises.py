"""Promises 1 and 2: live state is the truth, and what was made by hand is reported, never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import domain
from tests.reconcile.support import (
    EXAMPLES,
    KERNEL,
    WEBFARM,
    actions,
    apply_in_process,
    connect,
    converge,
    ok,
    plan_for,
    plan_json,
    volumes,
    write_spec,
    xenctl,
)
from xenctl.errors import PlanError

HANDY = f"""
domains:
  - name: handy
    memory: 128M
    kernel: {KERNEL}
    vifs: [{{bridge: xenbr0}}]
"""


def _handy(home: Path) -> tuple[int, str]:
    """``xm create`` by hand: a domain with no ownership marker."""
    with connect(home) as host:
        made = host.create_domain(domain("handy", 128))
    return made.domid, made.uuid


def _seen(home: Path, name: str) -> tuple[object, ...]:
    with connect(home) as host:
        found = host.snapshot().domain(name)
    assert found is not None
    return (found.domid, found.uuid, found.phase, found.target, found.config, found.owner)


def test_a_hand_made_domain_is_listed_as_unmanaged_and_left_exactly_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _handy(home)
    before = _seen(home, "handy")
    with connect(home) as host:
        seq = host.events()[-1].seq

    text = ok(xenctl(home, "plan", str(WEBFARM))).stdout
    assert "Not made by xenctl, left alone: domain.handy" in text
    assert "domain.handy" not in text.split("Not made by xenctl")[0]
    assert {"type": "domain", "name": "handy"} in plan_json(home, str(WEBFARM))["unmanaged"]

    ok(xenctl(home, "apply", "--auto-approve", str(WEBFARM)))
    assert _seen(home, "handy") == before
    with connect(home) as host:
        assert [e for e in host.events(since=seq) if e.obj == "handy"] == []


@pytest.mark.parametrize("destroy_data", [False, True])
def test_a_hand_made_domain_is_not_deleted_even_with_destroy_data(destroy_data: bool, tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [EXAMPLES / "nfs-root"])
    _handy(home)
    before = _seen(home, "handy")
    empty = write_spec(tmp_path / "specs", "domains: []\n")
    plan = plan_for(home, [empty], destroy_data=destroy_data)
    assert actions(plan) == {"domain.nfsvm": "delete"}
    assert [(u.kind.value, u.name) for u in plan.unmanaged] == [("domain", "handy")]
    assert apply_in_process(plan, home).ok
    assert _seen(home, "handy") == before


def test_a_spec_that_names_a_hand_made_domain_is_an_error_that_says_adopt(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _handy(home)
    spec = write_spec(tmp_path / "specs", HANDY)
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = xenctl(home, *command, str(spec))
        assert result.returncode == 1
        assert "domain.handy" in result.stderr and "--adopt" in result.stderr
        assert "Traceback" not in result.stderr
    with connect(home) as host:
        assert host.snapshot().domain("handy").owner is None  # type: ignore[union-attr]


def test_with_adopt_a_hand_made_domain_becomes_xenctls_and_is_managed_from_then_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    domid, uuid = _handy(home)
    spec = write_spec(tmp_path / "specs", HANDY)

    plan = plan_json(home, "--adopt", str(spec))
    assert [(c["address"], c["change"]["xenctl_action"]) for c in plan["resource_changes"]] == [
        ("domain.handy", "adopt")
    ]
    ok(xenctl(home, "apply", "--auto-approve", "--adopt", str(spec)))
    with connect(home) as host:
        adopted = host.snapshot().domain("handy")
    assert adopted is not None and (adopted.domid, adopted.uuid) == (domid, uuid)  # the same guest, not remade
    assert adopted.owner is not None and adopted.owner.managed_by == "xenctl"

    assert xenctl(home, "plan", "--detailed-exitcode", str(spec)).returncode == 0  # no --adopt needed now
    spec.write_text("domains: []\n")
    assert actions(plan_for(home, [spec])) == {"domain.handy": "delete"}


def test_adopting_a_domain_that_differs_from_its_spec_shows_the_differences_and_converges_in_one_apply(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with connect(home) as host:
        host.create_domain(domain("handy", 128, maxmem=512))
    spec = write_spec(tmp_path / "specs", HANDY.replace("memory: 128M", "memory: 256M\n    maxmem: 512M"))

    plan = plan_for(home, [spec], adopt=True)
    (change,) = plan.changes
    assert change.address == "domain.handy"
    assert [(f.name, f.before, f.after) for f in change.fields] == [("memory", 128, 256)]  # shown before it happens
    assert apply_in_process(plan, home).ok
    assert plan_for(home, [spec]).changes == ()


def test_adopting_a_domain_that_needs_a_restart_is_counted_and_shown_as_the_restart_apply_makes(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    domid, _uuid = _handy(home)
    spec = write_spec(tmp_path / "specs", HANDY + "    extra: console=tty\n")

    text = ok(xenctl(home, "plan", "--adopt", str(spec))).stdout
    (line,) = [line for line in text.splitlines() if "domain.handy" in line]
    assert line.lstrip().startswith("-/+") and "restart" in line and "(extra forces it)" in line
    assert "Plan: 0 to create, 0 to update, 1 to restart," in text
    (change,) = plan_json(home, "--adopt", str(spec))["resource_changes"]
    assert change["change"]["actions"] == ["delete", "create"] and change["change"]["replace_paths"] == [["extra"]]

    ok(xenctl(home, "apply", "--auto-approve", "--adopt", str(spec)))
    with connect(home) as host:
        adopted = host.snapshot().domain("handy")
    assert adopted is not None and adopted.domid != domid  # restarted, as the plan said
    assert adopted.config.extra == "console=tty"


def test_a_hand_made_volume_in_a_managed_group_is_never_touched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", "storage:\n  volume_groups: [{name: vg, pvs: [/dev/sda10]}]\n")
    converge(home, [spec])
    with connect(home) as host:
        host.create_logical_volume("vg", "byhand", 256 * 1024 * 1024)
        host.format_volume("/dev/vg/byhand", "ext3")
    before = volumes(home)

    plan = plan_for(home, [spec], destroy_data=True)
    assert plan.changes == ()
    assert [(u.kind.value, u.name) for u in plan.unmanaged] == [("volume", "byhand")]
    assert apply_in_process(plan, home).ok
    assert volumes(home) == before

    spec.write_text(
        "storage:\n  volume_groups: [{name: vg, pvs: [/dev/sda10]}]\n"
        "  volumes: [{name: byhand, lvm: {vg: vg, size: 256M}}]\n"
    )
    with pytest.raises(PlanError, match=r"--adopt.*volume\.byhand"):
        plan_for(home, [spec])


def test_every_plan_reads_the_live_host_afresh(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [EXAMPLES / "nfs-root"])
    assert plan_for(home, [EXAMPLES / "nfs-root"]).changes == ()
    with connect(home) as host:
        host.destroy_domain("nfsvm")
    assert actions(plan_for(home, [EXAMPLES / "nfs-root"])) == {"domain.nfsvm": "create"}
