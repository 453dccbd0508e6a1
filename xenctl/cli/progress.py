"""What the commands say while they work and when they are done: apply's actions, boot and stop
steps, and their reports. Hooks of the application layer, rendered as lines on a terminal."""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from xenctl.cli.context import colour

if TYPE_CHECKING:
    from xenctl.app.apply import ApplyReport
    from xenctl.autostart.runlevels import Report, Step, Transition
    from xenctl.reconcile.apply import ApplyResult, Hooks, Outcome
    from xenctl.reconcile.changes import Change
    from xenctl.reconcile.plan import Plan


def _stopping() -> str:
    """The walker's root for what a stopped walk never started (imported when an apply reports:
    a plan does not need the walker)."""
    from xenctl.reconcile.walker import STOPPING

    return STOPPING


class ApplyProgress:
    """One line as each action starts and ends, and a count now and then for long applies."""

    def __init__(self, colour: bool, total: int = 0, *, freeze: bool = False) -> None:
        self.freeze = freeze  # a one-shot apply: what the plan holds stays until the end
        self.lock = threading.Lock()  # workers report at once: one whole line at a time
        self.total = total
        self.done = 0
        self.running = 0
        self.colour = colour
        self.started_at = time.monotonic()
        self.last_count = self.started_at

    def planned(self, plan: Plan) -> None:
        from xenctl.reconcile.render import render_text

        if self.freeze:
            gc.freeze()  # the plan and the specs live until the command ends: collections need not walk them
        self.say(render_text(plan, colour=self.colour))
        self.total = len(plan.changes)

    def action_hooks(self) -> Hooks:
        return self

    def say(self, line: str) -> None:
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def started(self, change: Change) -> None:
        with self.lock:
            self.running += 1
        self.say(f"{change.address}: {change.action.value}...")

    def finished(self, change: Change, outcome: Outcome) -> None:
        with self.lock:
            if outcome.skipped_because is None:
                self.running -= 1
            self.done += 1
        if outcome.ok:
            self.say(f"{change.address}: {change.action.value} done ({outcome.elapsed:.1f}s)")
        elif outcome.skipped_because == _stopping():
            self.say(f"{change.address}: not started: xenctl is stopping")
        elif outcome.skipped_because:
            self.say(f"{change.address}: skipped, because {outcome.skipped_because} failed")
        else:
            self.say(f"{change.address}: {change.action.value} FAILED: {outcome.error}")
        now = time.monotonic()
        if self.total > 20 and now - self.last_count > 2:
            waiting = self.total - self.done - self.running
            self.say(f"[{self.done} done, {self.running} running, {waiting} waiting]")
            self.last_count = now


def render_result(report: ApplyReport) -> int:
    """The apply's summary and its errors; the exit code."""
    if report.result is None:
        return 0
    return _summary(report.result)


def _summary(result: ApplyResult) -> int:
    failures = result.failures
    skipped = result.skipped
    done = sum(1 for o in result.outcomes.values() if o.ok)
    stopped = [s.address for s in skipped if s.skipped_because == _stopping()]
    how = "stopped" if stopped else "finished with errors" if failures else "complete"
    print(f"\nApply {how}: {done} done, {len(failures)} failed, {len(skipped)} skipped.")
    for failure in failures:
        because = [s.address for s in skipped if s.skipped_because == failure.address]
        extra = f" ({len(because)} skipped because of it: {', '.join(because)})" if because else ""
        print(f"Error: {failure.address}: {failure.error}{extra}", file=sys.stderr)
    if stopped:
        names = ", ".join(stopped)
        print(f"Stopped before {len(stopped)} actions: {names}; the next apply does them.", file=sys.stderr)
        return 1
    return 1 if failures else 0


class StepProgress:
    """One line as each step begins and ends, stamped with the seconds since the run began."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.lock = threading.Lock()
        self.stream = stream or sys.stdout

    def say(self, line: str) -> None:
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def began(self, domain: str, doing: str) -> None:
        self.say(f"{domain}: {doing}...")

    def ended(self, step: Step) -> None:
        detail = f" ({step.detail})" if step.detail else ""
        result = step.result.upper() if step.result == "failed" else step.result
        self.say(f"{step.domain}: {result}{detail} [{step.ended:.1f}s]")


def render_report(report: Report, transition: Transition | None = None) -> str:
    from xenctl.autostart.runlevels import summary

    title = "Boot" if report.action == "boot" else "Stop"
    if transition is not None:
        title += f" (runlevel {transition.before} -> {transition.after})"
    lines = [f"{title}: {summary(report)}"]
    if report.steps:
        width = max(len("DOMAIN"), *(len(s.domain) for s in report.steps))
        lines.append(f"  {'DOMAIN':<{width}}  {'BEGAN':>7}  {'ENDED':>7}  RESULT")
        for step in sorted(report.steps, key=lambda s: (s.began, s.domain)):
            detail = f": {step.detail}" if step.detail else ""
            lines.append(f"  {step.domain:<{width}}  {step.began:>6.1f}s  {step.ended:>6.1f}s  {step.result}{detail}")
    return "\n".join(lines)  # broken entries: said once, by the caller


class WatchOutput(StepProgress):
    """What ``watch`` says as it goes: boot steps, boot reports, plans and their actions."""

    def __init__(self) -> None:
        super().__init__()
        self.actions = ApplyProgress(colour())
        self.actions.lock = self.lock  # one output, one lock

    def booted(self, report: Report, transition: Transition | None) -> None:
        self.say(render_report(report, transition))

    def planned(self, plan: Plan) -> None:
        self.actions.planned(plan)

    def action_hooks(self) -> Hooks:
        return self.actions

    def applied(self, report: ApplyReport) -> None:
        render_result(report)
