"""Host memory: what is free, and xend's ballooning of Domain-0 to make room for a guest.

Xen does not overcommit. Creating or restoring a domain needs its memory plus shadow and a small
overhead free; when there is less, xend shrinks Domain-0's balloon by the shortfall, never below
``dom0-min-mem``, and otherwise aborts with one of its three messages (shared/XEN.md, section 3).
Memory a guest gives back is not returned to Domain-0: it stays free for the next guest.

Many LVM snapshots cost Domain-0 memory: each holds the profile's ``snapshot_memory`` in Domain-0
(device-mapper's exception store), which the balloon cannot give away. Domain-0's floor is
``dom0-min-mem`` plus that for every snapshot; creating a snapshot grows Domain-0 from free
memory when it is at its floor already, and fails as device-mapper does when nothing is free.
"""

from __future__ import annotations

from xenctl.engine.sim.context import Ctx
from xenctl.errors import XenError

OVERHEAD_KIB = 2048  # xend's allowance beyond memory and shadow for a new domain


def dom0_memory(ctx: Ctx) -> int:
    value = ctx.meta("dom0_memory")
    return int(value) if isinstance(value, int) else ctx.profile.dom0_initial_memory


def guest_memory(ctx: Ctx) -> int:
    return int(ctx.db.execute("SELECT value FROM totals WHERE key = 'guest_memory'").fetchone()[0])


def snapshots(ctx: Ctx) -> int:
    return int(ctx.db.execute("SELECT COUNT(*) FROM lvs WHERE origin IS NOT NULL").fetchone()[0])


def dom0_floor(ctx: Ctx, count: int | None = None) -> int:
    """MiB Domain-0 cannot balloon below: dom0-min-mem and what its ``count`` snapshots hold."""
    p = ctx.profile
    return p.dom0_min_mem + (snapshots(ctx) if count is None else count) * p.snapshot_memory


def hold_for_snapshot(ctx: Ctx, obj: str) -> None:
    """Room in Domain-0 for one more snapshot, from free memory when Domain-0 is at its floor."""
    p = ctx.profile
    if not p.ballooning or not p.snapshot_memory:
        return  # Domain-0 keeps all it has: the snapshot lives inside it
    short = dom0_floor(ctx, snapshots(ctx) + 1) - dom0_memory(ctx)
    if short <= 0:
        return
    if free_memory(ctx) < short:
        raise XenError(
            "device-mapper: reload ioctl failed: Cannot allocate memory "
            f"(Domain-0 needs {short}M more for the snapshot and {max(free_memory(ctx), 0)}M is free)",
            op="snapshot-create",
            obj=obj,
        )
    ctx.set_meta("dom0_memory", dom0_memory(ctx) + short)


def free_memory(ctx: Ctx) -> int:
    """MiB held by nobody: not Xen itself, not Domain-0, not any guest."""
    p = ctx.profile
    return p.memory - p.xen_reserved - dom0_memory(ctx) - guest_memory(ctx)


def claim(ctx: Ctx, memory: int, shadow: int = 0) -> None:
    """Make ``memory`` + ``shadow`` MiB (plus overhead) free, ballooning Domain-0 if allowed.

    Raises ``XenError`` with xend's message when it cannot; then nothing has changed.
    """
    need_kib = (memory + shadow) * 1024 + OVERHEAD_KIB
    free_kib = free_memory(ctx) * 1024
    if free_kib >= need_kib:
        return
    p = ctx.profile
    if not p.ballooning:
        raise XenError(
            "Not enough free memory and enable-dom0-ballooning is False, so I cannot release "
            f"any more.  I need {need_kib} KiB but only have {free_kib}.",
            op="create",
        )
    dom0_kib = dom0_memory(ctx) * 1024
    min_kib = dom0_floor(ctx) * 1024
    if dom0_kib <= min_kib:
        raise XenError("Not enough memory is available, and dom0 cannot be shrunk any further", op="create")
    new_dom0_kib = dom0_kib - (need_kib - free_kib)
    if new_dom0_kib < min_kib:
        held = min_kib - p.dom0_min_mem * 1024
        also = f" (and its LVM snapshots hold {held} KiB)" if held else ""
        raise XenError(
            f"I need {need_kib} KiB, but dom0_min_mem is {p.dom0_min_mem * 1024}{also} and shrinking to "
            f"{min_kib} KiB would leave only {free_kib + dom0_kib - min_kib} KiB free.",
            op="create",
        )
    # Every quantity here is whole MiB, so the new balloon target is too.
    ctx.set_meta("dom0_memory", new_dom0_kib // 1024)


def grow_by(ctx: Ctx, current: int, target: int) -> int:
    """What a balloon driver reaches when asked to grow from ``current`` to ``target`` MiB.

    mem-set does not balloon Domain-0: a guest only gets memory that is free.
    """
    if target <= current:
        return target
    return current + min(target - current, max(free_memory(ctx), 0))
