"""The guests a snapshot reads and their disks, as plain tuples made into the model's values.

Two queries (the domains, their disks) give every guest's disks, which guests hold each target,
and what each running guest has written to it since it was last counted: what the snapshot's
volumes, partitions and images are read against. Values are made by ``engine.trusted``'s
positional constructors, from rows the engine wrote itself.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from xenctl.engine.api import DiskMode, Domain, DomainConfig, DomainDisk, LogicalVolume, Owner
from xenctl.engine.sim import records, timeline
from xenctl.engine.sim.blockdevs import next_digest
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import MODES, configs_from_records
from xenctl.engine.trusted import maker


class Owners:
    """One Owner value per distinct marker: a managed host has few, shared by many objects."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str] | str, Owner] = {}

    def get(self, managed_by: str | None, source: str | None) -> Owner | None:
        if not managed_by:
            return None
        key = (managed_by, source or "")
        owner = self._seen.get(key)
        if owner is None:
            owner = self._seen[key] = Owner(*key)
        return owner

    def marked(self, mark: str | None) -> Owner | None:
        """The owner of an ``OWNER_MARK`` column: one value to read, one lookup per object."""
        if mark is None:
            return None
        owner = self._seen.get(mark)
        if owner is None:
            owner = self._seen[mark] = Owner(*mark.split("\0", 1))
        return owner


# An object's owner (its managed_by and source columns) as one value: NULL for none, else the two
# joined by a NUL, which neither holds. A column fewer, and a string fewer an owned object.
OWNER_MARK = (
    "CASE WHEN managed_by IS NULL OR managed_by = '' THEN NULL ELSE managed_by || char(0) || coalesce(source, '') END"
)


# The disks' and the domains' columns a snapshot reads, as plain tuples (cheaper than rows by name).
# A disk's mode and backend come as one value, NULL for the usual read-write 'phy' disk: a column
# fewer and two strings fewer a disk (each column read costs the driver an object and a release of
# the interpreter's lock, the most of a row's cost), and the few other pairs are read once each.
_DISK_COLUMNS = (
    "domid, vdev, target, CASE WHEN mode = 'w' AND backend = 'phy' THEN NULL ELSE mode || ' ' || backend END, "
    "attached_run, next_digest"
)
_PLAIN_DISK = (DiskMode.WRITE, "phy")
# A guest's four columns of what it is doing (paused, stopping, exiting, halted) come as one value,
# NULL when it does none of it (the most of them), else a JSON array.
_DOMAIN_COLUMNS = (
    "domid, name, uuid, record, memory, target, vcpus, created_at, up_at, run_accum, run_base, cpu_base, "
    "run_since, exit_at, "
    "CASE WHEN paused = 0 AND stopping IS NULL AND exit_kind IS NULL AND halted IS NULL THEN NULL "
    f"ELSE json_array(halted, exit_kind, paused, stopping) END, {OWNER_MARK}, macs"
)
# One disk on a target, as a reader of the target needs it: its guest as holders (a one-name
# tuple, shared by the guest's disks), the target's digest once what the guest wrote since it was
# last counted is (None: it wrote nothing since, or reads only), the guest's domid, and its run
# seconds when its writes were last counted.
Use = tuple[tuple[str, ...], "str | None", int, float]
READ = DiskMode.READ
_make_domain = maker(Domain)
make_volume = maker(LogicalVolume)  # for the snapshot's volumes
# and for the most of them, no snapshot, their COW space and validity at the defaults
make_plain_volume = maker(LogicalVolume, origin=None, cow_size=0, cow_used=0, invalid=False)


