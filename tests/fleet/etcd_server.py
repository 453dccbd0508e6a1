"""A real etcd for tests and bench/coordinate.py: on 127.0.0.1, free ports, a temporary data directory.

``running_etcd(directory)`` starts Debian's ``etcd`` (scripts/setup-system installs it), waits
until it answers ``/health``, yields it, and stops it (SIGTERM, then SIGKILL). A missing binary
fails loudly: the tests that need etcd are never skipped.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class EtcdServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The ``--coordinate`` URL that names it."""
        return f"etcd://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as answer:
                return bool(json.load(answer).get("health") == "true")
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def running_etcd(directory: Path) -> Iterator[EtcdServer]:
    binary = shutil.which("etcd")
    assert binary, "etcd is not installed: scripts/setup-system installs it (apt-get install etcd-server)"
    client, peer = free_port(), free_port()
    log = directory / "etcd.log"
    args = [
        binary,
        "--name=xenctl-test",
        f"--data-dir={directory / 'etcd-data'}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=xenctl-test=http://127.0.0.1:{peer}",
        "--log-level=warn",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = EtcdServer(process, client, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"etcd did not start on 127.0.0.1:{client}:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield server
    finally:
        server.stop()
