"""``xenctl xend start|stop|restart|status``: ``xenctl serve`` as a daemon, as xend's init script ran xend.

``start`` checks the options as ``serve`` would (so a mistake is one line here, not a line in a
log), then runs ``xenctl serve`` as a detached process in a session of its own, its output
appended to the log file, its pid in the pid file, and waits until its port answers. The answers
and exit codes are LSB's: ``start`` of a running service and ``stop`` of a stopped one succeed;
``status`` is 0 running, 3 stopped, 1 when the pid file names a process that is gone.

The pid and log files default to ``/run/xenctl/xend.pid`` and ``/var/log/xenctl/xend.log`` for
root, else to ``run/xend.pid`` and ``log/xend.log`` in the simulated host's home.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from xenctl.app.host import SIM_SCHEME, default_home, parse_url
from xenctl.cli.context import host_url, settings_of
from xenctl.errors import UsageError, XenctlError

START_WAIT = 30.0  # seconds start waits for the port to answer
STOP_WAIT = 30.0  # seconds stop waits after SIGTERM before it gives up with SIGKILL
STATUS_RUNNING, STATUS_DEAD_PIDFILE, STATUS_STOPPED = 0, 1, 3


def default_paths(args: argparse.Namespace) -> tuple[str, str]:
    """(pid file, log file) unless given: /run and /var/log for root, else the simulated home."""
    if os.geteuid() == 0:
        return "/run/xenctl/xend.pid", "/var/log/xenctl/xend.log"
    where = parse_url(host_url(args))
    home = where.path if where.scheme == SIM_SCHEME else default_home()
    return os.path.join(home, "run", "xend.pid"), os.path.join(home, "log", "xend.log")


def read_pid(pid_file: str) -> int | None:
    """The pid in the pid file; None when there is no file. A file that is not a pid is refused."""
    try:
        with open(pid_file, encoding="utf-8") as f:
            text = f.read(64).strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise XenctlError(f"{pid_file}: cannot read the pid file: {exc.strerror}") from None
    if not text.isdigit() or int(text) < 2:
        raise XenctlError(f"{pid_file}: not a pid file (it holds {text[:20]!r}); remove it")
    return int(text)


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live ``xenctl serve`` (not a process that took the number since)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc to ask: trust kill(0)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False  # exited, not yet reaped
    except (OSError, IndexError):
        pass
    return b"serve" in words and any(b"xenctl" in w for w in words)


def serve_command(args: argparse.Namespace) -> list[str]:
    """The ``xenctl serve`` command line the daemon runs, with the host made explicit."""
    words = [sys.executable, "-m", "xenctl", "--connect", host_url(args)]
    if args.xen_root is not None:
        words += ["--xen-root", args.xen_root]
    if args.allow_outside_links:
        words.append("--allow-outside-links")
    words += ["serve", "--listen", args.listen]
    if args.specs is not None:
        words += ["--specs", os.path.abspath(args.specs)]
    if args.token_file is not None:
        words += ["--token-file", os.path.abspath(args.token_file)]
    return words


def _ensure_dir(path: str, what: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise XenctlError(f"{parent}: cannot make the directory for the {what}: {exc.strerror}") from None


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _reachable(listen: str) -> str:
    """Where to knock to see whether the service listening on ``listen`` answers."""
    return {"0.0.0.0": "127.0.0.1", "localhost": "127.0.0.1", "::": "::1"}.get(listen, listen)


def _last_line(log_file: str) -> str:
    try:
        with open(log_file, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f.readlines()[-20:] if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def start(args: argparse.Namespace, pid_file: str, log_file: str) -> int:
    from xenctl.web.config import server_config

    config = server_config(
        host_url(args), settings_of(args), listen=args.listen, specs=args.specs, token_file=args.token_file
    )
    pid = read_pid(pid_file)
    if pid is not None and is_running(pid):
        print(f"xend is already running (pid {pid})")
        return 0
    host = _reachable(config.listen)
    if _answers(host, config.port):
        raise XenctlError(
            f"--listen {args.listen}: the port is in use by another process; stop it, or listen elsewhere"
        )
    _ensure_dir(pid_file, "pid file")
    _ensure_dir(log_file, "log file")
    try:
        log = open(log_file, "ab")  # noqa: SIM115 - handed to the daemon, closed here once it has it
    except OSError as exc:
        raise XenctlError(f"{log_file}: cannot open the log file: {exc.strerror}") from None
    with log, open(os.devnull, "rb") as nothing:
        child = subprocess.Popen(
            serve_command(args), stdin=nothing, stdout=log, stderr=log, start_new_session=True, close_fds=True
        )
    with open(pid_file, "w", encoding="utf-8") as f:
        f.write(f"{child.pid}\n")
    host = (
        "127.0.0.1" if config.listen in ("0.0.0.0", "localhost") else "::1" if config.listen == "::" else config.listen
    )
    deadline = time.monotonic() + START_WAIT
    while not _answers(host, config.port):
        if child.poll() is not None or time.monotonic() > deadline:
            _remove(pid_file)
            if child.poll() is None:
                child.kill()
            why = _last_line(log_file) or f"it exited with status {child.returncode}"
            raise XenctlError(f"xend did not start: {why} (the log: {log_file})")
        time.sleep(0.1)
    where = f"[{config.listen}]" if ":" in config.listen else config.listen
    print(f"Started xend (pid {child.pid}): {config.url} on http://{where}:{config.port}/ (log: {log_file})")
    return 0


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def stop(pid_file: str) -> int:
    pid = read_pid(pid_file)
    if pid is None or not is_running(pid):
        _remove(pid_file)
        print("xend is not running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise XenctlError(f"xend (pid {pid}) belongs to another user; stop it as that user or as root") from None
    deadline = time.monotonic() + STOP_WAIT
    while is_running(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            print(f"xend (pid {pid}) did not stop within {STOP_WAIT:.0f} s of SIGTERM; killed it")
            break
        time.sleep(0.1)
    _remove(pid_file)
    print(f"Stopped xend (pid {pid})")
    return 0


def status(pid_file: str) -> int:
    pid = read_pid(pid_file)
    if pid is None:
        print("xend is not running")
        return STATUS_STOPPED
    if not is_running(pid):
        print(f"xend is not running, but its pid file {pid_file} names pid {pid}")
        return STATUS_DEAD_PIDFILE
    print(f"xend is running (pid {pid})")
    return STATUS_RUNNING


def run_xend(args: argparse.Namespace) -> int:
    if args.serve_connect is not None:
        args.connect, args.home = args.serve_connect, None
    pid_default, log_default = default_paths(args)
    pid_file = os.path.abspath(args.pid_file or pid_default)
    log_file = os.path.abspath(args.log_file or log_default)
    action = args.xend_action
    if action == "start":
        return start(args, pid_file, log_file)
    if action == "stop":
        return stop(pid_file)
    if action == "restart":
        stop(pid_file)
        return start(args, pid_file, log_file)
    if action == "status":
        return status(pid_file)
    raise UsageError(f"xend {action}: write start, stop, restart or status")
