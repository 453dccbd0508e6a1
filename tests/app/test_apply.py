"""The application layer's apply, called as the page and the watcher call it: values back,
progress through hooks, nothing printed, and a process that lives on keeps its collector."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.reconcile.support import EXAMPLES
from xenctl.app.apply import apply_specs
from xenctl.app.host import Settings, connect
from xenctl.app.options import PlanOptions, RunOptions
from xenctl.app.plans import plan
from xenctl.reconcile.apply import Hooks, Outcome
from xenctl.reconcile.changes import Change
from xenctl.reconcile.plan import Plan


class Recorder:
    def __init__(self) -> None:
        self.plans: list[Plan] = []
        self.done: list[str] = []

    def planned(self, plan: Plan) -> None:
        self.plans.append(plan)

    def action_hooks(self) -> Hooks:
        return self

    def started(self, change: Change) -> None:
        return None

    def finished(self, change: Change, outcome: Outcome) -> None:
        self.done.append(change.address)


def test_apply_reports_through_its_hooks_and_returns_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    with connect(f"sim://{tmp_path / 'home'}", Settings(xen_root=str(tmp_path / "xen"), time_scale=0)) as host:
        report = apply_specs(host, [str(EXAMPLES / "nfs-root")], PlanOptions(), RunOptions(), recorder, command="test")
        again = plan(host, [str(EXAMPLES / "nfs-root")], PlanOptions())
    assert report.result is not None and report.result.ok
    assert [p.changes for p in recorder.plans] == [report.plan.changes]
    assert sorted(recorder.done) == sorted(c.address for c in report.plan.changes)
    assert not again.actionable and "No changes" in again.text
    assert capsys.readouterr() == ("", "")  # the application layer prints nothing


def test_a_process_that_lives_on_keeps_its_cyclic_collector(tmp_path: Path) -> None:
    gc.enable()
    with connect(f"sim://{tmp_path / 'home'}", Settings(xen_root=str(tmp_path / "xen"), time_scale=0)) as host:
        plan(host, [str(EXAMPLES / "nfs-root")], PlanOptions())
        apply_specs(host, [str(EXAMPLES / "nfs-root")], PlanOptions(), RunOptions(), Recorder(), command="test")
    assert gc.isenabled()
