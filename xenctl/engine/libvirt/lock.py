"""A libvirt host's lock: one mutating xenctl command at a time, as a record file on this machine.

libvirt has no lock of its own for xenctl, so the lock is a JSON record (id, holder, pid, machine,
start, command) in a directory keyed by the host's URL under the user's cache directory
(``$XDG_CACHE_HOME/xenctl/libvirt/<hash of the URL>``, beside the host's saved domains and event
log). An OS file lock (``flock``) on a neighbouring file guards each read and write of the
record; the record is what holds the host. A holder whose process is gone (same machine, pid not
alive) no longer holds it and is taken over; ``force_unlock`` removes a lock by its id.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator

from xenctl.engine.api import HostLock
from xenctl.engine.processes import alive
from xenctl.errors import LockError


def state_dir(url: str) -> str:
    """The directory of xenctl's own files for the host at ``url`` (made here)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "xenctl", "libvirt", hashlib.blake2b(url.encode(), digest_size=8).hexdigest())
    os.makedirs(path, exist_ok=True)
    return path


class FileLock:
    """The lock of one host, kept in ``directory``."""

    def __init__(self, directory: str) -> None:
        self.record = os.path.join(directory, "lock.json")
        self.guard = os.path.join(directory, "lock.guard")
        self.counter = os.path.join(directory, "lock.next")

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        with open(self.guard, "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def _read(self) -> HostLock | None:
        try:
            with open(self.record) as f:
                fields = json.load(f)
            return HostLock(**fields)
        except (OSError, ValueError, TypeError):
            return None

    def _next_id(self) -> int:
        try:
            with open(self.counter) as f:
                last = int(f.read().strip() or 0)
        except (OSError, ValueError):
            last = 0
        with open(self.counter, "w") as f:
            f.write(str(last + 1))
        return last + 1

    def acquire(self, command: str, timeout: float) -> tuple[HostLock, HostLock | None]:
        """Take the lock, waiting up to ``timeout`` seconds; returns it and the stale lock taken over."""
        deadline = time.monotonic() + timeout
        machine = socket.gethostname()
        while True:
            with self._guarded():
                held = self._read()
                stale = held is not None and held.machine == machine and not alive(held.pid)
                if held is None or stale:
                    pid = os.getpid()
                    mine = HostLock(self._next_id(), f"xenctl pid {pid}", pid, machine, time.time(), command)
                    with open(self.record + ".new", "w") as f:
                        json.dump(_fields(mine), f)
                    os.replace(self.record + ".new", self.record)
                    return mine, held if stale else None
            if time.monotonic() >= deadline:
                raise LockError(
                    f"the host is locked by {held.describe() if held else 'another command'}; waited {timeout:g}s "
                    "(--lock-timeout). If that command is gone for good: "
                    f"xenctl force-unlock {held.id if held else '?'}"
                )
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def release(self, held: HostLock) -> None:
        with self._guarded():
            current = self._read()
            if current is not None and (current.id, current.pid) == (held.id, held.pid):
                os.unlink(self.record)

    def force_unlock(self, lock_id: int) -> HostLock:
        with self._guarded():
            held = self._read()
            if held is None or held.id != lock_id:
                raise LockError(f"there is no lock {lock_id}" + (f"; the host has {held.describe()}" if held else ""))
            os.unlink(self.record)
            return held

    def holder(self) -> HostLock | None:
        with self._guarded():
            return self._read()


def _fields(held: HostLock) -> dict[str, object]:
    return {
        "id": held.id,
        "holder": held.holder,
        "pid": held.pid,
        "machine": held.machine,
        "started": held.started,
        "command": held.command,
    }
