"""The simulated host's change token and change journal, read straight from its file.

The token (``Driver.change_token``) sums up all a plan sees of the host: the host's id, the mark
each operation leaves (``transaction.mark_changed``), the next boot or exit due by the clock, the
state of its copy-on-write snapshots, and the settings it runs by (its profile as stored, and the
bytes of the ``xend-config.sxp`` whose values win over it). The journal says what each write left
of a guest or a host setting, so that a host that changed and came back (a guest paused and
resumed) is known to look as it did (``unchanged_since``).

The driver computes both with these functions. So does the quick path of a cached plan
(``quick_token``, ``quick_unchanged_since``), which opens the host file without the driver, the
live-state model or the profile: a ``xenctl plan`` whose answer is the last plan imports none of
them. The quick path answers only where it gives the driver's answer, and None otherwise, for the
caller to take the driver's path: no host file, or one of another schema version (the driver
makes or upgrades it), an exit fallen due (the driver carries it out first, writing), a live
copy-on-write snapshot (how full it gets is the driver's to work out), or a file it cannot read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

from xenctl.engine.sim.store import BUSY_TIMEOUT_S, SCHEMA_VERSION, host_file

XEND_CONFIG = "xend-config.sxp"  # as ``xendconfig.FILE_NAME`` and ``MAX_BYTES``, without importing the parser
XEND_MAX_BYTES = 1024 * 1024
_META = "SELECT key, value FROM meta WHERE key IN ('host_id', 'generation')"
_NEXT_DUE = (  # each side one step down an index (``store.TOKEN_INDEXES``)
    "SELECT MIN(t) FROM (SELECT MIN(up_at) AS t FROM domains WHERE up_at > :now "
    "UNION ALL SELECT MIN(exit_at) FROM domains WHERE exit_at > :now)"
)
_EXIT_DUE = "SELECT 1 FROM domains WHERE exit_at <= ? AND paused = 0 LIMIT 1"  # as ``lifecycle.is_due``
_LIVE_SNAPSHOT = "SELECT 1 FROM lvs WHERE origin IS NOT NULL AND invalid = 0 LIMIT 1"

JournalRow = tuple[str, str, "str | None", "str | None"]


def xend_stamp(data: bytes | None) -> str:
    """The stamp of an ``xend-config.sxp``'s bytes (None: no such file), for the token."""
    return "none" if data is None else hashlib.blake2b(data, digest_size=8).hexdigest()


def token_of(db: sqlite3.Connection, now: float, xend: str, cow: str) -> str | None:
    """The host's change token at ``now``, inside the caller's read transaction: ``xend`` is the
    stamp of the xend-config.sxp the host runs by, ``cow`` what its snapshots' fill says
    (``snapshot.cow_deadline``). None for a host made before hosts had ids."""
    meta = {key: json.loads(value) for key, value in db.execute(_META)}
    host_id = meta.get("host_id")
    if host_id is None:
        return None  # every plan reads such a host whole
    generation = meta.get("generation")
    due = db.execute(_NEXT_DUE, {"now": now}).fetchone()[0]
    profile = db.execute("SELECT value FROM meta WHERE key = 'profile'").fetchone()
    settings = hashlib.blake2b(f"{profile and profile[0]}\0{xend}".encode(), digest_size=8).hexdigest()
    return f"{host_id}:{generation or 0}:{due!r}:{cow}/{settings}"


def journal_since(
    db: sqlite3.Connection, token: str, now_token: str | None, *, due_may_come: bool
) -> list[JournalRow] | None:
    """The journal's rows written since the host's token was ``token`` (it is ``now_token``
    now), oldest first; None when they cannot tell (another host, a snapshot's deadline moved, a
    boot or an exit fell due by the clock, a journal trimmed past it). With ``due_may_come``, a
    first due time since ``token`` is allowed: the rows name the guest that brought it."""
    then, now = token.split(":", 3), (now_token or "").split(":", 3)
    if len(then) != 4 or len(now) != 4 or then[0] != now[0] or then[3] != now[3]:
        return None
    if then[2] != now[2] and not (due_may_come and then[2] == "None"):
        return None  # something fell due by the clock alone, which no row records
    since = then[1].rpartition(".")[2]
    if not since.isdigit() or "." not in then[1]:
        return None
    first = db.execute("SELECT MIN(seq) FROM journal").fetchone()[0]
    if first is not None and first > int(since) + 1:
        return None  # trimmed: rows after ``since`` are gone
    query = "SELECT kind, name, was, became FROM journal WHERE seq > ? ORDER BY seq"
    return [(kind, name, was, became) for kind, name, was, became in db.execute(query, (int(since),))]


def differ(rows: list[JournalRow]) -> set[tuple[str, str]]:
    """What the rows leave other than it was before the first of them: the (kind, name) of each
    whose first ``was`` is not its last ``became``, or either is not known."""
    first: dict[tuple[str, str], str | None] = {}
    last: dict[tuple[str, str], str | None] = {}
    for kind, name, was, became in rows:
        first.setdefault((kind, name), was)
        last[(kind, name)] = became
    return {key for key, was in first.items() if was is None or last[key] is None or was != last[key]}


def of_guests(rows: list[JournalRow] | None) -> bool:
    """Whether journal rows (``journal_since``) were told and wrote only guests and the host's
    own settings (no storage)."""
    return rows is not None and all(kind in ("domain", "host") for kind, _name, _was, _became in rows)


def unchanged(rows: list[JournalRow] | None) -> bool:
    """Whether journal rows leave all a plan sees as it was: only guests and the host's own
    settings were written, and each is back as it was."""
    return rows is not None and of_guests(rows) and not differ(rows)


def quick_token(home: str, xen_root: str, now: float) -> str | None:
    """The driver's ``change_token()`` of the simulated host in ``home``, read without it; None
    where only the driver can tell (see the module's docstring)."""
    found = _quick(home, xen_root, now, None)
    return None if found is None else found[0]


def quick_unchanged_since(home: str, xen_root: str, since: str, now: float) -> bool | None:
    """The driver's ``unchanged_since(since)``, read without it; None where only the driver can tell."""
    found = _quick(home, xen_root, now, since)
    return None if found is None else found[1]


def _quick(home: str, xen_root: str, now: float, since: str | None) -> tuple[str | None, bool] | None:
    path = host_file(home)
    try:
        with open(os.path.join(xen_root, XEND_CONFIG), "rb") as stream:
            xend: bytes | None = stream.read(XEND_MAX_BYTES + 1)
    except FileNotFoundError:
        xend = None
    except OSError:
        return None  # the driver's error says why
    if xend is not None and len(xend) > XEND_MAX_BYTES:
        return None  # and why it refuses this one
    if not os.path.isfile(path):
        return None
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return None
        db.execute("BEGIN")
        try:
            if db.execute(_EXIT_DUE, (now,)).fetchone() or db.execute(_LIVE_SNAPSHOT).fetchone():
                return None
            token = token_of(db, now, xend_stamp(xend), "")
            same = since is not None and unchanged(journal_since(db, since, token, due_may_come=False))
            return token, same
        finally:
            db.execute("COMMIT")
    except (sqlite3.Error, ValueError):
        return None
    finally:
        db.close()
