"""A guest moving between two simulated hosts: the steps each host takes, one transaction each.

A migration is five steps over two host files, ordered so that a process killed between any two
leaves the guest running on at most one host, and the host that holds it is told by the marks:

1. ``migrate-in`` (target): the guest is built there paused, from the source's record (the same
   checks as ``xm restore``: name, UUID, memory with Domain-0's ballooning, devices), and marked
   as an *incoming* migration from the source;
2. ``migrate-out`` (source): the guest is marked *outgoing* to the target (offline: paused too);
3. ``migrate-stop`` (source, live only): paused for the stop-and-copy;
4. ``migrate-commit`` (target): unpaused, its mark removed. From here the guest is the target's;
5. ``migrate-done`` (source): the source's copy is destroyed, as xend destroys ``migrating-<name>``.

The marks live in the host's ``meta`` table (``migrations``: by UUID, the name, the direction,
the peer host's URL and when), so a half-made migration is found by reading one host, and
``xenctl.app.migrate.settle_migrations`` finishes it or rolls it back by comparing both hosts: an
incoming copy never committed is destroyed and the source's guest resumed; a source copy whose
target committed is destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xenctl.engine.api import DOMAIN0
from xenctl.engine.sim import domains, lifecycle, memory, timeline
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import config_from_dict
from xenctl.engine.sim.save_restore import guest_record
from xenctl.engine.sim.store import savepoint
from xenctl.engine.sim.transaction import HostTransactions
from xenctl.errors import XenError

INCOMING = "in"
OUTGOING = "out"


@dataclass(frozen=True)
class Mark:
    """A migration under way on this host, as its ``meta`` records it."""

    uuid: str
    name: str
    direction: str  # INCOMING or OUTGOING
    peer: str  # the other host's URL
    at: float


class _Refused(Exception):
    """Raised inside a dry run's savepoint so that nothing it did stays."""


def _marks(ctx: Ctx) -> dict[str, dict[str, Any]]:
    value = ctx.meta("migrations")
    return dict(value) if isinstance(value, dict) else {}


def _set_mark(ctx: Ctx, uuid: str, mark: dict[str, Any] | None) -> None:
    marks = _marks(ctx)
    if mark is None:
        marks.pop(uuid, None)
    else:
        marks[uuid] = mark
    ctx.set_meta("migrations", marks)


def _guest(ctx: Ctx, ref: str, op: str) -> Any:
    if domains.is_domain0(ref):
        raise XenError("Cannot migrate privileged domain", op=op, obj=DOMAIN0)
    return domains.lookup(ctx, ref)


def _build(ctx: Ctx, record: dict[str, Any]) -> tuple[str, int]:
    """The guest built paused from ``record``, with create's checks; (name, domid)."""
    record = dict(record)
    extra = record.pop("xenctl", {}) or {}
    config = config_from_dict(record)
    domains.check_name(config.name)
    domains.check_config(ctx, config)
    lifecycle.check_name_free(ctx, config.name)
    domains.check_uuid_free(ctx, config)
    memory_now = int(extra.get("memory_now") or config.memory)
    domid = lifecycle.start_instance(
        ctx,
        config,
        start=ctx.now,
        boot=0.0,
        paused=True,
        owner=(extra.get("managed_by"), extra.get("source")),
        run_accum=max(float(extra.get("run_time") or 0.0), 0.0),
        cpu_base=max(float(extra.get("cpu_time") or 0.0), 0.0),
        vcpus=int(extra.get("online_vcpus") or config.vcpus),
        memory_now=memory_now,
        target=int(extra.get("target") or memory_now),
        restored=True,
    )
    return config.name, domid


