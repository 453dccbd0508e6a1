"""``xm list``'s rows read straight from a simulated host's file: the quick path of ``xenctl list``.

``xenctl list`` is what an operator types all day, and the whole host read (``snapshot``) brings
the driver, the live-state model and the profile's checks with it. This reads the ``domains``
table and three meta values in one read transaction and derives each state and CPU time with
the very functions the snapshot uses (``timeline``, ``phase``), so both print the same rows.

It answers only when it can answer exactly as the driver would, and says None otherwise, for
the caller to take the driver's path (which also gives the errors): no host file yet (the driver
makes one), a host file of another schema version (the driver upgrades it), an exit that has
fallen due (the driver carries it out first, writing), an ``xend-config.sxp`` in the xen root
(its ``dom0-cpus`` can change Domain-0's row), a profile in an unexpected shape, or a domain
named that is not there (the driver's error names it).
"""

from __future__ import annotations

import json
import os
import sqlite3

from xenctl.engine.phase import Phase, state_letters
from xenctl.engine.sim import timeline
from xenctl.engine.sim.store import BUSY_TIMEOUT_S, SCHEMA_VERSION, host_file

DOMAIN0 = "Domain-0"  # as ``engine.domain.DOMAIN0``, without importing the model
DOMID_FIRST_RESERVED = 0x7FF0  # as ``lifecycle.DOMID_FIRST_RESERVED``: above it, a domid is a name
XEND_CONFIG = "xend-config.sxp"  # as ``xendconfig.FILE_NAME``


class ListRow:
    """One domain as ``xm list`` shows it: the attributes ``Domain`` has for the same columns."""

    __slots__ = ("cpu_time", "domid", "memory", "name", "state", "vcpus")

    def __init__(self, name: str, domid: int, memory: int, vcpus: int, state: str, cpu_time: float) -> None:
        self.name = name
        self.domid = domid
        self.memory = memory
        self.vcpus = vcpus
        self.state = state
        self.cpu_time = cpu_time


def list_rows(home: str, xen_root: str | None, now: float, refs: tuple[str, ...] = ()) -> list[ListRow] | None:
    """The rows of ``xm list`` at ``now`` (every domain, or those ``refs`` name, in their order),
    or None when only the driver can answer (see the module's docstring)."""
    path = host_file(home)
    root = xen_root if xen_root is not None else os.path.join(home, "etc", "xen")
    if not os.path.isfile(path) or os.path.exists(os.path.join(root, XEND_CONFIG)):
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        db.row_factory = sqlite3.Row
        db.execute("BEGIN")  # one WAL snapshot, as the driver's read
        try:
            return _read(db, now, refs)
        finally:
            db.execute("COMMIT")
    except sqlite3.Error:
        return None
    finally:
        db.close()


def _read(db: sqlite3.Connection, now: float, refs: tuple[str, ...]) -> list[ListRow] | None:
    if int(db.execute("PRAGMA user_version").fetchone()[0]) != SCHEMA_VERSION:
        return None
    if db.execute("SELECT 1 FROM domains WHERE exit_at <= ? AND paused = 0 LIMIT 1", (now,)).fetchone():
        return None  # as ``lifecycle.is_due``: the driver settles it first
    keys = "'profile', 'dom0_memory', 'dom0_vcpus', 'created_at'"
    meta = {key: json.loads(value) for key, value in db.execute(f"SELECT key, value FROM meta WHERE key IN ({keys})")}
    dom0 = _domain0(meta, now)
    if dom0 is None:
        return None
    if not refs:
        return [dom0, *(_guest(row, now) for row in db.execute("SELECT * FROM domains"))]
    rows = []
    for ref in refs:
        if ref in ("0", DOMAIN0):
            rows.append(dom0)
            continue
        row = None
        if ref.isascii() and ref.isdigit() and int(ref) < DOMID_FIRST_RESERVED:
            row = db.execute("SELECT * FROM domains WHERE domid = ?", (int(ref),)).fetchone()
        if row is None:
            row = db.execute("SELECT * FROM domains WHERE name = ?", (ref,)).fetchone()
        if row is None:
            return None  # the driver's path says "Domain 'x' does not exist."
        rows.append(_guest(row, now))
    return rows


def _guest(row: sqlite3.Row, now: float) -> ListRow:
    domid = row["domid"]
    state = state_letters(timeline.phase_of(row, now), domid)
    return ListRow(row["name"], domid, row["memory"], row["vcpus"], state, timeline.cpu_time(row, now))


def _domain0(meta: dict[str, object], now: float) -> ListRow | None:
    """Domain-0's row as ``snapshot.domain0`` makes it, from the host's marks and its profile."""
    memory, vcpus, profile = meta.get("dom0_memory"), meta.get("dom0_vcpus"), meta.get("profile")
    if not isinstance(memory, int) or not isinstance(profile, dict):
        return None
    if not isinstance(vcpus, int):  # as ``domains.dom0_vcpus``: the profile's dom0 vcpus, else its cpus
        dom0 = profile.get("dom0")
        vcpus = dom0.get("vcpus") if isinstance(dom0, dict) else None
        vcpus = vcpus or profile.get("cpus")
        if not isinstance(vcpus, int) or isinstance(vcpus, bool) or vcpus < 1:
            return None
    started = timeline.dom0_started(meta.get("created_at"), now)
    cpu_time = timeline.dom0_cpu_time(now, started, vcpus)
    return ListRow(DOMAIN0, 0, memory, vcpus, state_letters(Phase.RUNNING, 0), cpu_time)
