"""The walker: independent actions run side by side, up to --parallelism; a dependent waits until its
dependency is up. The walk runs on an EventClock, so boots take exact virtual time (8 s each on
the default profile) and no wall time: start and end times below are exact."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.reconcile.support import KERNEL, plan_for, write_spec
from xenctl.engine.sim import EventClock, open_host
from xenctl.reconcile.apply import ApplyResult, Outcome, apply_plan
from xenctl.reconcile.changes import Change

BOOT = 8.0  # seconds of boot for a 64M guest on the default profile
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
    """When each action started and finished, on the walk's clock."""

    def __init__(self, clock: EventClock) -> None:
        self.clock = clock
        self.origin = clock.now()
        self.lock = threading.Lock()
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}

    def started(self, change: Change) -> None:
        with self.lock:
            self.start[change.name] = self.clock.now() - self.origin

    def finished(self, change: Change, outcome: Outcome) -> None:
        with self.lock:
            self.end[change.name] = self.clock.now() - self.origin

    def overlap(self, one: str, other: str) -> bool:
        return self.start[one] < self.end[other] and self.start[other] < self.end[one]


def _apply(tmp_path: Path, spec: str, parallelism: int) -> tuple[Timeline, ApplyResult]:
    home = tmp_path / "home"
    plan = plan_for(home, [write_spec(tmp_path / "specs", spec)])
    clock = EventClock()
    timeline = Timeline(clock)
    result = apply_plan(
        plan, lambda: open_host(str(home), clock=clock), parallelism=parallelism, hooks=timeline, pace=clock
    )
    assert result.ok, result.outcomes
    return timeline, result


def test_with_parallelism_2_two_independent_boots_run_side_by_side(tmp_path: Path) -> None:
    timeline, _ = _apply(tmp_path, SPEC, 2)
    assert timeline.start["a"] == timeline.start["b"] == 0.0
    assert timeline.start["c"] == timeline.end["a"] == BOOT  # c waits until a is up, not a moment more
    assert timeline.end["c"] == 2 * BOOT  # the makespan is the critical path a -> c


def test_with_parallelism_1_nothing_overlaps(tmp_path: Path) -> None:
    timeline, _ = _apply(tmp_path, SPEC, 1)
    assert not timeline.overlap("a", "b")
    assert not timeline.overlap("b", "c") and not timeline.overlap("a", "c")
    assert max(timeline.end.values()) == 3 * BOOT


def test_outcomes_carry_when_each_action_started_and_how_long_it_took(tmp_path: Path) -> None:
    timeline, result = _apply(tmp_path, SPEC, 10)
    c = result.outcomes["domain.c"]
    assert c.started is not None and c.started - timeline.origin == BOOT
    assert c.elapsed == BOOT


def test_a_dependent_starts_only_once_its_dependency_has_booted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _apply(tmp_path, SPEC, 3)
    with open_host(str(home)) as host:
        live = host.snapshot()
    a, c = live.domain("a"), live.domain("c")
    assert a is not None and c is not None
    assert c.created_at >= a.up_at


def test_an_action_starts_as_soon_as_what_it_waits_on_is_done_not_level_by_level(tmp_path: Path) -> None:
    spec = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes: [{{name: quick, lvm: {{vg: vg, size: 64M}}}}]
domains:
  - {{name: slow, memory: 64M, kernel: {KERNEL}}}
  - {{name: user, memory: 64M, kernel: {KERNEL}, disks: [{{volume: quick, vdev: sda1, mode: r}}]}}
"""
    timeline, _ = _apply(tmp_path, spec, 4)
    # user waits on the volume (a fraction of a second), not on slow's whole boot beside it.
    assert timeline.start["user"] == timeline.end["quick"] < BOOT
    assert timeline.overlap("user", "slow")


def test_a_bug_in_one_action_comes_out_of_the_walk_and_the_others_finish(tmp_path: Path) -> None:
    """Not a host's error (those fail the action): an exception from xenctl's own code. On an
    EventClock the walk must not hang holding the clock while the other boots wait for time."""
    home = tmp_path / "home"
    plan = plan_for(home, [write_spec(tmp_path / "specs", SPEC)])
    clock = EventClock()

    class Buggy(Timeline):
        def started(self, change: Change) -> None:
            super().started(change)
            if change.name == "b":
                raise KeyError("a bug")

    caught: list[BaseException] = []

    def walk() -> None:
        try:
            apply_plan(plan, lambda: open_host(str(home), clock=clock), parallelism=3, hooks=Buggy(clock), pace=clock)
        except KeyError as exc:
            caught.append(exc)

    walker = threading.Thread(target=walk, daemon=True)
    walker.start()
    walker.join(timeout=20)
    assert not walker.is_alive(), "the walk hung"
    assert caught
    with open_host(str(home)) as host:
        a = host.snapshot().domain("a")
    assert a is not None and a.is_up  # the boot in flight beside the bug ran to its end
