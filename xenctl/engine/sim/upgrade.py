"""Bringing a host file made by an earlier xenctl up to this one's schema, in place.

Kept apart from ``store`` (the schema, the connection and its transactions): it runs once a file,
when a newer xenctl first opens it.
"""

from __future__ import annotations

import json
import sqlite3

from xenctl.engine.sim import store


def upgrade_schema(conn: sqlite3.Connection, version: int) -> None:
    """Bring a host file made by an earlier xenctl up to this one (inside the caller's transaction)."""
    if version < 8:  # first: the journal's triggers, made by the steps below, read these columns
        _record_columns(conn)
    if version < 2:
        for column in (
            "skip INTEGER NOT NULL DEFAULT 0",
            "rate REAL NOT NULL DEFAULT 1.0",
            "seen INTEGER NOT NULL DEFAULT 0",
        ):
            conn.execute(f"ALTER TABLE faults ADD COLUMN {column}")
    if version < 3:  # what was there before is taken as written: nothing of it may be formatted over
        conn.execute("ALTER TABLE lvs ADD COLUMN written INTEGER NOT NULL DEFAULT 1")
        conn.execute("ALTER TABLE images ADD COLUMN written INTEGER NOT NULL DEFAULT 1")
        # and the host gets its id and its count of changes (what plans use to tell it unchanged)
        import uuid  # here only: ``xenctl list`` reads the host without it

        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('host_id', ?)", (json.dumps(uuid.uuid4().hex),))
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
    if version < 4:
        store.run_script(conn, store.JOURNAL)
    elif version < 5:  # the journal's rows learn what a plan saw before and after each write
        conn.execute("ALTER TABLE journal ADD COLUMN was TEXT")
        conn.execute("ALTER TABLE journal ADD COLUMN became TEXT")
        _drop_domain_triggers(conn)
        store.run_script(conn, store.JOURNAL_TRIGGERS)
    if version < 7:
        _rebuild_lvs(conn)
        # the indexes the change token reads (schema 6), made after the rebuild, which drops the old table's
        store.run_script(conn, store.TOKEN_INDEXES)
    if version < 8:  # records written anew, but no guest changed: the journal sees none of it
        _drop_domain_triggers(conn)
        _records_apart(conn)
        store.run_script(conn, store.JOURNAL_TRIGGERS)  # what a plan saw of a guest takes in its MACs
    conn.execute(f"PRAGMA user_version={store.SCHEMA_VERSION}")


def _record_columns(conn: sqlite3.Connection) -> None:
    """A domain's record under its new name, ``record`` (schema 8): what the ``config`` column
    held takes another shape here, and an older xenctl that has the file open (a ``serve``, a
    ``watch``) must fail to read it, not read a config without its name; and the MACs' column."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(domains)")}
    if "config" in columns:
        conn.execute("ALTER TABLE domains RENAME COLUMN config TO record")
    if "macs" not in columns:
        conn.execute("ALTER TABLE domains ADD COLUMN macs TEXT")


def _drop_domain_triggers(conn: sqlite3.Connection) -> None:
    """The journal's triggers on the domains table dropped (``JOURNAL_TRIGGERS`` makes them anew)."""
    for trigger in ("insert", "delete", "update"):
        conn.execute(f"DROP TRIGGER IF EXISTS journal_domain_{trigger}")


def _records_apart(conn: sqlite3.Connection) -> None:
    """Each domain's record without what is the guest's own (schema 8): its name and uuid, which
    its row's columns hold, and its interfaces' MACs, moved to a column of their own. Guests made
    from one template then have one record, which a snapshot parses once for them all. A name
    that is not the row's (a guest being saved, under xend's name for it) stays."""
    for domid, name, uuid, text in conn.execute("SELECT domid, name, uuid, record FROM domains").fetchall():
        data = json.loads(text)
        kept = {key: value for key, value in data.items() if (key, value) not in (("name", name), ("uuid", uuid))}
        vifs = kept.get("vifs") or []
        if any("mac" in vif for vif in vifs):
            macs = json.dumps([vif.pop("mac", None) for vif in vifs])
            conn.execute("UPDATE domains SET macs = ? WHERE domid = ?", (macs, domid))
        conn.execute("UPDATE domains SET record = ? WHERE domid = ?", (json.dumps(kept), domid))


def _rebuild_lvs(conn: sqlite3.Connection) -> None:
    """The logical volumes into a table kept in key order (schema 7): the same rows, the same
    triggers. Its triggers go first, so that dropping the old table counts nothing out of its VGs."""
    triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'lvs'").fetchall()
    for (trigger,) in triggers:
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("ALTER TABLE lvs RENAME TO lvs_rowid")
    store.run_script(conn, store.LVS)
    conn.execute(f"INSERT INTO lvs({store.LV_COLUMNS}) SELECT {store.LV_COLUMNS} FROM lvs_rowid")
    conn.execute("DROP TABLE lvs_rowid")
    store.run_script(conn, store.VG_USED)
    store.run_script(conn, store.JOURNAL_TRIGGERS)  # those of the lvs table: the others are there (IF NOT EXISTS)
