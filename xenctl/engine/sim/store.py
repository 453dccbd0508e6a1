"""The simulated host's one SQLite file: schema, connection settings and transactions.

Several processes (an ``apply``, a ``watch``, an ``xenctl list``) share one host file. WAL mode
lets readers run beside the writer; every mutation runs in one ``BEGIN IMMEDIATE`` transaction,
so a writer takes the write lock before it reads what it will change and two writers can never
interleave a read-modify-write. The busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from xenctl.errors import StoreError

SCHEMA_VERSION = 8
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE domains (
    domid      INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    uuid       TEXT NOT NULL,
    record     TEXT NOT NULL,            -- the DomainConfig as JSON, disks, name, uuid and MACs apart
    memory     INTEGER NOT NULL,         -- MiB held now
    shadow     INTEGER NOT NULL DEFAULT 0,  -- MiB of shadow memory held beside it
    target     INTEGER NOT NULL,         -- balloon target, MiB
    vcpus      INTEGER NOT NULL,         -- online
    created_at REAL NOT NULL,
    up_at      REAL NOT NULL,            -- when the guest is up (boot or restore done)
    paused     INTEGER NOT NULL DEFAULT 0,
    paused_at  REAL,                     -- since when (boot and exit wait while paused)
    run_accum  REAL NOT NULL DEFAULT 0,  -- seconds run before run_since
    run_base   REAL NOT NULL DEFAULT 0,  -- of which, run by earlier instances (before a save)
    cpu_base   REAL NOT NULL DEFAULT 0,  -- CPU seconds used by earlier instances
    run_since  REAL,                     -- NULL while not running
    stopping   TEXT,                     -- 'poweroff' or 'reboot' once shutdown was asked
    exit_kind  TEXT,                     -- 'poweroff', 'reboot', 'crash' or 'saved'
    exit_at    REAL,                     -- when exit_kind happens, NULL: never (hung) or none
    halted     TEXT,                     -- 'shutdown' or 'crashed' when kept by preserve
    restarted_at REAL,                   -- when xend last restarted it (reboot, restart on exit)
    managed_by TEXT,
    source     TEXT,
    macs       TEXT                      -- its interfaces' MACs, a JSON array (NULL: no interface)
);
CREATE INDEX domains_exit ON domains(exit_at) WHERE exit_at IS NOT NULL AND paused = 0;
CREATE TABLE disks (
    domid        INTEGER NOT NULL,
    vdev         TEXT NOT NULL,
    target       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    backend      TEXT NOT NULL,
    attached_run REAL NOT NULL,          -- the domain's run seconds when writes were last counted
    loop         INTEGER,                -- loop device held by a file: disk
    next_digest  TEXT,                   -- the target's digest once this writer's writes are counted
    PRIMARY KEY (domid, vdev)
);
CREATE INDEX disks_target ON disks(target);
CREATE INDEX disks_loop ON disks(loop) WHERE loop IS NOT NULL;
CREATE TABLE partitions (
    path       TEXT PRIMARY KEY,
    disk       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mountpoint TEXT,
    mounted    TEXT,
    filesystem TEXT,
    digest     TEXT NOT NULL,
    vg         TEXT
);
CREATE TABLE vgs (
    name        TEXT PRIMARY KEY,
    extent_size INTEGER NOT NULL,
    extents     INTEGER NOT NULL,         -- on its physical volumes
    used        INTEGER NOT NULL DEFAULT 0,  -- held by its LVs and snapshots' COW (kept by triggers)
    managed_by  TEXT,
    source      TEXT
);
__LVS__
CREATE TABLE images (
    path       TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    sparse     INTEGER NOT NULL,
    filesystem TEXT,
    digest     TEXT NOT NULL,
    read_only  INTEGER NOT NULL DEFAULT 0,
    managed_by TEXT,
    source     TEXT,
    written    INTEGER NOT NULL DEFAULT 1  -- anything was put on it (a copy, a guest's writes)
);
CREATE TABLE exports (
    server     TEXT NOT NULL,
    path       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    by_domain  INTEGER NOT NULL DEFAULT 0,
    managed_by TEXT,
    source     TEXT,
    PRIMARY KEY (server, path)
);
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      REAL NOT NULL,
    op      TEXT NOT NULL,
    obj     TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    actor   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE console (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    domid INTEGER NOT NULL,
    at    REAL NOT NULL,
    text  TEXT NOT NULL
);
CREATE INDEX console_domid ON console(domid);
-- Running totals, kept by triggers in the same transaction as every change, so that checking
-- memory or VG space costs the same with ten domains or ten thousand.
CREATE TABLE totals (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO totals(key, value) VALUES ('guest_memory', 0);
CREATE TRIGGER guest_memory_insert AFTER INSERT ON domains BEGIN
    UPDATE totals SET value = value + NEW.memory + NEW.shadow WHERE key = 'guest_memory';
END;
CREATE TRIGGER guest_memory_delete AFTER DELETE ON domains BEGIN
    UPDATE totals SET value = value - OLD.memory - OLD.shadow WHERE key = 'guest_memory';
END;
CREATE TRIGGER guest_memory_update AFTER UPDATE OF memory ON domains BEGIN
    UPDATE totals SET value = value - OLD.memory + NEW.memory WHERE key = 'guest_memory';
END;
__VG_USED__
__JOURNAL__
CREATE TABLE faults (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    op      TEXT NOT NULL,
    obj     TEXT NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    times   INTEGER,                     -- NULL: every time
    skip    INTEGER NOT NULL DEFAULT 0,  -- matching calls let through before it may fire
    rate    REAL NOT NULL DEFAULT 1.0,   -- the share of matching calls it fires on
    seen    INTEGER NOT NULL DEFAULT 0   -- matching calls so far
);
"""

