"""Helpers for the plan and apply tests: specs in a file, plans and applies in-process, the host's record."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.helpers import ROOT, run_xenctl
from xenctl.engine.sim import SimHost, SystemClock, open_host
from xenctl.reconcile.apply import ApplyResult, apply_plan
from xenctl.reconcile.diff import DiffOptions, diff
from xenctl.reconcile.plan import Plan, make_plan
from xenctl.spec.load import load_specs

EXAMPLES = ROOT / "specs" / "examples"
WEBFARM = EXAMPLES / "webfarm"
KERNEL = "/boot/vmlinuz-2.6.18-xen"


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def connect(home: Path, scale: float = 0.0) -> SimHost:
    return open_host(str(home), clock=SystemClock(scale))


def plan_for(
    home: Path,
    paths: Iterable[Path | str],
    *,
    adopt: bool = False,
    destroy_data: bool = False,
    target: str | None = None,
) -> Plan:
    """What ``xenctl plan`` computes, in-process."""
    desired = load_specs([str(p) for p in paths])
    with connect(home) as host:
        live = host.snapshot()
    result = diff(desired, live, DiffOptions(adopt=adopt, destroy_data=destroy_data))
    return make_plan(result, desired, live, target=target)


def apply_in_process(plan: Plan, home: Path, *, scale: float = 0.0, parallelism: int = 10) -> ApplyResult:
    return apply_plan(plan, lambda: connect(home, scale), parallelism=parallelism)


def converge(home: Path, paths: Iterable[Path | str], **options: bool) -> ApplyResult:
    """Plan and apply, as ``xenctl apply --auto-approve`` does, in-process; every action must succeed."""
    result = apply_in_process(plan_for(home, list(paths), **options), home)
    assert result.ok, {a: o.error for a, o in result.outcomes.items() if not o.ok}
    return result


def actions(plan: Plan) -> dict[str, str]:
    return {c.address: c.action.value for c in plan.changes}


def plan_json(home: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = run_xenctl(home, "plan", "--json", *args)
    assert result.returncode == 0, result.stderr
    loaded: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return loaded


def by_address(plan: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["address"]: c for c in plan["resource_changes"]}


def host_record(home: Path) -> tuple[str, str]:
    """What a user sees of the host: ``xenctl list`` and the whole event log."""
    listed = run_xenctl(home, "list")
    events = run_xenctl(home, "events", "--json")
    assert listed.returncode == 0 and events.returncode == 0, listed.stderr + events.stderr
    return listed.stdout, events.stdout


def host_state(home: Path) -> tuple[object, ...]:
    """Everything on the host that a plan could change, without the clock's reading."""
    with connect(home) as host:
        live = host.snapshot()
        events = host.events()
    domains = tuple((d.domid, d.name, d.phase, d.target, d.vcpus, d.config, d.owner) for d in live.domains)
    return (domains, live.volume_groups, live.logical_volumes, live.images, live.nfs_exports, len(events))


def volumes(home: Path) -> dict[str, tuple[int, str]]:
    """Every logical volume and image file: its size and content digest, by path."""
    with connect(home) as host:
        live = host.snapshot()
    found = {lv.path: (lv.size, lv.digest) for lv in live.logical_volumes}
    found.update({image.path: (image.size, image.digest) for image in live.images})
    return found


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result
