"""How one operation runs on the simulated host: the transaction around it, and what it leaves.

Every operation is one transaction that first settles what is due, then checks injected faults,
then applies the operation and writes its event; a refusal rolls the operation back and logs it as
an error. A change marks the host with a fresh generation, which the change token reads. The crash
tests' ``XENCTL_KILL_AFTER`` counts operations here.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from xenctl.engine.api import Fault
from xenctl.engine.sim import faults, lifecycle, snapshot, store, tokens, xendconfig
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
        xend_stamp: str | None = None,
    ) -> None:
        self.home = home
        self.db = db
        self.stored_profile = profile  # as made; ``profile`` is what the host runs by
        self.xend = xend  # xend-config.sxp, when the xen root has one: its values win
        if xend is not None and xend_stamp is None:
            raise ValueError("an xend config comes with the stamp of the bytes it was read from")
        self.xend_stamp = xend_stamp or tokens.xend_stamp(None)  # for the change token
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


def read_change_token(ctx: Ctx, xend: str) -> str | None:
    """The host's change token (``tokens.token_of``), ``xend`` the stamp of the xend-config.sxp
    it runs by."""
    return tokens.token_of(ctx.db, ctx.now, xend, snapshot.cow_deadline(ctx))


def read_changed_domains(ctx: Ctx, token: str, xend: str) -> frozenset[str] | None:
    """The guests (by name) whose state may differ from what a snapshot showed when the host's
    token was ``token``, or None when more than guests may have changed or it cannot be told:
    another host, storage written, a boot or an exit that fell due by time, a snapshot that
    filled, a journal trimmed past it. A guest written since but back as a plan saw it then
    (paused and resumed) is not named; the host's own settings are the caller's to read again."""
    rows = tokens.journal_since(ctx.db, token, read_change_token(ctx, xend), due_may_come=True)
    if rows is None or not tokens.of_guests(rows):
        return None
    return frozenset(name for kind, name in tokens.differ(rows) if kind == "domain")


def read_unchanged_since(ctx: Ctx, token: str, xend: str) -> bool:
    """Whether everything a plan sees of the host is as it was when its token was ``token``:
    only guests and the host's own settings were written since, each is back as it was, and
    nothing fell due by the clock."""
    return tokens.unchanged(tokens.journal_since(ctx.db, token, read_change_token(ctx, xend), due_may_come=False))
