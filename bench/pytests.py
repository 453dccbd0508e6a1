"""Run a directory of tests at benchmark size, and say how it went: for fuzz.py and resilience.py.

pytest runs in a process group of its own. Each test's result is printed (to stderr) as it comes,
with the seconds since the start. Once the time budget has passed, the whole group is stopped and
the tests not finished are counted as such; the same happens when this process is interrupted
(Ctrl-C) or terminated (SIGTERM, SIGHUP): no pytest, and no xenctl it started, is left running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULT = re.compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
COLLECTED = re.compile(r"collected (\d+) items?")
GRACE = 5.0  # seconds between SIGTERM and SIGKILL to the group


def run_tests(directory: str, env: dict[str, str], *, budget: float) -> dict[str, float | int]:
    """pytest on ``tests/<directory>`` with ``env`` added, for at most ``budget`` seconds: tests
    passed, failed, not finished (cut by the budget), whether the budget ran out, and the wall time."""
    started = time.perf_counter()
    counts = {"PASSED": 0, "FAILED": 0, "ERROR": 0, "SKIPPED": 0, "XFAIL": 0, "XPASS": 0}
    collected = 0
    tail: list[str] = []
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-vv", os.path.join(ROOT, "tests", directory)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped whole, children and all
        preexec_fn=_die_with_parent,
    )
    timer = threading.Timer(budget, _stop_group, (process,))
    timer.daemon = True
    with _stopping_on_signals(process):
        try:
            timer.start()
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                tail = [*tail[-200:], line]
                found = COLLECTED.search(line)
                if found:
                    collected = int(found.group(1))
                    _say(started, f"{directory}: {collected} tests, budget {budget:g}s")
                result = RESULT.match(line)
                if result:
                    counts[result.group(2)] += 1
                    _say(started, f"{result.group(2):<7} {result.group(1).split('::', 1)[1]}")
            process.wait()
        finally:
            timer.cancel()
            _stop_group(process)
    took = time.perf_counter() - started
    timed_out = took >= budget
    failed = counts["FAILED"] + counts["ERROR"] + counts["XPASS"]
    done = sum(counts.values())
    if failed or (process.returncode not in (0, 1, -signal.SIGTERM, -signal.SIGKILL) and not timed_out):
        print("\n".join(tail[-80:]), file=sys.stderr)
    if timed_out:
        _say(started, f"{directory}: the budget of {budget:g}s ran out; {max(collected - done, 0)} tests not finished")
    return {
        "passed": counts["PASSED"],
        "failed": failed if done or timed_out or process.returncode == 0 else 1,  # nothing ran: the run failed
        "unfinished": max(collected - done, 0),
        "timed_out": int(timed_out),
        "wall_s": took,
    }


def _die_with_parent() -> None:
    """In the child, before pytest starts: on Linux, SIGTERM it when this process dies, even by
    SIGKILL, which no handler sees."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _say(started: float, text: str) -> None:
    print(f"  [{time.perf_counter() - started:6.1f}s] {text}", file=sys.stderr, flush=True)


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the child's whole process group, then SIGKILL to what is left after a grace."""
    if process.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the leader gone: its children may not be
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=GRACE)


@contextlib.contextmanager
def _stopping_on_signals(process: subprocess.Popen[str]) -> Iterator[None]:
    """While the tests run, SIGTERM and SIGHUP end this process as Ctrl-C does: by an exception,
    so the ``finally`` above stops the group first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
