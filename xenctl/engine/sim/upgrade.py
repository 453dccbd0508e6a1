"""Host files made by an earlier xenctl, brought up to this one's schema in place."""

from __future__ import annotations

import json
import sqlite3

from xenctl.engine.sim import store


def upgrade_schema(conn: sqlite3.Connection, version: int) -> None:
    """Bring a host file made by an earlier xenctl up to this one (inside the caller's transaction)."""
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
        for trigger in ("insert", "delete", "update"):
            conn.execute(f"DROP TRIGGER IF EXISTS journal_domain_{trigger}")
        store.run_script(conn, store.JOURNAL_TRIGGERS)
    if version < 6:
        store.run_script(conn, store.TOKEN_INDEXES)
    conn.execute(f"PRAGMA user_version={store.SCHEMA_VERSION}")
