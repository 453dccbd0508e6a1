"""``xm save`` and ``xm restore`` on the simulated host: a domain written to a save file and gone,
and a domain started again from one, under a new domid.

Like the other domain commands, each runs inside the caller's write transaction and either
completes or raises. A save file is trusted no more than a config: restoring one runs the checks
of ``xm create``. The file's format is ``savefile``'s.
"""

from __future__ import annotations

from typing import Any

from xenctl.engine.api import DOMAIN0
from xenctl.engine.sim import domains, lifecycle, savefile, timeline
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import config_from_dict, config_to_dict, renamed_record
from xenctl.errors import XenError


def save(ctx: Ctx, ref: str, path: str) -> tuple[str, float]:
    """Write the save file and start the save; the domain is gone when the returned time comes."""
    if domains.is_domain0(ref):
        raise XenError("Cannot save privileged domain", op="save", obj=DOMAIN0)
    row = domains.lookup(ctx, ref)
    if timeline.phase_of(row, ctx.now) not in domains.LIVE or row["stopping"]:
        raise XenError("Domain is not running", op="save", obj=row["name"])
    record = guest_record(ctx, row)
    migrating = f"migrating-{row['name']}"
    clash = ctx.db.execute("SELECT domid FROM domains WHERE name = ?", (migrating,)).fetchone()
    if clash is not None:
        raise XenError(f"VM name '{migrating}' already exists as domain {clash[0]}", op="save", obj=row["name"])
    done = ctx.now + ctx.duration("save")
    ctx.db.execute(  # the row takes xend's name for it; its config keeps the guest's
        "UPDATE domains SET name = ?, record = ?, exit_kind = 'saved', exit_at = ?, paused = 0, paused_at = NULL "
        "WHERE domid = ?",
        (migrating, renamed_record(row["record"], row["name"]), done, row["domid"]),
    )
    savefile.write(path, record)  # last: if it cannot be written, the transaction rolls back whole
    return str(row["name"]), done


def guest_record(ctx: Ctx, row: Any) -> dict[str, Any]:
    """A running guest as a save file keeps it and a migration sends it: its config, and its
    state (owner, run and CPU time, online vCPUs, memory and balloon target)."""
    record = config_to_dict(lifecycle.config_of(ctx, row))
    record["xenctl"] = {
        "managed_by": row["managed_by"],
        "source": row["source"],
        "run_time": timeline.run_time(row, ctx.now),
        "cpu_time": timeline.cpu_time(row, ctx.now),
        "online_vcpus": row["vcpus"],
        "memory_now": row["memory"],
        "target": row["target"],
    }
    return record


def saved_name(path: str) -> str:
    """The name of the domain a save file holds (refused like a restore if it is no save file)."""
    return str(savefile.read(path)["name"])


def restore(ctx: Ctx, path: str, *, paused: bool) -> tuple[str, int, float]:
    record = savefile.read(path)
    extra = record.pop("xenctl", {}) or {}
    try:
        config = config_from_dict(record)
        memory_now = int(extra.get("memory_now") or config.memory)
        target = int(extra.get("target") or memory_now)
        online = int(extra.get("online_vcpus") or config.vcpus)
        ran = float(extra.get("run_time") or 0.0)
        cpu = float(extra.get("cpu_time") or 0.0)
    except (KeyError, TypeError, ValueError):
        raise XenError(f"Restore failed: {path} is not a valid guest state file", op="restore", obj=path) from None
    # The file is trusted no more than a config: the same checks as create, and its numbers in range.
    domains.check_name(config.name)
    domains.check_config(ctx, config)
    if config.uuid is None or not 0 < memory_now <= config.memory_ceiling or not 0 < online <= config.vcpu_ceiling:
        raise XenError(f"Restore failed: {path} is not a valid guest state file", op="restore", obj=path)
    row = ctx.db.execute(
        "SELECT domid, name FROM domains WHERE name = ? OR uuid = ?", (config.name, config.uuid)
    ).fetchone()
    if row is not None:
        raise XenError(f"Domain '{row['name']}' already exists with ID '{row['domid']}'", op="restore", obj=config.name)
    lifecycle.check_name_free(ctx, config.name)  # Domain-0 too
    domains.check_uuid_free(ctx, config)
    domid = lifecycle.start_instance(
        ctx,
        config,
        start=ctx.now,
        boot=ctx.duration("restore"),
        paused=paused,
        owner=(extra.get("managed_by"), extra.get("source")),
        run_accum=max(ran, 0.0),
        cpu_base=max(cpu, 0.0),
        vcpus=online,
        memory_now=memory_now,
        target=min(max(target, 1), config.memory_ceiling),
        restored=True,
    )
    return config.name, domid, ctx.now + ctx.duration("restore")
