"""The walker: independent actions run side by side, up to --parallelism; a dependent waits until its
dependency is up. Boots take real (scaled) time here: 8 s of boot at scale 0.04 is 0.32 s."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.reconcile.support import KERNEL, connect, plan_for, write_spec
from xenctl.reconcile.apply import Outcome, apply_plan
from xenctl.reconcile.changes import Change

SCALE = 0.04
SPEC = f"""
x-guest: &guest
  memory: 64M
  kernel: {KERNEL}
domains:
  - {{<<: *guest, name: a}}
  - {{<<: *guest, name: b}}
  - {{<<: *guest, name: c, depends_on: [a]}}
"""


class Timeline:
    """When each action started and finished, on one clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}

    def started(self, change: Change) -> None:
        with self.lock:
            self.start[change.name] = time.monotonic()

    def finished(self, change: Change, outcome: Outcome) -> None:
        with self.lock:
            self.end[change.name] = time.monotonic()

    def overlap(self, one: str, other: str) -> bool:
        return self.start[one] < self.end[other] and self.start[other] < self.end[one]


def _walk(tmp_path: Path, parallelism: int) -> Timeline:
    home = tmp_path / "home"
    plan = plan_for(home, [write_spec(tmp_path / "specs", SPEC)])
    timeline = Timeline()
    result = apply_plan(plan, lambda: connect(home, SCALE), parallelism=parallelism, hooks=timeline)
    assert result.ok, result.outcomes
    return timeline


def test_with_parallelism_2_two_independent_boots_overlap(tmp_path: Path) -> None:
    timeline = _walk(tmp_path, 2)
    assert timeline.overlap("a", "b")
    assert timeline.start["c"] >= timeline.end["a"]  # c waits until a is up


def test_with_parallelism_1_nothing_overlaps(tmp_path: Path) -> None:
    timeline = _walk(tmp_path, 1)
    assert not timeline.overlap("a", "b")
    assert not timeline.overlap("b", "c") and not timeline.overlap("a", "c")


def test_a_dependent_starts_only_once_its_dependency_has_booted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _walk(tmp_path, 3)
    with connect(home) as host:
        live = host.snapshot()
    a, c = live.domain("a"), live.domain("c")
    assert a is not None and c is not None
    assert c.created_at >= a.up_at


def test_an_action_starts_as_soon_as_what_it_waits_on_is_done_not_level_by_level(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes: [{{name: quick, lvm: {{vg: vg, size: 64M}}}}]
domains:
  - {{name: slow, memory: 64M, kernel: {KERNEL}}}
  - {{name: user, memory: 64M, kernel: {KERNEL}, disks: [{{volume: quick, vdev: sda1, mode: r}}]}}
"""
    plan = plan_for(home, [write_spec(tmp_path / "specs", spec)])
    timeline = Timeline()
    assert apply_plan(plan, lambda: connect(home, SCALE), parallelism=4, hooks=timeline).ok
    # vg and lv take milliseconds, slow's boot 0.32 s: user's boot must not wait for slow's to end.
    assert timeline.overlap("user", "slow")
