"""``xenctl plan``, ``apply`` and ``graph`` as a user runs them: examples converge, JSON, DOT, targets, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_xenctl
from tests.reconcile.support import (
    EXAMPLES,
    KERNEL,
    WEBFARM,
    by_address,
    connect,
    converge,
    host_state,
    ok,
    plan_for,
    plan_json,
    write_spec,
    xenctl,
)


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.name)
def test_every_example_applies_to_a_fresh_host_and_then_there_is_nothing_to_do(example: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = ok(xenctl(home, "apply", "--auto-approve", str(example)))
    assert "Apply complete" in first.stdout and "0 failed, 0 skipped" in first.stdout
    after_first = host_state(home)

    second = ok(xenctl(home, "apply", "--auto-approve", str(example)))
    assert "No changes" in second.stdout
    assert "Apply complete" not in second.stdout
    assert host_state(home) == after_first  # not one event more: the second apply did nothing

    plan = xenctl(home, "plan", "--detailed-exitcode", str(example))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout


def test_the_installed_command_applies_the_webfarm_and_then_plans_nothing(tmp_path: Path) -> None:
    """The same, end to end, through the real ``xenctl`` process a user runs."""
    home = tmp_path / "home"
    assert run_xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM)).returncode == 2
    applied = ok(run_xenctl(home, "apply", "--auto-approve", str(WEBFARM)))
    assert "Apply complete: 14 done, 0 failed, 0 skipped." in applied.stdout
    again = run_xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout


def test_plan_with_detailed_exitcode_says_2_while_there_are_changes(tmp_path: Path) -> None:
    result = xenctl(tmp_path / "home", "plan", "--detailed-exitcode", str(WEBFARM))
    assert result.returncode == 2, result.stderr
    assert "Plan: 14 to create" in result.stdout


def test_plan_changes_nothing_on_the_host(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [EXAMPLES / "nfs-root"])
    before = host_state(home)
    xenctl(home, "plan", str(WEBFARM))
    assert host_state(home) == before


def test_plan_json_is_versioned_and_lists_terraform_style_actions(tmp_path: Path) -> None:
    plan = plan_json(tmp_path / "home", str(WEBFARM))
    assert plan["format_version"] == "1.0"
    changes = by_address(plan)
    assert set(changes) >= {"volume_group.data", "volume.db-data", "domain.db", "domain.web1", "nfs_export.webroot"}
    assert all(c["change"]["actions"] == ["create"] for c in plan["resource_changes"])
    assert all(c["action_reason"] for c in plan["resource_changes"])


def test_a_restart_in_plan_json_names_the_field_that_forces_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = f"domains:\n  - {{name: web1, memory: 128M, kernel: {KERNEL}, vifs: [{{bridge: xenbr0}}]}}\n"
    path = write_spec(tmp_path / "specs", spec)
    converge(home, [path])
    path.write_text(spec.replace(KERNEL, "/boot/vmlinuz-2.6.24-xen"))

    change = by_address(plan_json(home, str(path)))["domain.web1"]
    assert change["change"]["actions"] == ["delete", "create"]
    assert change["change"]["xenctl_action"] == "restart"
    assert change["change"]["replace_paths"] == [["kernel"]]
    assert change["change"]["before"] == {"kernel": KERNEL}
    assert change["change"]["after"] == {"kernel": "/boot/vmlinuz-2.6.24-xen"}

    text = xenctl(home, "plan", str(path)).stdout
    assert "-/+ domain.web1" in text and "kernel forces it" in text


def test_graph_prints_dot_with_storage_before_users_and_dependencies_before_dependents(tmp_path: Path) -> None:
    result = ok(xenctl(tmp_path / "home", "graph", str(WEBFARM)))
    dot = result.stdout
    assert dot.startswith("digraph plan {") and dot.rstrip().endswith("}")
    for edge in (
        '"volume_group.data" -> "volume.db-data"',
        '"volume.db-data" -> "domain.db"',
        '"volume.nfs1-root" -> "domain.nfs1"',
        '"domain.db" -> "domain.web1"',
        '"domain.db" -> "domain.web2"',
        '"domain.nfs1" -> "nfs_export.webroot"',
        '"nfs_export.webroot" -> "domain.web1"',
    ):
        assert f"  {edge};" in dot.splitlines(), edge
    assert '"domain.web1" -> "domain.db"' not in dot


def test_target_plans_only_that_domain_and_what_it_depends_on(tmp_path: Path) -> None:
    plan = plan_json(tmp_path / "home", "--target", "web1", str(WEBFARM))
    assert set(by_address(plan)) == {
        "volume_group.data",
        "volume.db-data",
        "volume.db-root",
        "volume.nfs1-export",
        "volume.nfs1-root",
        "nfs_export.webroot",
        "domain.db",
        "domain.nfs1",
        "domain.web1",
        "autostart.web1",  # the entry of that name, which waits on nothing but its domain
    }


def test_target_includes_drift_in_what_the_target_depends_on_even_when_the_target_is_in_sync(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    with connect(home) as host:
        host.set_memory("db", 1024)  # web1 depends on db
    planned = by_address(plan_json(home, "--target", "web1", str(WEBFARM)))
    assert set(planned) == {"domain.db"}
    assert planned["domain.db"]["change"]["after"] == {"memory": 2048}


def test_a_target_that_names_nothing_in_the_specs_is_an_error(tmp_path: Path) -> None:
    result = xenctl(tmp_path / "home", "plan", "--target", "web9", str(WEBFARM))
    assert result.returncode == 1
    assert "web9" in result.stderr
    assert "No changes" not in result.stdout


def test_applying_a_target_leaves_the_rest_for_the_next_apply(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM], target="db")
    remaining = {c.address: c.action.value for c in plan_for(home, [WEBFARM]).changes}
    assert remaining == {
        "volume.nfs1-export": "create",
        "volume.nfs1-root": "create",
        "nfs_export.webroot": "create",
        "domain.nfs1": "create",
        "domain.web1": "create",
        "domain.web2": "create",
        "autostart.nfs1": "create",
        "autostart.web1": "create",
        "autostart.web2": "create",
    }


def test_apply_without_a_terminal_and_without_auto_approve_refuses_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [EXAMPLES / "nfs-root"])
    before = host_state(home)
    result = run_xenctl(home, "apply", str(WEBFARM), stdin="")
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr
    assert "Traceback" not in result.stderr
    assert host_state(home) == before
    again = ok(xenctl(home, "apply", "--auto-approve", "--lock-timeout", "0", str(WEBFARM)))
    assert "Apply complete" in again.stdout  # the refusal let go of the host's lock
