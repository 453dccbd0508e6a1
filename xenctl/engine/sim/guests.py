"""The guests a snapshot reads and their disks, as plain tuples made into the model's values.

Two queries (the domains, their disks) give every guest's disks, which guests hold each target,
and what each running guest has written to it since it was last counted: what the snapshot's
volumes, partitions and images are read against. Values are made by ``engine.trusted``'s
positional constructors, from rows the engine wrote itself.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from xenctl.engine.api import Domain, DomainDisk, LogicalVolume, Owner
from xenctl.engine.sim import records, timeline
from xenctl.engine.sim.blockdevs import next_digest
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import MODES, config_from_dict
from xenctl.engine.trusted import maker


class Owners:
    """One Owner value per distinct marker: a managed host has few, shared by many objects."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Owner] = {}

    def get(self, managed_by: str | None, source: str | None) -> Owner | None:
        if not managed_by:
            return None
        key = (managed_by, source or "")
        owner = self._seen.get(key)
        if owner is None:
            owner = self._seen[key] = Owner(*key)
        return owner


_DISK_COLUMNS = "domid, vdev, target, mode, backend, attached_run, loop, next_digest"
# The domains' columns a snapshot reads, as plain tuples (cheaper than rows by name).
_DOMAIN_COLUMNS = (
    "domid, name, uuid, config, memory, target, vcpus, created_at, up_at, paused, run_accum, run_base, "
    "cpu_base, run_since, stopping, exit_kind, exit_at, halted, managed_by, source"
)
_make_domain = maker(Domain)
make_volume = maker(LogicalVolume)  # for the snapshot's volumes


class Guests:
    """The guests and their disks, read in two queries, with what each has written so far."""

    def __init__(self, ctx: Ctx, where: str = "", args: tuple[object, ...] = ()) -> None:
        now = ctx.now
        cursor = ctx.db.cursor()
        cursor.row_factory = None  # plain tuples: the domains and their disks are the largest tables read
        self.rows: list[tuple[Any, ...]] = cursor.execute(
            f"SELECT {_DOMAIN_COLUMNS} FROM domains {where}", args
        ).fetchall()
        run_time = timeline.run_time_from
        ran = {row[0]: run_time(row[13], row[10], row[16], now) for row in self.rows}
        self.ran = ran
        names = {row[0]: row[1] for row in self.rows}
        uuids = {row[0]: row[2] for row in self.rows}
        self.disks: dict[int, list[DomainDisk]] = defaultdict(list)
        self.loops = 0
        # By target path: its writers' pending writes, and the guests holding it (tuples: most
        # targets have one, and a one-tuple is the answer ``holders_of`` gives)
        self.pending: dict[str, tuple[tuple[str, float, int, str], ...]] = {}
        self.holders: dict[str, tuple[str, ...]] = {}
        rate = ctx.profile.guest_write_rate
        disks, holders, pending, make_disk = self.disks, self.holders, self.pending, records.make_disk
        loops = 0
        # Natural (rowid) order keeps each domain's disks in the order they were connected.
        cursor.execute(f"SELECT {_DISK_COLUMNS} FROM disks {where} ORDER BY rowid", args)
        for domid, vdev, target, mode, backend, attached_run, loop, after in cursor:
            disks[domid].append(make_disk(target, vdev, MODES[mode], backend, False))
            held = holders.get(target)
            holders[target] = (names[domid],) if held is None else (*held, names[domid])
            if loop is not None:
                loops += 1
            if mode != "r" and ran[domid] > attached_run:
                written = int(rate * (ran[domid] - attached_run))
                entry = (uuids[domid], attached_run, written, after)
                waiting = pending.get(target)
                pending[target] = (entry,) if waiting is None else (*waiting, entry)
        self.loops = loops

    def domains(self, ctx: Ctx, owners: Owners) -> list[Domain]:
        now, ran, disks = ctx.now, self.ran, self.disks
        # Every config in one parse (one call into the decoder, not one a domain).
        configs = iter(json.loads("[" + ",".join([row[3] for row in self.rows]) + "]"))
        phase, cpu_time, config_of, owner = timeline.phase_from, timeline.cpu_time_from, config_from_dict, owners.get
        return [
            _make_domain(
                domid,
                name,
                uuid,
                phase(halted, exit_kind, paused, up_at, stopping, now),
                memory,
                target,
                vcpus,
                cpu_time(ran[domid], run_base, up_at, created_at, cpu_base),
                config_of(next(configs), tuple(disks.get(domid, ()))),
                owner(managed_by, source),
                created_at,
                up_at,
            )
            for (
                domid,
                name,
                uuid,
                _config,
                memory,
                target,
                vcpus,
                created_at,
                up_at,
                paused,
                _run_accum,
                run_base,
                cpu_base,
                _run_since,
                stopping,
                exit_kind,
                _exit_at,
                halted,
                managed_by,
                source,
            ) in self.rows
        ]

    def digest(self, path: str, stored: str) -> str:
        pending = self.pending.get(path)
        if not pending:
            return stored
        if len(pending) == 1:
            return pending[0][3]  # one writer: its row already holds the result
        for uuid, since, _written, _after in pending:  # shared with w!: count them in domid order
            stored = next_digest(stored, uuid, since)
        return stored

    def written(self, path: str) -> int:
        return sum(w for _u, _s, w, _a in self.pending.get(path, ()))

    def holders_of(self, path: str) -> tuple[str, ...]:
        held = self.holders.get(path)
        if not held:
            return ()
        return held if len(held) == 1 else tuple(sorted(set(held)))
