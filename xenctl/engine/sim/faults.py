"""Fault injection: make the simulated host fail the way real ones do, on purpose.

A fault is stored in the host file, so it reaches every process working on the host. Kinds:

``fail``
    The named operation on the named object raises ``InjectedFault`` with the given message and
    changes nothing. Operations: ``create``, ``shutdown``, ``destroy``, ``reboot``, ``pause``,
    ``unpause``, ``save``, ``restore``, ``mem-set``, ``vcpu-set``, ``attach``, ``detach``,
    ``vg-create``, ``vg-remove``, ``lv-create``, ``lv-grow``, ``lv-remove``, ``snapshot-create``,
    ``image-create``, ``image-grow``, ``image-remove``, ``format``, ``populate``,
    ``export-create``, ``export-remove``, ``set-owner``, ``chmod``, ``runlevel``, or ``*`` for any.
``ignore-shutdown``
    The guest ignores shutdown requests: it keeps running until destroyed.
``crash-at-boot``
    The guest crashes at the end of its boot; ``on_crash`` decides what happens then.

The object is what the event log names: a domain's name, a volume's full path (an image's path
under the storage root), a VG's name or an export's ``server:/path``; shell wildcards match
(``web*``, ``/var/lib/xen/images/*``, ``*``).
``times`` limits how often the fault fires; without it, it fires every time until cleared.
``skip`` lets that many matching operations through first (operations the host carries out
or this fault fails; one the host refuses for a reason of its own is not counted) (``op=* obj=* skip=k-1 times=1``
fails the k-th operation once; without ``times``, every one from the k-th on). ``rate`` fires
on that share of the matching operations only, picked by a fixed pseudo-random sequence (the
same fault on the same operations fails the same ones every run).
"""

from __future__ import annotations

import fnmatch
import hashlib
import sqlite3

from xenctl.engine.api import Fault
from xenctl.engine.sim.context import Ctx
from xenctl.errors import UsageError

KINDS = ("fail", "ignore-shutdown", "crash-at-boot")
OPERATIONS = (
    "create",
    "shutdown",
    "reboot",
    "destroy",
    "pause",
    "unpause",
    "save",
    "restore",
    "mem-set",
    "vcpu-set",
    "attach",
    "detach",
    "set-owner",
    "vg-create",
    "vg-remove",
    "lv-create",
    "lv-grow",
    "lv-remove",
    "snapshot-create",
    "image-create",
    "image-grow",
    "image-remove",
    "format",
    "populate",
    "export-create",
    "export-remove",
    "chmod",
    "runlevel",
)
_KIND_OPERATION = {"ignore-shutdown": "shutdown", "crash-at-boot": "create"}


def add(ctx: Ctx, fault: Fault) -> int:
    """Store a fault; refuses an unknown kind or operation (a fault that could never fire)."""
    if fault.kind not in KINDS:
        raise UsageError(f"unknown fault kind {fault.kind!r}; expected one of {', '.join(KINDS)}")
    if fault.op != "*" and fault.op not in OPERATIONS:
        raise UsageError(f"unknown operation {fault.op!r}; expected one of {', '.join(OPERATIONS)} or *")
    needed = _KIND_OPERATION.get(fault.kind)
    if needed and fault.op not in ("*", needed):
        raise UsageError(f"a {fault.kind} fault acts on {needed}, not {fault.op}")
    if fault.times is not None and not 1 <= fault.times <= 1_000_000:
        raise UsageError("a fault fires from 1 to 1,000,000 times, or every time")
    if not 0 <= fault.skip <= 1_000_000_000:
        raise UsageError("a fault lets from 0 to 1,000,000,000 operations through first")
    if not 0 < fault.rate <= 1:  # refuses nan too
        raise UsageError("a fault's rate is a share of the operations: more than 0, at most 1")
    cur = ctx.db.execute(
        "INSERT INTO faults(op, obj, kind, message, times, skip, rate) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (fault.op, fault.obj, fault.kind, fault.message, fault.times, fault.skip, fault.rate),
    )
    return int(cur.lastrowid or 0)


def _fault(row: sqlite3.Row) -> Fault:
    return Fault(row["op"], row["obj"], row["kind"], row["message"], row["times"], row["id"], row["skip"], row["rate"])


def all_faults(ctx: Ctx) -> tuple[Fault, ...]:
    return tuple(_fault(r) for r in ctx.db.execute("SELECT * FROM faults ORDER BY id"))


def clear(ctx: Ctx, fault_id: int | None = None) -> int:
    if fault_id is None:
        return ctx.db.execute("DELETE FROM faults").rowcount
    return ctx.db.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount


def find(ctx: Ctx, kind: str, op: str, obj: str) -> Fault | None:
    """The first fault of ``kind`` that matches ``op`` on ``obj`` and fires on this operation,
    without using it up. A matching fault that lets it through (``skip``, ``rate``) counts it,
    in the caller's transaction: an operation that then fails for a reason of its own is undone
    whole, the count with it."""
    for row in ctx.db.execute("SELECT * FROM faults WHERE kind = ? ORDER BY id", (kind,)).fetchall():
        if not ((row["op"] in ("*", op) or kind != "fail") and fnmatch.fnmatchcase(obj, row["obj"])):
            continue
        seen = int(row["seen"])
        if seen < row["skip"] or not _picked(int(row["id"]), seen, float(row["rate"])):
            ctx.db.execute("UPDATE faults SET seen = seen + 1 WHERE id = ?", (row["id"],))
            continue
        return _fault(row)
    return None


def _picked(fault_id: int, seen: int, rate: float) -> bool:
    if rate >= 1:
        return True
    digest = hashlib.blake2b(f"{fault_id}:{seen}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def use(ctx: Ctx, fault: Fault) -> None:
    """Count one firing of ``fault``; a fault with ``times`` left at 0 is gone."""
    ctx.db.execute("UPDATE faults SET seen = seen + 1 WHERE id = ?", (fault.id,))
    if fault.times is None:
        return
    if fault.times <= 1:
        ctx.db.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
    else:
        ctx.db.execute("UPDATE faults SET times = times - 1 WHERE id = ?", (fault.id,))


def take(ctx: Ctx, kind: str, op: str, obj: str) -> Fault | None:
    """Find a matching fault and count its firing, in the caller's transaction."""
    fault = find(ctx, kind, op, obj)
    if fault is not None:
        use(ctx, fault)
    return fault
