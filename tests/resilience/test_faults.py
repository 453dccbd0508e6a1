"""Faults during an apply: the k-th operation fails (once, and from then on), or one in ten does.

Every failure is reported once, with its root cause; what does not depend on it completes; and
once the fault is gone, applying again converges, with no volume's content changed on the way.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import networkx as nx
import pytest

from tests.reconcile.support import connect, plan_for, volumes, write_spec, xenctl
from tests.resilience.crash import profile, spec
from xenctl.engine.api import Fault

OBJECTS = int(os.environ.get("XENCTL_RESILIENCE_OBJECTS", "8"))  # bench/resilience.py: 200


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spec(tmp_path_factory.mktemp("faults"), spec(OBJECTS))


@pytest.fixture(scope="module")
def clean(specs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, tuple[int, str]]]:
    """How many operations a clean apply of the specs makes, and the data volumes it leaves."""
    home = tmp_path_factory.mktemp("count") / "home"
    _init(home)
    before = _ops(home)
    assert xenctl(home, "apply", "--auto-approve", str(specs)).returncode == 0
    return _ops(home) - before, _data(home)


def _data(home: Path) -> dict[str, tuple[int, str]]:
    """The volumes no guest writes to, with their sizes and content: the same after any faults."""
    return {path: kept for path, kept in volumes(home).items() if "/keep" in path}


def _init(home: Path) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    made = home.parent / "profile.yaml"
    made.write_text(profile(OBJECTS))
    assert xenctl(home, "host", "init", "--profile", str(made)).returncode == 0


def _ops(home: Path) -> int:
    with connect(home) as host:
        return sum(1 for e in host.events() if not e.op.startswith("apply-") and e.op != "host-init")


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


def test_the_kth_operation_failing_once_is_reported_once_and_the_next_apply_converges(
    specs: Path, clean: tuple[int, dict[str, tuple[int, str]]], tmp_path: Path
) -> None:
    operations, data = clean
    assert operations >= OBJECTS and data
    for k in range(1, operations + 1):
        home = tmp_path / f"k{k}" / "home"
        _init(home)
        graph = plan_for(home, [specs]).graph
        with connect(home) as host:
            host.add_fault(Fault(op="*", obj="*", skip=k - 1, times=1, message=f"fault at {k}"))
        failed = xenctl(home, "apply", "--auto-approve", str(specs))
        assert failed.returncode == 1, f"k={k}: {failed.stdout}"
        errors = _errors(failed.stderr)
        assert len(errors) == 1 and f"fault at {k}" in errors[0], f"k={k}: {failed.stderr}"
        root = re.match(r"Error: (\S+): ", errors[0]).group(1)  # type: ignore[union-attr]
        left = {c.address for c in plan_for(home, [specs]).changes}
        assert left <= {root} | nx.descendants(graph, root), f"k={k}: independent work left undone: {left}"

        again = xenctl(home, "apply", "--auto-approve", str(specs))
        assert again.returncode == 0, f"k={k}: {again.stdout}{again.stderr}"
        assert plan_for(home, [specs]).changes == ()
        assert _data(home) == data, f"k={k}: the data volumes differ from a clean apply's"


def test_an_operation_failing_from_the_kth_on_fails_each_root_once_and_converges_once_it_clears(
    specs: Path, clean: tuple[int, dict[str, tuple[int, str]]], tmp_path: Path
) -> None:
    operations, data = clean
    for k in (1, operations // 3, operations // 2, operations):
        home = tmp_path / f"k{k}" / "home"
        _init(home)
        with connect(home) as host:
            fault = host.add_fault(Fault(op="*", obj="*", skip=k - 1, message="the disk array is gone"))
        failed = xenctl(home, "apply", "--auto-approve", str(specs))
        assert failed.returncode == 1
        roots = [re.match(r"Error: (\S+): ", line).group(1) for line in _errors(failed.stderr)]  # type: ignore[union-attr]
        assert roots and len(roots) == len(set(roots)), failed.stderr  # each root cause once
        summary = re.search(r"(\d+) failed, (\d+) skipped", failed.stdout)
        assert summary is not None and int(summary.group(1)) == len(roots)
        with connect(home) as host:
            host.clear_faults(fault)
        assert xenctl(home, "apply", "--auto-approve", str(specs)).returncode == 0
        assert plan_for(home, [specs]).changes == ()
        assert _data(home) == data


def test_one_operation_in_ten_failing_at_random_still_converges_without_destroy_data(
    specs: Path, clean: tuple[int, dict[str, tuple[int, str]]], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _init(home)
    shutil.copy(specs, tmp_path / "spec.yaml")
    with connect(home) as host:
        fault = host.add_fault(Fault(op="*", obj="*", rate=0.1, message="flaky"))
    first = xenctl(home, "apply", "--auto-approve", str(specs))
    assert first.returncode == 1 and "flaky" in first.stderr  # this seed's draws fail something
    for _ in range(5):  # with the fault still there, each apply gets further
        if xenctl(home, "apply", "--auto-approve", str(specs)).returncode == 0:
            break
    with connect(home) as host:
        host.clear_faults(fault)
    assert xenctl(home, "apply", "--auto-approve", str(specs)).returncode == 0
    assert plan_for(home, [specs]).changes == ()
    assert _data(home) == clean[1]