def _batched(cursor: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
    """The cursor's rows, fetched a batch at a time: a read that fetches a row, then makes its
    values, and so on, has SQLite's pages and the values take turns in the processor's cache, and
    is about a sixth slower on a large host than one that fetches a batch and then makes them."""
    fetch = cursor.fetchmany
    while rows := fetch(BATCH):
        yield from rows


BATCH = 1024  # rows: a batch's tuples are a few hundred kilobytes


class Guests:
    """The guests and their disks, read in two queries, with what each has written so far.

    ``uses`` maps each target path a guest holds to the ``Use`` of the one disk on it, or to the
    uses of every disk on it, in connection order, when there are several (shared with ``w!``, or
    held read-only by many). Each is worked out as the disk is read: a reader of a large host's
    volumes then looks each one up once, and keeps no disk row (each is gone once read).
    A disk on a device or file of Domain-0's that its guest writes always has a next digest (it
    is set when the disk is attached and when its writes are counted): a use's digest is None
    exactly when its guest wrote nothing to it since.
    """

    def __init__(self, ctx: Ctx, where: str = "", args: tuple[object, ...] = ()) -> None:
        now = ctx.now
        cursor = ctx.db.cursor()
        cursor.row_factory = None  # plain tuples: the domains and their disks are the largest tables read
        self.rows: list[tuple[Any, ...]] = cursor.execute(
            f"SELECT {_DOMAIN_COLUMNS} FROM domains {where}", args
        ).fetchall()
        self.rows.sort(key=itemgetter(1))  # by name: the order a snapshot gives its domains in
        run_time = timeline.run_time_from
        self.ran = ran = {row[0]: run_time(row[12], row[9], row[13], now) for row in self.rows}
        self.rate = ctx.profile.guest_write_rate
        holder = {row[0]: (row[1],) for row in self.rows}
        self.disks: dict[int, list[DomainDisk]] = {}
        self.uses: dict[str, Use | list[Use]] = {}
        disks, uses, make_disk = self.disks, self.uses, records.make_disk
        first_use, domain, shared = uses.setdefault, None, False
        # Natural (rowid) order keeps each domain's disks in the order they were connected; they
        # come one domain after another, so its holders, run time and list are looked up once for
        # them all, and each target once (a large host's uses do not stay in the cache).
        cursor.execute(f"SELECT {_DISK_COLUMNS} FROM disks {where} ORDER BY rowid", args)
        kinds: dict[str, tuple[DiskMode, str]] = {}
        for domid, vdev, target, kind, attached_run, after in _batched(cursor):
            if domid != domain:
                domain, holders, run = domid, holder[domid], ran[domid]
                add = disks.setdefault(domid, []).append
            if kind is None:
                mode, backend = _PLAIN_DISK
            else:
                mode_backend = kinds.get(kind)
                if mode_backend is None:  # "mode backend": no mode holds a space
                    mode, backend = kind.split(" ", 1)
                    mode_backend = kinds[kind] = (MODES[mode], backend)
                mode, backend = mode_backend
            add(make_disk(target, vdev, mode, backend))
            use = (holders, after if mode is not READ and run > attached_run else None, domid, attached_run)
            used = first_use(target, use)
            if used is not use:  # a target held by more than one disk
                if isinstance(used, list):
                    used.append(use)
                else:
                    uses[target] = [used, use]
                    shared = True
        # Writers that share a target fold their writes in by their uuids (few hosts have any)
        self.uuids = {row[0]: row[2] for row in self.rows} if shared else {}

    def domains(self, ctx: Ctx, owners: Owners) -> list[Domain]:
        """Every guest read, by name. The rows are let go once they are values: the memory of a
        large host's rows is then what its volumes' values are made in, not more taken."""
        now, ran = ctx.now, self.ran
        rows, self.rows = self.rows, []
        configs = iter(self._configs(rows))
        phase, cpu_time, owner = timeline.phase_from, timeline.cpu_time_from, owners.marked
        # A guest doing none of it is booting until it is up, then running: both phases worked out once.
        # (not halted, not exiting, not paused, not stopping; up at the end of time, or at its start)
        booting, running = phase(None, None, 0, math.inf, None, now), phase(None, None, 0, -math.inf, None, now)
        guests: list[Domain] = []
        add = guests.append
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
            _run_accum,
            run_base,
            cpu_base,
            _run_since,
            _exit_at,
            doing,
            mark,
            _macs,
        ) in rows:
            if doing is None:
                state = booting if now < up_at else running
            else:
                halted, exit_kind, paused, stopping = json.loads(doing)
                state = phase(halted, exit_kind, paused, up_at, stopping, now)
            add(
                _make_domain(
                    domid,
                    name,
                    uuid,
                    state,
                    memory,
                    target,
                    vcpus,
                    cpu_time(ran[domid], run_base, up_at, created_at, cpu_base),
                    next(configs),
                    None if mark is None else owner(mark),
                    created_at,
                    up_at,
                )
            )
        return guests

    def _configs(self, rows: list[tuple[Any, ...]]) -> list[DomainConfig]:
        """Every config at once: the records parsed in one call into the decoder, each once (see there)."""
        disks = self.disks
        return configs_from_records(
            [row[3] for row in rows],
            [row[1] for row in rows],
            [row[2] for row in rows],
            [row[16] for row in rows],
            [tuple(disks.get(row[0], ())) for row in rows],
        )

    def on(self, path: str) -> list[Use]:
        """The uses of the disks on ``path``, in the order they were connected."""
        used = self.uses.get(path)
        if used is None:
            return []
        return used if isinstance(used, list) else [used]

    def digest(self, path: str, stored: str) -> str:
        """What ``path`` holds once what its writers wrote since last counted is: in the order
        they attached, as the write path folds them."""
        pending = [(after, domid, since) for _holders, after, domid, since in self.on(path) if after is not None]
        if not pending:
            return stored
        if len(pending) == 1:
            return pending[0][0]  # one writer: its row holds the result
        for _after, domid, since in pending:  # shared with w!
            stored = next_digest(stored, self.uuids[domid], since)
        return stored

    def written(self, path: str) -> int:
        """Bytes written to ``path`` since they were last counted."""
        rate, ran = self.rate, self.ran
        return sum(int(rate * (ran[domid] - since)) for _h, after, domid, since in self.on(path) if after is not None)

    def holders_of(self, path: str) -> tuple[str, ...]:
        used = self.uses.get(path)
        if used is None:
            return ()
        if not isinstance(used, list):
            return used[0]
        return tuple(sorted({use[0][0] for use in used}))
