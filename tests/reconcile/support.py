"""Helpers for the plan and apply tests: specs in a file, plans and applies in-process, the host's record."""

from __future__ import annotations

import io
import json
import os
import os as _os
import subprocess
from collections.abc import Iterable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path

from tests.helpers import ROOT
from xenctl.cli.main import main
from xenctl.engine.sim import SimHost, SystemClock, open_host
from xenctl.reconcile.apply import ApplyResult, apply_plan
from xenctl.reconcile.diff import DiffOptions, diff
from xenctl.reconcile.plan import Plan, make_plan
from xenctl.spec.load import load_specs
from xenctl.xmconfig.auto import AutoDir

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
    auto = AutoDir(_os.environ["XENCTL_XEN_ROOT"])  # the test's own (conftest), as the command line finds it
    result = diff(desired, live, DiffOptions(adopt=adopt, destroy_data=destroy_data), auto.listing())
    return make_plan(result, desired, live, target=target, auto=auto)


def apply_in_process(plan: Plan, home: Path, *, scale: float = 0.0, parallelism: int = 10) -> ApplyResult:
    return apply_plan(plan, lambda: connect(home, scale), parallelism=parallelism)


def converge(
    home: Path,
    paths: Iterable[Path | str],
    *,
    adopt: bool = False,
    destroy_data: bool = False,
    target: str | None = None,
) -> ApplyResult:
    """Plan and apply, as ``xenctl apply --auto-approve`` does, in-process; every action must succeed."""
    plan = plan_for(home, list(paths), adopt=adopt, destroy_data=destroy_data, target=target)
    result = apply_in_process(plan, home)
    assert result.ok, {a: o.error for a, o in result.outcomes.items() if not o.ok}
    return result


def actions(plan: Plan) -> dict[str, str]:
    return {c.address: c.action.value for c in plan.changes}


def xenctl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``xenctl`` command's own code, run in this process (much faster than a new process each time).

    The same entry point as the console script, with instant simulated time; for what needs a process
    of its own (the lock's holder, a terminal or not), use ``tests.helpers.run_xenctl``.
    """
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("XENCTL_TIME_SCALE")
    os.environ["XENCTL_TIME_SCALE"] = "0"
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(["--home", str(home), *args])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        if saved is None:
            del os.environ["XENCTL_TIME_SCALE"]
        else:
            os.environ["XENCTL_TIME_SCALE"] = saved
    return subprocess.CompletedProcess(["xenctl", *args], code, out.getvalue(), err.getvalue())


def plan_json(home: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = xenctl(home, "plan", "--json", *args)
    assert result.returncode == 0, result.stderr
    loaded: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return loaded


def by_address(plan: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["address"]: c for c in plan["resource_changes"]}


def host_state(home: Path) -> tuple[object, ...]:
    """Everything on the host that a plan could change, without the clock's reading."""
    with connect(home) as host:
        live = host.snapshot()
        events = host.events()
    domains = tuple((d.domid, d.name, d.phase, d.target, d.vcpus, d.config, d.owner) for d in live.domains)
    # What running guests write moves digests and COW use on its own: the rest must stand still.
    lvs = tuple(replace(lv, digest="", cow_used=0) for lv in live.logical_volumes)
    images = tuple(replace(image, digest="") for image in live.images)
    return (domains, live.volume_groups, lvs, images, live.nfs_exports, events)


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
