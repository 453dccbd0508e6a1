"""Opening and making hosts: the host file in a xenctl home, its schema set up, upgraded or replaced.

``open_host`` is the one entry point the command line uses; ``init_host`` makes a host anew from a
profile, and ``host_exists`` tells whether a home holds one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from dataclasses import replace

from xenctl.engine.sim import store, upgrade, xendconfig
from xenctl.engine.sim.blockdevs import digest_of
from xenctl.engine.sim.clock import Clock, SystemClock
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.host import SimHost
from xenctl.engine.sim.profile import HostProfile, default_profile, profile_from_dict
from xenctl.errors import StoreError, UsageError


def _resolve_profile(profile: HostProfile, home: str) -> HostProfile:
    """The profile with its save directory made absolute (under ``home`` when relative), and made."""
    save_dir = profile.save_dir if os.path.isabs(profile.save_dir) else os.path.join(home, profile.save_dir)
    try:
        os.makedirs(save_dir, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{save_dir}: cannot make the save directory: {exc.strerror}") from None
    return replace(profile, save_dir=save_dir)


def host_exists(home: str) -> bool:
    """Whether ``home`` holds a host (a file that is there but empty or half-made does not count)."""
    path = store.host_file(home)
    if not os.path.isfile(path):
        return os.path.exists(path)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=store.BUSY_TIMEOUT_S)
        try:
            return store.schema_version(db) > 0
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return True  # something else is there: not ours to overwrite without --force


def open_host(
    home: str,
    *,
    clock: Clock | None = None,
    profile: HostProfile | None = None,
    actor: str = "",
    xen_root: str | None = None,
) -> SimHost:
    """Open the host in ``home``, making it from ``profile`` (default: built-in) if there is none;
    with ``xen_root``, what its ``xend-config.sxp`` decides wins over the profile's settings."""
    clock = clock or SystemClock()
    xend = xendconfig.read_xend_config(xen_root) if xen_root else None
    db = _connect(home)
    try:
        version = store.schema_version(db)
        if version == 0:
            with store.write_txn(db):
                if store.schema_version(db) == 0:  # another process may have just made it
                    fresh = profile or default_profile()
                    _resolve_profile(fresh, home)  # its save directory must be possible
                    _initialise(db, fresh, clock.now())
        elif version > store.SCHEMA_VERSION:
            raise StoreError(f"{store.host_file(home)} was made by a newer xenctl (schema {version})")
        elif version < store.SCHEMA_VERSION:
            with store.write_txn(db):
                if store.schema_version(db) < store.SCHEMA_VERSION:  # another process may have done it
                    upgrade.upgrade_schema(db, store.schema_version(db))
        row = db.execute("SELECT value FROM meta WHERE key = 'profile'").fetchone()
        stored = profile_from_dict(json.loads(row[0]), file=store.host_file(home))
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{store.host_file(home)}: not a xenctl host file ({exc})") from None
    except BaseException:
        db.close()
        raise
    try:
        return SimHost(home, db, _resolve_profile(stored, home), clock, actor, xend)
    except BaseException:
        db.close()
        raise


def _connect(home: str) -> sqlite3.Connection:
    try:
        os.makedirs(home, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{home}: cannot make the xenctl home directory: {exc.strerror}") from None
    path = store.host_file(home)
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"{path}: no permission to read and write the host's state file")
    db = store.connect(path)
    db.row_factory = sqlite3.Row
    return db


def init_host(home: str, profile: HostProfile, *, clock: Clock | None = None, force: bool = False) -> SimHost:
    """Make a new host in ``home``; an existing one is replaced only with ``force``.

    The replacement is one transaction: processes that have the host open see the old host or
    the new one, and a failure leaves the old host as it was.
    """
    clock = clock or SystemClock()
    path = store.host_file(home)
    if host_exists(home) and not force:
        raise UsageError(f"a host already exists in {home}; --force replaces it, and its domains and volumes are lost")
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a host's state file")
    try:
        db = _connect(home)
    except StoreError:
        if not force or not os.path.isfile(path):
            raise
        os.unlink(path)  # not a host file at all, and --force: nothing of ours is lost
        db = _connect(home)
    try:
        with store.write_txn(db):
            _resolve_profile(profile, home)
            _drop_everything(db)
            _initialise(db, profile, clock.now())
            Ctx(db, clock.now(), profile, clock.scale, "xenctl").event("host-init", profile.name)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{path}: cannot make the host: {exc}") from None
    db.close()
    return open_host(home, clock=clock)


def _drop_everything(db: sqlite3.Connection) -> None:
    tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()
    for (name,) in tables:
        db.execute(f'DROP TABLE "{name}"')
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        db.execute("DELETE FROM sqlite_sequence")
    db.execute("PRAGMA user_version=0")


def _initialise(db: sqlite3.Connection, profile: HostProfile, now: float) -> None:
    store.create_schema(db)
    ctx = Ctx(db, now, profile, 1.0)
    ctx.set_meta("profile", profile.to_dict())
    ctx.set_meta("created_at", now)
    ctx.set_meta("last_domid", 0)
    ctx.set_meta("dom0_memory", profile.dom0_initial_memory)
    ctx.set_meta("runlevel", profile.runlevel)
    ctx.set_meta("host_id", uuid.uuid4().hex)  # a host made anew is another host, whatever its clock says
    ctx.set_meta("generation", 0)
    for disk in profile.disks:
        for part in disk.partitions:
            path = f"/dev/{part.name}"
            db.execute(
                "INSERT INTO partitions(path, disk, size, mountpoint, mounted, filesystem, digest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (path, disk.name, part.size, part.mount, part.mode, part.filesystem, digest_of("partition", path)),
            )
    for server, paths in profile.nfs_servers:
        for path in paths:
            db.execute(
                "INSERT INTO exports(server, path, digest, by_domain) VALUES (?, ?, ?, 0)",
                (server, path, digest_of("export", server, path)),
            )
