"""One mutating command at a time per host: the lock names its holder, dies with it, and can be removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, run_xenctl
from tests.reconcile.support import EXAMPLES, connect, host_state, ok
from xenctl.cli.arguments import seconds

SPEC = EXAMPLES / "nfs-root"


def test_apply_waits_for_the_lock_then_gives_up_naming_the_holder_and_changes_nothing(home: Path) -> None:
    with connect(home) as holder:
        held = holder.acquire_lock("xenctl apply specs/held-by-the-test")
        before = host_state(home)
        result = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "0.2", str(SPEC))
        holder.release_lock(held)
    assert result.returncode == 1
    assert f"pid {os.getpid()}" in result.stderr
    assert "xenctl apply specs/held-by-the-test" in result.stderr
    assert f"force-unlock {held.id}" in result.stderr
    assert "Traceback" not in result.stderr
    assert host_state(home) == before


def test_apply_takes_the_lock_once_its_holder_lets_go(home: Path) -> None:
    with connect(home) as holder:
        held = holder.acquire_lock("xenctl apply by the test")
        holder.release_lock(held)
    result = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "0.2", str(SPEC))
    assert result.returncode == 0, result.stderr


def test_lock_timeout_takes_durations_as_specs_write_them(home: Path) -> None:
    with connect(home) as holder:
        held = holder.acquire_lock("xenctl apply by the test")
        waited = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "200ms", str(SPEC))
        holder.release_lock(held)
    assert waited.returncode == 1 and "xenctl apply by the test" in waited.stderr  # it waited, then gave up
    assert [seconds(text) for text in ("10s", "2m", "90", "1.5")] == [10.0, 120.0, 90.0, 1.5]
    applied = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "10s", str(SPEC))
    assert applied.returncode == 0, applied.stderr
    refused = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "10 parsecs", str(SPEC))
    assert refused.returncode != 0 and "'10 parsecs' is not a duration" in refused.stderr


def _lock_and_die(home: Path) -> None:
    """A process that takes the host's lock and exits without letting go (a crashed apply)."""
    code = (
        "import sys; from xenctl.engine.sim import open_host; "
        "open_host(sys.argv[1]).acquire_lock('xenctl apply that crashed')"
    )
    subprocess.run([sys.executable, "-c", code, str(home)], check=True, cwd=ROOT, timeout=60)


def test_a_lock_whose_process_is_gone_is_taken_over(home: Path) -> None:
    _lock_and_die(home)
    result = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "0.2", str(SPEC))
    assert result.returncode == 0, result.stderr
    assert "Apply complete" in result.stdout
    with connect(home) as host:
        events = host.events()
        assert host.snapshot().domain("nfsvm") is not None
    assert any(e.op == "lock" and "taken over" in e.message and "crashed" in e.message for e in events)


def test_force_unlock_removes_a_lock_by_its_id(home: Path) -> None:
    with connect(home) as holder:
        held = holder.acquire_lock("xenctl apply on another machine")
        removed = run_xenctl(home, "force-unlock", str(held.id))
        assert removed.returncode == 0, removed.stderr
        assert f"lock {held.id}" in removed.stdout and "xenctl apply on another machine" in removed.stdout
        result = run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "0.2", str(SPEC))
        holder.release_lock(held)
    assert result.returncode == 0, result.stderr


def test_force_unlock_of_a_lock_that_is_not_there_is_an_error(home: Path) -> None:
    connect(home).close()
    result = run_xenctl(home, "force-unlock", "7")
    assert result.returncode == 1
    assert "no lock 7" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_apply_lets_go_of_the_lock(home: Path) -> None:
    ok(run_xenctl(home, "host", "fault", "add", "create", "nfsvm", "--message", "no"))
    assert run_xenctl(home, "apply", "--auto-approve", str(SPEC)).returncode == 1
    ok(run_xenctl(home, "host", "fault", "clear"))
    ok(run_xenctl(home, "apply", "--auto-approve", "--lock-timeout", "0", str(SPEC)))
