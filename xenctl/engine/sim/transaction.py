"""How one operation runs on the simulated host: the transaction around it, and what it leaves.

Every operation is one transaction that first settles what is due, then checks injected faults,
then applies the operation and writes its event; a refusal rolls the operation back and logs it as
an error. A change marks the host with a fresh generation, which the change token reads. The crash
tests' ``XENCTL_KILL_AFTER`` counts operations here.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from xenctl.engine.api import Fault
from xenctl.engine.sim import faults, lifecycle, snapshot, store, xendconfig
from xenctl.engine.sim.clock import Clock
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.profile import HostProfile
from xenctl.engine.sim.xendconfig import XendConfig
from xenctl.errors import EngineError, InjectedFault

T = TypeVar("T")


class HostTransactions:
    """A host file open with a clock: runs reads and operations on it, each as one transaction."""

    def __init__(
        self,
        home: str,
        db: sqlite3.Connection,
        profile: HostProfile,
        clock: Clock,
        actor: str = "",
        xend: XendConfig | None = None,
    ) -> None:
        self.home = home
        self.db = db
        self.stored_profile = profile  # as made; ``profile`` is what the host runs by
        self.xend = xend  # xend-config.sxp, when the xen root has one: its values win
        self.profile = xendconfig.overlay(profile, xend)
        self.clock = clock
        self.actor = actor or f"pid {os.getpid()}"

    def _ctx(self, now: float) -> Ctx:
        return Ctx(self.db, now, self.profile, self.clock.scale, self.actor)

    def _mutate(self, op: str, obj: str | Callable[[Ctx], str], work: Callable[[Ctx], T]) -> T:
        """Run one operation as one transaction, logged in the event log whatever its outcome."""
        name = obj if isinstance(obj, str) else ""
        self._settle(self.clock.now())  # what already happened stands, whatever becomes of this operation
        now = self.clock.now()
        fired: Fault | None = None
        try:
            with store.write_txn(self.db):
                now = self.clock.now()  # read under the write lock: events and domids keep one order
                ctx = self._ctx(now)
                lifecycle.settle(ctx)  # anything another process let fall due since
                if not isinstance(obj, str):
                    name = obj(ctx)
                fired = faults.find(ctx, "fail", op, name)
                if fired is not None:
                    # Used up in this very transaction: two operations at once cannot both take a
                    # fault that fires once.
                    faults.use(ctx, fired)
                    ctx.event(op, name, "error", fired.message)
                else:
                    result = work(ctx)
                    ctx.event(op, name)
                    mark_changed(ctx)
        except EngineError as exc:
            with store.write_txn(self.db):
                self._ctx(now).event(op, name or exc.obj, "error", exc.message)
            _KILL.count()
            raise
        except (sqlite3.IntegrityError, sqlite3.DataError, OverflowError) as exc:
            # A value the engine's checks let through but the store cannot hold: still one clear error.
            message = f"{op} {name}: the host cannot hold this ({exc})".replace("  ", " ")
            with store.write_txn(self.db):
                self._ctx(now).event(op, name, "error", message)
            raise EngineError(message, op=op, obj=name) from None
        _KILL.count()
        if fired is not None:
            raise InjectedFault(fired.message, op=op, obj=name)
        return result

    def _read(self, work: Callable[[Ctx], T]) -> T:
        """A consistent read at one moment, settling first only when something is due."""
        now = self.clock.now()
        self._settle(now)
        with store.read_txn(self.db):
            return work(self._ctx(now))

    def _settle(self, now: float) -> None:
        """Carry out the exits due by ``now`` in a transaction of their own (only when any are)."""
        if lifecycle.is_due(self.db, now):
            with store.write_txn(self.db):
                ctx = self._ctx(now)
                lifecycle.settle(ctx)
                mark_changed(ctx)

    def close(self) -> None:
        self.db.close()


class _KillAfter:
    """``XENCTL_KILL_AFTER=K``: the process kills itself (SIGKILL, no clean-up of any kind) right
    after its K-th operation on a host, counted over every thread and every open host. For the
    crash tests: what an apply or a runlevel change leaves when the machine dies at any point."""

    def __init__(self) -> None:
        raw = os.environ.get("XENCTL_KILL_AFTER", "").strip()
        self.after = int(raw) if raw.isdigit() and int(raw) > 0 else None
        self.done = 0
        self.lock = threading.Lock()

    def count(self) -> None:
        if self.after is None:
            return
        with self.lock:
            self.done += 1
            if self.done >= self.after:
                os.kill(os.getpid(), signal.SIGKILL)


_KILL = _KillAfter()


JOURNAL_KEPT = 50_000  # rows of the change journal kept: a plan older than that reads the host whole


def mark_changed(ctx: Ctx) -> None:
    """Mark a change of the host (for ``change_token``), in the change's transaction: a fresh
    random mark, not a count, so a host file put back from a backup never repeats an old one,
    followed by the last row of the change journal (what ``changed_domains`` reads from)."""
    last = ctx.db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
    ctx.db.execute("DELETE FROM journal WHERE seq <= ?", (last - JOURNAL_KEPT,))
    ctx.db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (json.dumps(f"{uuid.uuid4().hex}.{last}"),))


def read_change_token(ctx: Ctx) -> str | None:
    host_id = ctx.meta("host_id")
    if host_id is None:
        return None  # a host made before hosts had ids: no token, every plan reads it whole
    due = ctx.db.execute(
        "SELECT MIN(t) FROM (SELECT up_at AS t FROM domains WHERE up_at > :now "
        "UNION ALL SELECT exit_at FROM domains WHERE exit_at > :now)",
        {"now": ctx.now},
    ).fetchone()[0]
    settings = _settings_stamp(ctx.profile)
    return f"{host_id}:{ctx.meta('generation') or 0}:{due!r}:{snapshot.cow_deadline(ctx)}/{settings}"


_STAMPS: dict[int, tuple[HostProfile, str]] = {}


def _settings_stamp(profile: HostProfile) -> str:
    """What the host runs by, as it is set now: its profile with xend-config.sxp's values over it.
    That file is edited outside any operation (Domain-0's floor, ballooning), and what a plan may
    ask of the host follows it: a token made under other settings is another host's."""
    kept = _STAMPS.get(id(profile))
    if kept is None or kept[0] is not profile:
        if len(_STAMPS) > 16:
            _STAMPS.clear()
        kept = (profile, hashlib.blake2b(repr(profile).encode(), digest_size=8).hexdigest())
        _STAMPS[id(profile)] = kept
    return kept[1]


def read_changed_domains(ctx: Ctx, token: str) -> frozenset[str] | None:
    """The guests (by name) whose state may differ from what a snapshot showed when the host's
    token was ``token``, or None when more than guests may have changed or it cannot be told:
    another host, storage written, a boot or an exit that fell due by time, a snapshot that
    filled, a journal trimmed past it. A guest written since but back as a plan saw it then
    (paused and resumed) is not named; the host's own settings are the caller's to read again."""
    rows = _journal_since(ctx, token, due_may_come=True)
    if rows is None or any(kind not in ("domain", "host") for kind, _name, _was, _became in rows):
        return None
    return frozenset(name for kind, name in _differ(rows) if kind == "domain")


def read_unchanged_since(ctx: Ctx, token: str) -> bool:
    """Whether everything a plan sees of the host is as it was when its token was ``token``:
    only guests and the host's own settings were written since, each is back as it was, and
    nothing fell due by the clock."""
    rows = _journal_since(ctx, token, due_may_come=False)
    if rows is None or any(kind not in ("domain", "host") for kind, _name, _was, _became in rows):
        return False
    return not _differ(rows)


JournalRow = tuple[str, str, "str | None", "str | None"]


def _journal_since(ctx: Ctx, token: str, *, due_may_come: bool) -> list[JournalRow] | None:
    """The journal's rows written since the host's token was ``token``, oldest first; None when
    they cannot tell (another host, a snapshot's deadline moved, a boot or an exit fell due by
    the clock, a journal trimmed past it). With ``due_may_come``, a first due time since
    ``token`` is allowed: the rows name the guest that brought it."""
    then, now = token.split(":", 3), (read_change_token(ctx) or "").split(":", 3)
    if len(then) != 4 or len(now) != 4 or then[0] != now[0] or then[3] != now[3]:
        return None
    if then[2] != now[2] and not (due_may_come and then[2] == "None"):
        return None  # something fell due by the clock alone, which no row records
    since = then[1].rpartition(".")[2]
    if not since.isdigit() or "." not in then[1]:
        return None
    first = ctx.db.execute("SELECT MIN(seq) FROM journal").fetchone()[0]
    if first is not None and first > int(since) + 1:
        return None  # trimmed: rows after ``since`` are gone
    query = "SELECT kind, name, was, became FROM journal WHERE seq > ? ORDER BY seq"
    return [(kind, name, was, became) for kind, name, was, became in ctx.db.execute(query, (int(since),))]


def _differ(rows: list[JournalRow]) -> set[tuple[str, str]]:
    """What the rows leave other than it was before the first of them: the (kind, name) of each
    whose first ``was`` is not its last ``became``, or either is not known."""
    first: dict[tuple[str, str], str | None] = {}
    last: dict[tuple[str, str], str | None] = {}
    for kind, name, was, became in rows:
        first.setdefault((kind, name), was)
        last[(kind, name)] = became
    return {key for key, was in first.items() if was is None or last[key] is None or was != last[key]}