class MigrationSteps(HostTransactions):
    """The simulated host's half of a migration; ``SimHost`` has these methods."""

    def migration_record(self, ref: str) -> dict[str, Any]:
        """The running guest's record, as the target builds it (refused as xm migrate refuses)."""

        def read(ctx: Ctx) -> dict[str, Any]:
            row = _guest(ctx, ref, "migrate")
            if timeline.phase_of(row, ctx.now) not in domains.LIVE or row["stopping"]:
                raise XenError("Domain is not running", op="migrate", obj=row["name"])
            return guest_record(ctx, row)

        return self._read(read)

    def check_incoming(self, record: dict[str, Any]) -> None:
        """Raise the XenError that building ``record`` here would raise; change nothing."""

        def dry_run(ctx: Ctx) -> None:
            try:
                with savepoint(ctx.db):
                    _build(ctx, record)
                    raise _Refused
            except _Refused:
                return

        self._read(dry_run)

    def free_memory(self) -> tuple[int, int]:
        """(MiB free now, MiB Domain-0 could still give by ballooning)."""

        def read(ctx: Ctx) -> tuple[int, int]:
            give = memory.dom0_memory(ctx) - memory.dom0_floor(ctx) if ctx.profile.ballooning else 0
            return memory.free_memory(ctx), max(give, 0)

        return self._read(read)

    def migrations(self) -> tuple[Mark, ...]:
        """The migrations under way (or cut short) on this host."""

        def read(ctx: Ctx) -> tuple[Mark, ...]:
            return tuple(
                Mark(uuid, str(m["name"]), str(m["dir"]), str(m["peer"]), float(m["at"]))
                for uuid, m in sorted(_marks(ctx).items())
            )

        return self._read(read)

    def migrate_in(self, record: dict[str, Any], peer: str) -> None:
        """Step 1: the guest built here paused, marked incoming from ``peer``."""

        def work(ctx: Ctx) -> None:
            name, domid = _build(ctx, record)
            uuid = str(ctx.db.execute("SELECT uuid FROM domains WHERE domid = ?", (domid,)).fetchone()[0])
            _set_mark(ctx, uuid, {"name": name, "dir": INCOMING, "peer": peer, "at": ctx.now})

        self._mutate("migrate-in", str(record.get("name", "")), work)

    def migrate_out(self, ref: str, peer: str, *, pause: bool) -> None:
        """Step 2 (and 3 with ``pause``): the guest marked outgoing to ``peer``, paused if asked."""

        def work(ctx: Ctx) -> None:
            row = _guest(ctx, ref, "migrate")
            before = _marks(ctx).get(str(row["uuid"])) or {"was_paused": bool(row["paused"])}
            mark = {"name": row["name"], "dir": OUTGOING, "peer": peer, "at": ctx.now}
            _set_mark(ctx, str(row["uuid"]), {**mark, "was_paused": bool(before.get("was_paused"))})
            if pause:
                domains.pause(ctx, str(row["domid"]))

        op = "migrate-stop" if pause else "migrate-out"
        self._mutate(op, lambda ctx: str(_guest(ctx, ref, op)["name"]), work)

    def migrate_commit(self, name: str) -> None:
        """Step 4: the incoming guest runs here; the migration's point of no return."""

        def work(ctx: Ctx) -> None:
            row = domains.lookup(ctx, name)
            domains.unpause(ctx, str(row["domid"]))
            _set_mark(ctx, str(row["uuid"]), None)

        self._mutate("migrate-commit", name, work)

    def migrate_done(self, name: str, message: str) -> None:
        """Step 5: the source's copy destroyed (``migrating-<name>`` in xend), its mark removed."""

        def work(ctx: Ctx) -> None:
            row = domains.lookup(ctx, name)
            _set_mark(ctx, str(row["uuid"]), None)
            lifecycle.remove(ctx, row)
            ctx.event("migrated", str(row["name"]), message=message)

        self._mutate("migrate-done", name, work)

    def migrate_abort(self, uuid: str, message: str) -> None:
        """Roll back this host's half of a migration cut short: an incoming copy is destroyed, an
        outgoing guest resumed; the mark goes either way."""

        def work(ctx: Ctx) -> None:
            mark = _marks(ctx).get(uuid)
            _set_mark(ctx, uuid, None)
            row = ctx.db.execute("SELECT * FROM domains WHERE uuid = ?", (uuid,)).fetchone()
            if mark is None or row is None:
                return
            if mark["dir"] == INCOMING:
                lifecycle.remove(ctx, row)
            elif row["paused"] and not mark.get("was_paused"):
                domains.unpause(ctx, str(row["domid"]))
            ctx.event("migrate-abort", str(row["name"]), message=message)

        self._mutate("migrate-abort", uuid, work)
