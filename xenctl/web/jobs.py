"""Applies that run in the background: one job each, its progress kept as a list of events.

A job runs ``xenctl.app.apply.apply_specs`` on a thread of its own, with its own host handle, as
``xenctl apply --auto-approve`` would (the page showed the plan; the Apply button is the
``yes``). Its hooks turn the plan and each action's start and end into events, which the API
streams as server-sent events and the plan page shows as they come. ``start`` waits until the
plan is made: a refusal before anything runs (a spec mistake, the host locked, a plan that is not
the one shown) is the request's answer, not a job.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xenctl.app.host import connect
from xenctl.app.options import PlanOptions, RunOptions
from xenctl.errors import PlanError, XenctlError

if TYPE_CHECKING:
    from xenctl.reconcile.apply import Hooks, Outcome
    from xenctl.reconcile.changes import Change
    from xenctl.reconcile.plan import Plan
    from xenctl.web.config import ServerConfig

MAX_JOBS = 100  # finished jobs kept to be read; the oldest go first
PLAN_WAIT = 120.0  # seconds ``start`` waits for the plan to be made


def plan_digest(text: str) -> str:
    """What names a rendered plan: the page sends it back so that Apply runs the plan shown."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Job:
    """One apply: its events so far, and whether (and how) it ended."""

    id: int
    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    error: str | None = None
    planned: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, **data: Any) -> None:
        with self.lock:
            self.events.append({"seq": len(self.events) + 1, "kind": kind, **data})

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events[seq:])

    def finish(self) -> None:
        with self.lock:
            self.done = True

    def view(self) -> dict[str, Any]:
        """What a page shows of it, taken at one moment: a job shown finished shows its last events
        (read apart, the events could be read before the last of them and ``done`` after it)."""
        with self.lock:
            return {"job": self, "events": list(self.events), "done": self.done}

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {"id": self.id, "host": self.url, "done": self.done, "error": self.error, "events": len(self.events)}


class _Progress:
    """The application layer's apply hooks, written into a job."""

    def __init__(self, job: Job, expected: str | None) -> None:
        self.job = job
        self.expected = expected

    def planned(self, plan: Plan) -> None:
        from xenctl.reconcile.render import render_text

        text = render_text(plan)
        self.job.add("plan", text=text, changes=len(plan.changes), digest=plan_digest(text))

    def confirm(self, plan: Plan) -> None:
        """Run only the plan the page showed, when it names one."""
        from xenctl.reconcile.render import render_text

        if self.expected is not None and plan_digest(render_text(plan)) != self.expected:
            raise PlanError(
                "the plan changed since it was shown; nothing was changed. Review the new plan and apply it"
            )
        self.job.planned.set()

    def action_hooks(self) -> Hooks:
        return self

    def started(self, change: Change) -> None:
        self.job.add("started", address=change.address, action=change.action.value)

    def finished(self, change: Change, outcome: Outcome) -> None:
        result = "done" if outcome.ok else "skipped" if outcome.skipped_because else "failed"
        self.job.add(
            "finished",
            address=change.address,
            action=change.action.value,
            result=result,
            elapsed=round(outcome.elapsed, 3),
            error=None if outcome.ok or outcome.skipped_because else str(outcome.error),
            because=outcome.skipped_because,
        )


class Jobs:
    """The service's applies, by id."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, url: str, specs: str, digest: str | None = None) -> Job:
        """Start applying ``specs`` to the host at ``url``; a refusal before the first action
        is raised here, as the XenctlError the CLI would print."""
        job = Job(next(self._ids), url)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        thread = threading.Thread(target=self._run, args=(job, specs, digest), name=f"apply-{job.id}", daemon=True)
        thread.start()
        job.planned.wait(PLAN_WAIT)
        if job.done and job.error is not None and not any(e["kind"] == "started" for e in job.events):
            with self._lock:
                self._jobs.pop(job.id, None)
            raise PlanError(job.error)
        return job

    def _run(self, job: Job, specs: str, digest: str | None) -> None:
        from xenctl.app.apply import apply_specs

        progress = _Progress(job, digest)
        started = time.monotonic()
        try:
            with connect(job.url, self.config.settings) as host:
                report = apply_specs(
                    host,
                    [specs],
                    PlanOptions(),
                    RunOptions(),
                    progress,
                    command="xenctl serve: apply from the page",
                    confirm=progress.confirm,
                )
            result = report.result
            failed = len(result.failures) if result else 0
            job.add(
                "done",
                done=sum(1 for o in result.outcomes.values() if o.ok) if result else 0,
                failed=failed,
                skipped=len(result.skipped) if result else 0,
                elapsed=round(time.monotonic() - started, 3),
            )
        except XenctlError as exc:
            job.error = exc.message
            job.add("error", message=exc.message)
        except Exception as exc:  # a bug must still end the job, and say so in one line
            job.error = f"internal error: {type(exc).__name__}"
            job.add("error", message=job.error)
        finally:
            job.finish()
            job.planned.set()