# The logical volumes, stored in the order of their key (WITHOUT ROWID): a snapshot reads them all
# in (vg, name) order, which a table in rowid order gives only through its key's index, looking up
# every row in the table from it (a seventh of the read of 30,000 volumes).
LVS = """
CREATE TABLE lvs (
    vg         TEXT NOT NULL,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    filesystem TEXT,
    digest     TEXT NOT NULL,
    origin     TEXT,
    cow_size   INTEGER NOT NULL DEFAULT 0,
    cow_base   INTEGER NOT NULL DEFAULT 0,
    invalid    INTEGER NOT NULL DEFAULT 0,
    managed_by TEXT,
    source     TEXT,
    written    INTEGER NOT NULL DEFAULT 1,  -- anything was put on it (a copy, a guest's writes)
    PRIMARY KEY (vg, name)
) WITHOUT ROWID;
"""
LV_COLUMNS = "vg, name, size, filesystem, digest, origin, cow_size, cow_base, invalid, managed_by, source, written"
VG_USED = """
CREATE TRIGGER vg_used_insert AFTER INSERT ON lvs BEGIN
    UPDATE vgs SET used = used + (CASE WHEN NEW.origin IS NULL THEN NEW.size ELSE NEW.cow_size END) / extent_size
    WHERE name = NEW.vg;
END;
CREATE TRIGGER vg_used_delete AFTER DELETE ON lvs BEGIN
    UPDATE vgs SET used = used - (CASE WHEN OLD.origin IS NULL THEN OLD.size ELSE OLD.cow_size END) / extent_size
    WHERE name = OLD.vg;
END;
CREATE TRIGGER vg_used_update AFTER UPDATE OF size, cow_size ON lvs BEGIN
    UPDATE vgs SET used = used
        - (CASE WHEN OLD.origin IS NULL THEN OLD.size ELSE OLD.cow_size END) / extent_size
        + (CASE WHEN NEW.origin IS NULL THEN NEW.size ELSE NEW.cow_size END) / extent_size
    WHERE name = NEW.vg;
END;
"""

# What changed, for a plan made after the host changed: a row for each guest whose own row was
# written ('domain', by name), one for each of the host's own settings written ('host', by key:
# Domain-0's memory and vCPUs, the runlevel ...), and one for any write to what holds data or is
# held ('storage': disks, partitions, volume groups, LVs, images, exports), which sends the plan
# back to a whole read. A guest's and a setting's rows carry what a plan can see of it before
# the write and after it (``was``, ``became``; '' for absent), so a guest paused and resumed, or
# a memory set and set back, is known to be as it was. Kept by triggers, in the transaction of
# the change; ``mark_changed`` stamps the host's generation with the last row, and trims the oldest.
# What a plan can see of a guest's row: all of it but the accounting of the time it ran.
_SEEN = (
    "domid", "uuid", "record", "memory", "shadow", "target", "vcpus", "created_at", "up_at", "paused",
    "stopping", "exit_kind", "exit_at", "halted", "restarted_at", "managed_by", "source", "macs",
)  # fmt: skip


def _seen(row: str) -> str:
    return "json_array(" + ", ".join(f"{row}.{column}" for column in _SEEN) + ")"


_JOURNAL_TABLE = """
CREATE TABLE IF NOT EXISTS journal (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    name   TEXT NOT NULL,
    was    TEXT,             -- what a plan saw of it before ('' absent; NULL: not known)
    became TEXT              -- and after
);
"""
JOURNAL_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS journal_domain_insert AFTER INSERT ON domains BEGIN
    INSERT INTO journal(kind, name, was, became) VALUES ('domain', NEW.name, '', {_seen("NEW")});
