"""One mutating command at a time per host: a lock with its holder, pid, start time and command.

The lock is a row in the host file, taken and released in its own transactions. A holder whose
process is gone (same machine, pid no longer alive) no longer holds it: the next taker takes it
over and says so. ``force_unlock`` removes a lock by its id, for a holder on another machine.
Waiting is in real time: another process holds the lock, not the simulation.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable

from xenctl.engine.api import HostLock
from xenctl.engine.processes import alive
from xenctl.engine.sim import store
from xenctl.errors import LockError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS host_lock (
    id      INTEGER PRIMARY KEY,
    holder  TEXT NOT NULL,
    pid     INTEGER NOT NULL,
    machine TEXT NOT NULL,
    started REAL NOT NULL,
    command TEXT NOT NULL
)
"""


def _current(db: sqlite3.Connection) -> HostLock | None:
    row = db.execute("SELECT id, holder, pid, machine, started, command FROM host_lock").fetchone()
    return HostLock(*row) if row else None


def acquire(
    db: sqlite3.Connection, command: str, timeout: float, *, on_takeover: Callable[[HostLock], None] | None = None
) -> HostLock:
    """Take the host's lock, waiting up to ``timeout`` seconds; LockError names the holder."""
    deadline = time.monotonic() + timeout
    machine = socket.gethostname()
    while True:
        with store.write_txn(db):
            db.execute(_SCHEMA)
            held = _current(db)
            stale = held is not None and held.machine == machine and not alive(held.pid)
            if held is None or stale:
                db.execute("DELETE FROM host_lock")
                cursor = db.execute(
                    "INSERT INTO host_lock(holder, pid, machine, started, command) VALUES (?, ?, ?, ?, ?)",
                    (f"xenctl pid {os.getpid()}", os.getpid(), machine, time.time(), command),
                )
                mine = HostLock(
                    int(cursor.lastrowid or 0), f"xenctl pid {os.getpid()}", os.getpid(), machine, time.time(), command
                )
                taken_from = held if stale else None
                break
        if time.monotonic() >= deadline:
            raise LockError(
                f"the host is locked by {held.describe() if held else 'another command'}; waited {timeout:g}s "
                f"(--lock-timeout). If that command is gone for good: xenctl force-unlock {held.id if held else '?'}"
            )
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    if taken_from is not None and on_takeover is not None:
        on_takeover(taken_from)  # in a transaction of its own, once the lock is ours
    return mine


def release(db: sqlite3.Connection, lock: HostLock) -> None:
    with store.write_txn(db):
        db.execute(_SCHEMA)
        db.execute("DELETE FROM host_lock WHERE id = ? AND pid = ?", (lock.id, lock.pid))


def force_unlock(db: sqlite3.Connection, lock_id: int) -> HostLock:
    with store.write_txn(db):
        db.execute(_SCHEMA)
        held = _current(db)
        if held is None or held.id != lock_id:
            raise LockError(f"there is no lock {lock_id}" + (f"; the host has {held.describe()}" if held else ""))
        db.execute("DELETE FROM host_lock WHERE id = ?", (lock_id,))
        return held


def holder(db: sqlite3.Connection) -> HostLock | None:
    with store.read_txn(db):
        exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'host_lock'").fetchone()
        return _current(db) if exists else None
