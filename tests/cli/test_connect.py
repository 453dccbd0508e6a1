"""Which host a command works on: -c/--connect URI, XENCTL_CONNECT, --home, and the xm commands
that take the host's lock like apply does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, domain, run_xenctl
from tests.reconcile.support import EXAMPLES, connect, converge, host_state, ok, xenctl


def _with_a_guest(home: Path, name: str) -> None:
    with connect(home) as host:
        host.create_domain(domain(name, 64))


def test_connect_names_the_simulated_host_to_list(tmp_path: Path) -> None:
    there, elsewhere = tmp_path / "there", tmp_path / "elsewhere"
    _with_a_guest(there, "only-there")
    shown = run_xenctl(elsewhere, "-c", f"sim://{there}", "list")
    assert shown.returncode == 0, shown.stderr
    assert "only-there" in shown.stdout
    assert "only-there" not in run_xenctl(elsewhere, "list").stdout


def test_xenctl_connect_in_the_environment_names_the_host(tmp_path: Path) -> None:
    there = tmp_path / "there"
    _with_a_guest(there, "by-env")
    shown = run_xenctl(tmp_path / "default", "list", env={"XENCTL_CONNECT": f"sim://{there}"})
    assert shown.returncode == 0, shown.stderr
    assert "by-env" in shown.stdout


@pytest.mark.parametrize(
    ("uri", "said"),
    [
        ("bogus://x", "unknown host URI scheme 'bogus'"),
        ("no-scheme-here", "is not a host URI"),
        ("sim:relative/path", "sim:///ABSOLUTE/PATH"),
    ],
)
def test_a_host_uri_xenctl_cannot_use_is_one_line_naming_the_schemes_known(tmp_path: Path, uri: str, said: str) -> None:
    result = run_xenctl(tmp_path, "-c", uri, "list")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and said in result.stderr
    assert "Traceback" not in result.stderr
    if "scheme" in said:
        assert "sim://" in result.stderr


def test_connect_and_home_together_are_refused(tmp_path: Path) -> None:
    result = run_xenctl(tmp_path, "-c", f"sim://{tmp_path}", "--home", str(tmp_path), "list")
    assert result.returncode == 1 and "not both" in result.stderr


def _hold_the_lock(home: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the host's lock for ``seconds``, as an apply with slow boots does."""
    code = (
        "import sys, time; from xenctl.engine.sim import open_host; h = open_host(sys.argv[1]); "
        "held = h.acquire_lock('xenctl apply slow-boots'); print('held', flush=True); "
        "time.sleep(float(sys.argv[2])); h.release_lock(held)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(home), str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize(
    "command",
    [
        ["mem-set", "guest", "48"],
        ["vcpu-set", "guest", "1"],
        ["pause", "guest"],
        ["destroy", "guest"],
        ["shutdown", "guest"],
        ["save", "guest", "guest.save"],
    ],
)
def test_a_mutating_xm_command_is_refused_naming_the_holder_while_an_apply_holds_the_host(
    home: Path, command: list[str]
) -> None:
    _with_a_guest(home, "guest")
    before = host_state(home)
    holder = _hold_the_lock(home, 30)
    try:
        refused = run_xenctl(home, *command)
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 1
    assert "xenctl apply slow-boots" in refused.stderr and f"pid {holder.pid}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert host_state(home) == before


def test_mem_set_with_a_lock_timeout_waits_for_the_apply_then_runs(home: Path) -> None:
    _with_a_guest(home, "guest")
    holder = _hold_the_lock(home, 1.0)
    began = time.monotonic()
    try:
        done = run_xenctl(home, "mem-set", "guest", "48", "--lock-timeout", "20")
    finally:
        holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began >= 0.5  # it waited for the holder to let go
    with connect(home) as host:
        assert host.domain("guest").target == 48


def test_mem_set_during_an_apply_of_slow_boots_waits_for_it(tmp_path: Path) -> None:
    """The real thing: an apply whose guests take a while to boot holds the lock throughout."""
    home = tmp_path / "home"
    slow = {**os.environ, "XENCTL_HOME": str(home), "XENCTL_TIME_SCALE": "0.3"}
    ok(xenctl(home, "host", "show"))
    apply = subprocess.Popen(
        [sys.executable, "-m", "xenctl", "apply", "--auto-approve", str(EXAMPLES / "nfs-root")],
        cwd=ROOT,
        env=slow,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the apply has taken the lock and started
            with connect(home) as host:
                if host.lock_holder() is not None:
                    break
            time.sleep(0.02)
        refused = run_xenctl(home, "mem-set", "Domain-0", "900")
        assert refused.returncode == 1
        assert "locked by" in refused.stderr and "xenctl apply" in refused.stderr
    finally:
        out, err = apply.communicate(timeout=120)
    assert apply.returncode == 0, out + err
    converge(home, [EXAMPLES / "nfs-root"])