END;
CREATE TRIGGER IF NOT EXISTS journal_domain_delete AFTER DELETE ON domains BEGIN
    INSERT INTO journal(kind, name, was, became) VALUES ('domain', OLD.name, {_seen("OLD")}, '');
END;
CREATE TRIGGER IF NOT EXISTS journal_domain_update AFTER UPDATE ON domains BEGIN
    INSERT INTO journal(kind, name, was, became)
        VALUES ('domain', OLD.name, {_seen("OLD")}, CASE WHEN NEW.name = OLD.name THEN {_seen("NEW")} ELSE '' END);
    INSERT INTO journal(kind, name, was, became)
        SELECT 'domain', NEW.name, '', {_seen("NEW")} WHERE NEW.name != OLD.name;
END;
CREATE TRIGGER IF NOT EXISTS journal_meta_insert AFTER INSERT ON meta WHEN NEW.key != 'generation' BEGIN
    INSERT INTO journal(kind, name, was, became) VALUES ('host', NEW.key, '', NEW.value);
END;
CREATE TRIGGER IF NOT EXISTS journal_meta_update AFTER UPDATE ON meta WHEN NEW.key != 'generation' BEGIN
    INSERT INTO journal(kind, name, was, became) VALUES ('host', NEW.key, OLD.value, NEW.value);
END;
""" + "".join(
    f"""CREATE TRIGGER IF NOT EXISTS journal_{table}_{event.lower()} AFTER {event} ON {table} BEGIN
    INSERT INTO journal(kind, name) VALUES ('storage', '{table}');
END;
"""
    for table in ("disks", "partitions", "vgs", "lvs", "images", "exports")
    for event in ("INSERT", "UPDATE", "DELETE")
)
JOURNAL = _JOURNAL_TABLE + JOURNAL_TRIGGERS
_SCHEMA = _SCHEMA.replace("__LVS__", LVS).replace("__VG_USED__", VG_USED).replace("__JOURNAL__", JOURNAL)

# What the change token reads (``tokens.token_of``), found without a pass over every guest and
# volume: the next boot or exit due, and the copy-on-write snapshots.
TOKEN_INDEXES = """
CREATE INDEX IF NOT EXISTS domains_up ON domains(up_at);
CREATE INDEX IF NOT EXISTS domains_exit_any ON domains(exit_at) WHERE exit_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS lvs_snapshots ON lvs(origin) WHERE origin IS NOT NULL;
"""


class HostConnection(sqlite3.Connection):
    """A connection to a host file, with the lock its process's writers to that file share."""

    writers: threading.RLock | None = None


_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_LOCK = threading.Lock()


def _writers_of(path: str) -> threading.RLock:
    """One lock per host file in this process: its threads (an apply's workers, each with its
    own connection) take turns at writing here, handing over at once, rather than in SQLite's
    busy handler, which sleeps 1 to 100 ms between looks at the file's write lock. Other
    processes still wait in the busy handler."""
    key = os.path.realpath(path)
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(key, threading.RLock())


def connect(path: str) -> sqlite3.Connection:
    """Open the host file with the settings every process must share."""
    try:
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
            factory=HostConnection,
        )
        conn.writers = _writers_of(path)
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        _enter_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a xenctl host file ({exc})") from None
    return conn


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for a process that is making the same new file.

    Changing the journal mode of a new file needs it to itself, and SQLite reports "database is
    locked" at once rather than calling the busy handler; so wait here, as the busy timeout would.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables in an empty file (inside the caller's transaction)."""
    run_script(conn, _SCHEMA)
    run_script(conn, TOKEN_INDEXES)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Each statement of ``script`` (``executescript`` would commit the caller's transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""


@contextmanager
def write_txn(conn: sqlite3.Connection, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
    """One mutation: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back whole on any error.

    ``durable=False`` commits without waiting for the disk (``synchronous=NORMAL``; in WAL mode
    a process killed keeps it, a power cut may not): the write becomes durable with the next
    durable commit to the file. For accounts of what was done, never for the host's state."""
    writers = getattr(conn, "writers", None)
    if writers is not None:
        writers.acquire()
    try:
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"the host is busy: {exc} (another xenctl held it for {BUSY_TIMEOUT_S:g}s)") from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if not durable:
            conn.execute("PRAGMA synchronous=FULL")
        if writers is not None:
            writers.release()


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A part of a transaction that can fail alone, leaving the rest of it standing."""
    conn.execute("SAVEPOINT part")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO part")
        conn.execute("RELEASE part")
        raise
    conn.execute("RELEASE part")


@contextmanager
def read_txn(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A consistent read of several tables (one WAL snapshot)."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def host_file(home: str) -> str:
    return os.path.join(home, "host.db")
