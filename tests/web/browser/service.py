"""``xenctl serve`` as a real process, for the browser tests and scripts/screenshots: a fresh
simulated host in a temporary home, a temporary specs directory, 127.0.0.1 and a free port.

    with Service(scratch) as service:
        service.url            # http://127.0.0.1:PORT
        service.xenctl("pause", "web1")   # the CLI on the same host, as in a terminal
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own download does not work here
START_LIMIT = 30.0  # seconds for the service to answer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Service:
    """The service on a host in ``scratch`` (made fresh): start it with ``with``, stopped after."""

    def __init__(self, scratch: Path, *, time_scale: str = "0.25") -> None:
        self.scratch = scratch
        self.home = scratch / "home"
        self.specs = scratch / "specs"
        self.xen_root = scratch / "xen"
        self.log = scratch / "serve.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "XENCTL_HOME": str(self.home),
            "XENCTL_XEN_ROOT": str(self.xen_root),
            "XENCTL_TIME_SCALE": time_scale,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def xenctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The ``xenctl`` command on the served host; a failure raises with what it printed."""
        ran = subprocess.run(
            [sys.executable, "-m", "xenctl", *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if ran.returncode != 0:
            raise AssertionError(f"xenctl {' '.join(args)} failed ({ran.returncode}): {ran.stderr.strip()}")
        return ran

    def __enter__(self) -> Service:
        self.specs.mkdir(parents=True)
        (self.xen_root / "auto").mkdir(parents=True)
        self.xenctl("list")  # makes the host, so the service and the CLI share one from the start
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xenctl",
                    "serve",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--specs",
                    str(self.specs),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        began = time.monotonic()
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() - began > START_LIMIT:
                self.stop()
                raise RuntimeError(f"xenctl serve did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/session", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # uvicorn's Ctrl-C: it finishes and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
