"""A private libvirtd for tests: its own sockets, state, config and logs in a short temporary
directory, started here and stopped here with everything it started.

As root, ``libvirtd`` would be the system daemon, with its state in /run/libvirt and
/var/lib/libvirt, shared with any other daemon on the machine. So it runs in a user namespace of
its own (``unshare --map-user=1000``): there it is not root, so it is a session daemon, and a
session daemon keeps everything under ``$XDG_RUNTIME_DIR``, ``$XDG_CONFIG_HOME`` and
``$XDG_CACHE_HOME``, which point into the temporary directory. The files it makes are root's
outside the namespace, so root's clients reach its socket as they are:

    qemu+unix:///session?socket=DIR/run/libvirt/libvirt-sock    QEMU guests (software emulation)
    test+unix:///default?socket=DIR/run/libvirt/libvirt-sock    libvirt's test driver, shared by
                                                                every client of this daemon

QEMU's output goes to files (``stdio_handler = "file"``), so no virtlogd is needed. The QEMU
processes libvirt starts leave its process group; ``stop`` destroys the running guests through
the daemon, then ends the daemon, then ends any QEMU process still named by a pid file of this
daemon's (by pid, never by name).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class DaemonError(RuntimeError):
    """The daemon could not be started; the message says why and quotes its log."""


class Daemon:
    """One private libvirtd (see the module's docstring)."""

    def __init__(self) -> None:
        # AF_UNIX paths hold 108 bytes: a short directory under /tmp, not pytest's tmp_path.
        self.dir = Path(tempfile.mkdtemp(prefix="lvd.", dir="/tmp"))
        self.run_dir = self.dir / "run"
        self.config_dir = self.dir / "config"
        self.cache_dir = self.dir / "cache"
        self.socket = self.run_dir / "libvirt" / "libvirt-sock"
        self.log = self.dir / "libvirtd.log"
        self.process: subprocess.Popen[bytes] | None = None

    # -- where it is ---------------------------------------------------------------------------

    def uri(self, driver: str = "qemu") -> str:
        """The URI of ``driver`` (qemu or test) through this daemon."""
        path = "default" if driver == "test" else "session"
        return f"{driver}+unix:///{path}?socket={self.socket}"

    @property
    def qemu_uri(self) -> str:
        return self.uri("qemu")

    @property
    def test_uri(self) -> str:
        return self.uri("test")

    @property
    def qemu_logs(self) -> Path:
        return self.cache_dir / "libvirt" / "qemu" / "log"

    @property
    def qemu_pid_dir(self) -> Path:
        return self.run_dir / "libvirt" / "qemu" / "run"

    # -- starting and stopping -----------------------------------------------------------------

    def start(self) -> Daemon:
        for missing in ("libvirtd", "unshare", "virsh", "qemu-system-x86_64"):
            if shutil.which(missing) is None and not os.path.exists(f"/usr/sbin/{missing}"):
                raise DaemonError(f"{missing} is not installed: run scripts/setup-system as root")
        for directory in (self.run_dir, self.cache_dir, self.config_dir / "libvirt", self.dir / "data"):
            directory.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "libvirt" / "qemu.conf").write_text('stdio_handler = "file"\n')
        (self.config_dir / "libvirt" / "libvirtd.conf").write_text(f'log_outputs = "3:file:{self.log}"\n')
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.dir),
            "XDG_RUNTIME_DIR": str(self.run_dir),
            "XDG_CONFIG_HOME": str(self.config_dir),
            "XDG_CACHE_HOME": str(self.cache_dir),
            "XDG_DATA_HOME": str(self.dir / "data"),
            "LC_ALL": "C",
        }
        libvirtd = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
        with open(self.dir / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen(
                ["unshare", "--map-user=1000", "--map-group=1000", libvirtd],
                env=env,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise DaemonError(f"libvirtd exited with status {self.process.returncode}: {self._tail()}")
            if self.socket.exists() and self.virsh("uri", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise DaemonError(f"libvirtd did not answer on {self.socket} within {START_TIMEOUT:.0f} s: {self._tail()}")

    def _tail(self) -> str:
        text = ""
        for log in (self.dir / "stderr.log", self.log):
            with contextlib.suppress(OSError):
                text += log.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-5:])

    def virsh(self, *args: str, driver: str = "qemu", check: bool = True) -> subprocess.CompletedProcess[str]:
        """``virsh -c URI ARGS`` against this daemon (not through xenctl)."""
        return subprocess.run(
            ["virsh", "-q", "-c", self.uri(driver), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    def qemu_pids(self) -> dict[str, int]:
        """The QEMU processes this daemon runs, by guest name (from its pid files)."""
        found = {}
        for pid_file in self.qemu_pid_dir.glob("*.pid") if self.qemu_pid_dir.exists() else ():
            if pid_file.stem == "driver":
                continue  # the QEMU driver's own lock, not a guest
            with contextlib.suppress(OSError, ValueError):
                found[pid_file.stem] = int(pid_file.read_text().strip())
        return found

    def stop(self) -> None:
        """Destroy the running guests, end the daemon, end any QEMU process it left; remove the directory."""
        if self.process is not None and self.process.poll() is None:
            for driver in ("qemu", "test"):
                listed = self.virsh("list", "--name", driver=driver, check=False)
                for name in listed.stdout.split() if listed.returncode == 0 else ():
                    self.virsh("destroy", name, driver=driver, check=False)
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        for pid in self.qemu_pids().values():
            with contextlib.suppress(OSError):  # only a process of this daemon's: its paths are in its arguments
                if str(self.dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
