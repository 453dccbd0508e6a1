"""``xenctl xend``: a real daemon on a free loopback port, started, asked, and stopped as an
init script would, with LSB's exit codes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Xend:
    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.pid_file = home / "xend.pid"
        self.log_file = home / "xend.log"

    def __call__(self, *words: str) -> subprocess.CompletedProcess[str]:
        files = ["--pid-file", str(self.pid_file), "--log-file", str(self.log_file)]
        extra = ["--listen", f"127.0.0.1:{self.port}"] if words[0] in ("start", "restart") else []
        env = {**os.environ, "XENCTL_TIME_SCALE": "0"}
        command = [sys.executable, "-m", "xenctl", "--home", str(self.home), "xend", *words, *files, *extra]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def page(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/host", timeout=5) as answer:
            status: int = answer.status
            return status


@pytest.fixture
def xend(tmp_path: Path) -> Iterator[Xend]:
    daemon = Xend(tmp_path, free_port())
    try:
        yield daemon
    finally:  # never leave a daemon behind, whatever the test did
        if daemon.pid_file.exists():
            text = daemon.pid_file.read_text().strip()
            if text.isdigit():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(text), signal.SIGKILL)


def test_start_status_stop_as_an_init_script_does(xend: Xend) -> None:
    assert xend("status").returncode == 3
    started = xend("start")
    assert started.returncode == 0, started.stderr
    assert f"on http://127.0.0.1:{xend.port}/" in started.stdout
    pid = xend.pid()
    assert xend.page() == 200
    again = xend("start")
    assert (again.returncode, again.stdout) == (0, f"xend is already running (pid {pid})\n")
    status = xend("status")
    assert (status.returncode, status.stdout) == (0, f"xend is running (pid {pid})\n")
    stopped = xend("stop")
    assert (stopped.returncode, stopped.stdout) == (0, f"Stopped xend (pid {pid})\n")
    assert not xend.pid_file.exists()
    with pytest.raises(OSError):
        xend.page()
    assert xend("stop").returncode == 0
    assert xend("status").returncode == 3
    assert "xenctl serve:" in xend.log_file.read_text()


def test_restart_gives_a_new_process_that_answers(xend: Xend) -> None:
    assert xend("start").returncode == 0
    first = xend.pid()
    restarted = xend("restart")
    assert restarted.returncode == 0, restarted.stderr
    assert xend.pid() != first
    assert xend.page() == 200
    assert xend("stop").returncode == 0


def test_a_pid_file_whose_process_is_gone_is_status_1(xend: Xend) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    xend.pid_file.write_text(f"{dead.pid}\n")
    status = xend("status")
    assert status.returncode == 1
    assert f"names pid {dead.pid}" in status.stdout
    started = xend("start")  # a stale pid file does not stop a start
    assert started.returncode == 0, started.stderr
    assert xend.pid() != dead.pid
    assert xend("stop").returncode == 0


def test_a_port_in_use_is_refused_in_one_line(xend: Xend) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", xend.port))
        busy.listen()
        started = xend("start")
    assert started.returncode == 1
    assert started.stderr.startswith("Error: --listen 127.0.0.1:") and "in use" in started.stderr
    assert len(started.stderr.splitlines()) == 1
    assert not xend.pid_file.exists()


def test_listening_beyond_loopback_without_a_token_is_refused_before_anything_runs(xend: Xend) -> None:
    env = {**os.environ, "XENCTL_TIME_SCALE": "0"}
    command = [sys.executable, "-m", "xenctl", "--home", str(xend.home), "xend", "start"]
    command += ["--listen", f"0.0.0.0:{xend.port}", "--pid-file", str(xend.pid_file)]
    started = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert started.returncode == 1
    assert "needs --token-file" in started.stderr
    assert not xend.pid_file.exists()


def test_the_init_script_runs_xenctl_xend_with_its_exit_codes(xend: Xend) -> None:
    script = Path(__file__).resolve().parents[2] / "etc" / "init.d" / "xend"
    assert "### BEGIN INIT INFO\n# Provides:          xend\n" in script.read_text()
    wrapper = xend.home / "xenctl"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m xenctl --home {xend.home} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "XENCTL": str(wrapper),
        "XENCTL_TIME_SCALE": "0",
        "XENCTL_XEN_ROOT": str(xend.home / "etc" / "xen"),
        "XEND_LISTEN": f"127.0.0.1:{xend.port}",
        "PIDFILE": str(xend.pid_file),
        "LOGFILE": str(xend.log_file),
    }

    def init(action: str) -> int:
        return subprocess.run(["sh", str(script), action], env=env, capture_output=True, timeout=60).returncode

    assert init("status") == 3
    assert init("start") == 0
    assert xend.page() == 200
    assert init("status") == 0
    assert init("stop") == 0
    assert init("status") == 3
    assert init("frobnicate") == 2
