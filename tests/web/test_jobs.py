"""An apply job as the page shows it: its events and whether it is done, taken at one moment."""

from __future__ import annotations

import threading
from typing import Any

from xenctl.web.jobs import Job


def finish(job: Job) -> None:
    """What the service's worker does as an apply ends: its summary, then the job done."""
    job.add("done", done=1, failed=0, skipped=0)
    job.finish()


class FinishingOnRelease:
    """A job's lock that lets the worker finish the job the first time a reader lets it go: the
    moment a read in two parts (the events, then ``done``) would straddle."""

    def __init__(self, job: Job) -> None:
        self.inner, self.job, self.armed = threading.Lock(), job, True

    def __enter__(self) -> None:
        self.inner.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.inner.release()
        if self.armed:
            self.armed = False
            finish(self.job)


def test_a_job_shown_finished_shows_its_last_events() -> None:
    """Read apart, the events could be read before the summary and ``done`` after it: the page
    said "finished" without saying how it went."""
    job = Job(id=1, url="sim:///")
    job.add("started", address="domain.web1", action="create")
    job.lock = FinishingOnRelease(job)  # type: ignore[assignment]
    seen = job.view()
    assert not seen["done"] and [e["kind"] for e in seen["events"]] == ["started"]
    after = job.view()
    assert after["done"] and [e["kind"] for e in after["events"]] == ["started", "done"]
