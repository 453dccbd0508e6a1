"""A domain's life on the simulated host: states from timestamps, and what Xen does on its own.

No daemon runs. A domain row records when its boot completes (``up_at``), whether it is paused,
and what is pending (``exit_kind`` at ``exit_at``: a power-off, reboot, crash, or the end of a
save). ``phase_of`` derives the state at any moment. ``settle`` carries out the exits that are due
(destroy, preserve, restart under a new domid) exactly as xend would have at that moment; every
operation settles first, and so does a snapshot when something is due.
"""

from __future__ import annotations

import json
import sqlite3
import uuid as uuidlib

from xenctl.engine.api import DOMAIN0, DomainConfig, DomainDisk, OnEvent, Phase
from xenctl.engine.sim import blockdevs, console, faults, memory, timeline
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import config_from_row, disk_from_dict, stored_record
from xenctl.engine.sim.store import savepoint
from xenctl.errors import XenError

DOMID_FIRST_RESERVED = 0x7FF0
XEND = "xend"  # exits and restarts are the hypervisor's own doing
MINIMUM_RESTART_TIME = 20.0  # xend refuses a restart this soon after the previous one


def allocate_domid(ctx: Ctx) -> int:
    """The next free domid after the last one given, wrapping to 1 below the reserved range."""
    last = ctx.meta("last_domid")
    candidate = (int(last) if isinstance(last, int) else 0) + 1
    for _ in range(DOMID_FIRST_RESERVED):
        if candidate >= DOMID_FIRST_RESERVED:
            candidate = 1
        if ctx.db.execute("SELECT 1 FROM domains WHERE domid = ?", (candidate,)).fetchone() is None:
            ctx.set_meta("last_domid", candidate)
            return candidate
        candidate += 1
    raise XenError("No free domain IDs", op="create")


def check_name_free(ctx: Ctx, name: str) -> None:
    if name == DOMAIN0:
        raise XenError(f"VM name '{name}' already exists as domain 0", op="create", obj=name)
    row = ctx.db.execute("SELECT domid FROM domains WHERE name = ?", (name,)).fetchone()
    if row is not None:
        raise XenError(f"VM name '{name}' already exists as domain {row[0]}", op="create", obj=name)


def start_instance(
    ctx: Ctx,
    config: DomainConfig,
    *,
    start: float,
    boot: float,
    paused: bool = False,
    owner: tuple[str | None, str | None] = (None, None),
    run_accum: float = 0.0,
    cpu_base: float = 0.0,
    vcpus: int | None = None,
    memory_now: int | None = None,
    target: int | None = None,
    restored: bool = False,
    restarted: bool = False,
) -> int:
    """Build a domain: claim memory, allocate a domid, connect its devices, start its boot.

    Raises XenError (and changes nothing, within the caller's transaction) on any refusal.
    """
    held = memory_now if memory_now is not None else config.memory
    memory.claim(ctx, held, config.shadow_memory)
    domid = allocate_domid(ctx)
    uid = config.uuid or str(uuidlib.uuid4())
    up_at = start + boot
    crash = None if restored else _boot_crash(ctx, config, up_at)  # a restored guest does not boot
    record, macs = stored_record(config)
    ctx.db.execute(
        "INSERT INTO domains(domid, name, uuid, record, macs, memory, target, vcpus, created_at, up_at, paused, "
        "paused_at, run_accum, run_since, exit_kind, exit_at, managed_by, source, restarted_at, "
        "shadow, run_base, cpu_base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            domid,
            config.name,
            uid,
            record,
            macs,
            held,
            target if target is not None else held,
            vcpus if vcpus is not None else config.vcpus,
            start,
            up_at,
            int(paused),
            start if paused else None,
            run_accum,
            None if paused else start,
            "crash" if crash else None,
            up_at if crash else None,
            owner[0],
            owner[1],
            start if restarted else None,
            config.shadow_memory,
            run_accum,
            cpu_base,
        ),
    )
    for disk in config.disks:
        blockdevs.attach(ctx, domid, uid, disk, run_accum)
    _first_console_lines(ctx, config, domid, start, up_at, restored=restored, crash=crash)
    return domid


def _first_console_lines(
    ctx: Ctx,
    config: DomainConfig,
    domid: int,
    start: float,
    up_at: float,
    *,
    restored: bool,
    crash: tuple[str, ...] | None,
) -> None:
    """What the console shows of a domain started: its boot, or its restore."""
    lines = (
        [(start, f"Restored domain {config.name} (id={domid})"), (up_at, f"{config.name} login:")]
        if restored
        else console.boot_lines(config, domid, start, up_at, crash=crash or ())
    )
    ctx.db.executemany(
        "INSERT INTO console(domid, at, text) VALUES (?, ?, ?)", [(domid, at, text) for at, text in lines]
    )


def _boot_crash(ctx: Ctx, config: DomainConfig, up_at: float) -> tuple[str, ...] | None:
    """How the guest will panic at the end of its boot, if it will: its last console lines."""
    if faults.take(ctx, "crash-at-boot", "create", config.name):
        return console.INJECTED_CRASH
    if config.nfs_root:
        return None if nfs_root_available(ctx, config, up_at) else console.NFS_ROOT_FAILURE
    vdev = root_device(config)
    for disk in config.disks:
        if vdev is not None and disk.vdev.split(":")[0] == vdev and not _mountable(ctx, disk):
            return console.no_root_filesystem(vdev)  # Linux finds nothing to mount as root
    return None


def _mountable(ctx: Ctx, disk: DomainDisk) -> bool:
    """Whether a root disk holds a filesystem. Image files and logical volumes are made blank and
    known to be so until formatted; a partition the host profile gives no filesystem is only not
    described (the built-in profile's sda10 is xmexample2's VM3 root and the LVM examples' PV),
    unless it is known to hold swap or an LVM physical volume."""
    target = blockdevs.find_target(ctx, blockdevs.disk_path(disk))
    if target is None:
        return True
    filesystem = target.row["filesystem"]
    return filesystem not in ("swap", "LVM2_member") and (filesystem is not None or target.kind == "partition")


def root_device(config: DomainConfig) -> str | None:
    """The guest device its kernel mounts as root (``root=/dev/sda1 ro`` is sda1), if one is named."""
    words = (config.root or "").split()
    if not words or not words[0].startswith("/dev/") or words[0] == "/dev/nfs":
        return None
    return words[0][len("/dev/") :]


def nfs_root_available(ctx: Ctx, config: DomainConfig, when: float) -> bool:
    """Whether the guest's NFS root will be mountable at ``when``: exported, and its server up."""
    export = ctx.db.execute(
        "SELECT by_domain FROM exports WHERE server = ? AND path = ?", (config.nfs_server, config.nfs_root)
    ).fetchone()
    if export is None:
        return False
    if not export["by_domain"]:
        return True  # a server outside the host, from the profile: always there
    for row in ctx.db.execute("SELECT * FROM domains").fetchall():
        if row["name"] == config.nfs_server or json.loads(row["record"]).get("ip") == config.nfs_server:
            return row["up_at"] <= when and timeline.phase_of(row, when) in (Phase.BOOTING, Phase.RUNNING)
    return False


def config_of(ctx: Ctx, row: sqlite3.Row) -> DomainConfig:
    disks = tuple(
        disk_from_dict(dict(d))
        for d in ctx.db.execute(
            "SELECT target, vdev, mode, backend FROM disks WHERE domid = ? ORDER BY rowid", (row["domid"],)
        )
    )
    return config_from_row(row, disks)


def mark_cdrom(ctx: Ctx, row: sqlite3.Row, vdev: str, cdrom: bool) -> None:
    """Which disks are removable drives lives in the domain's config (the disks table has no column for it)."""
    data = json.loads(row["record"])
    cdroms = [v for v in data.get("cdroms", ()) if v != vdev] + ([vdev] if cdrom else [])
    if cdroms:
        data["cdroms"] = cdroms
    else:
        data.pop("cdroms", None)
    ctx.db.execute("UPDATE domains SET record = ? WHERE domid = ?", (json.dumps(data), row["domid"]))


def remove(ctx: Ctx, row: sqlite3.Row) -> None:
    """The domain is gone: fold its writes, free its devices, memory and console."""
    blockdevs.release(ctx, row["domid"])
    ctx.db.execute("DELETE FROM console WHERE domid = ?", (row["domid"],))
    ctx.db.execute("DELETE FROM domains WHERE domid = ?", (row["domid"],))


def halt(ctx: Ctx, row: sqlite3.Row, at: float, how: str) -> None:
    """Keep the domain, stopped, as ``xm list`` shows a preserved one (``---s--`` or ``----c-``)."""
    ctx.db.execute(
        "UPDATE domains SET halted = ?, run_accum = ?, run_since = NULL, stopping = NULL, "
        "exit_kind = NULL, exit_at = NULL WHERE domid = ?",
        (how, timeline.run_time(row, at), row["domid"]),
    )


def is_due(db: sqlite3.Connection, now: float) -> bool:
    return db.execute("SELECT 1 FROM domains WHERE exit_at <= ? AND paused = 0 LIMIT 1", (now,)).fetchone() is not None


def settle(ctx: Ctx) -> None:
    """Carry out every exit that is due by now, in the order they happened."""
    while True:
        row = ctx.db.execute(
            "SELECT * FROM domains WHERE exit_at <= ? AND paused = 0 ORDER BY exit_at, domid LIMIT 1",
            (ctx.now,),
        ).fetchone()
        if row is None:
            return
        _exit(ctx, row)


def _exit(ctx: Ctx, row: sqlite3.Row) -> None:
    at = float(row["exit_at"])
    kind = row["exit_kind"]
    name = row["name"]
    config = config_of(ctx, row)
    if kind == "saved":
        remove(ctx, row)
        ctx.event("exit", name, message="saved and destroyed", at=at, by=XEND)
        return
    action = {"poweroff": config.on_poweroff, "reboot": config.on_reboot, "crash": config.on_crash}[kind]
    what = {"poweroff": "shut down", "reboot": "rebooted"}.get(kind) or f"crashed{_why_crashed(ctx, row)}"
    if action in (OnEvent.RESTART, OnEvent.RENAME_RESTART, OnEvent.COREDUMP_RESTART) and kind == "crash":
        restarted = row["restarted_at"]
        since = at - float(restarted) if restarted is not None else None
        if since is not None and since < MINIMUM_RESTART_TIME:
            remove(ctx, row)
            ctx.event(
                "exit",
                name,
                "error",
                f"{what}; VM {name} restarting too fast ({since:f} seconds since the last restart).  "
                "Refusing to restart to avoid loops.",
                at=at,
                by=XEND,
            )
            return
    if action in (OnEvent.DESTROY, OnEvent.COREDUMP_DESTROY):
        remove(ctx, row)
        ctx.event("exit", name, message=f"{what}; on_{kind}={action.value}: destroyed", at=at, by=XEND)
    elif action is OnEvent.PRESERVE:
        halt(ctx, row, at, "crashed" if kind == "crash" else "shutdown")
        ctx.event("exit", name, message=f"{what}; on_{kind}=preserve: kept", at=at, by=XEND)
    else:
        _restart(ctx, row, config, at, why=f"{what}; on_{kind}={action.value}", rename=action is OnEvent.RENAME_RESTART)


def _why_crashed(ctx: Ctx, row: sqlite3.Row) -> str:
    query = "SELECT text FROM console WHERE domid = ? ORDER BY at, seq"
    texts = [text for (text,) in ctx.db.execute(query, (row["domid"],))]
    reason = console.crash_reason(texts)
    return f" ({reason})" if reason else ""


def _restart(ctx: Ctx, row: sqlite3.Row, config: DomainConfig, at: float, *, why: str, rename: bool) -> None:
    """xend rebuilds the domain under a new domid, with the same name and UUID."""
    name = row["name"]
    owner = (row["managed_by"], row["source"])
    remove(ctx, row)
    if rename:
        # The old domain would stay, renamed Domain-<uuid>, for debugging; its devices go to the
        # new one, so the simulation keeps only the record of it in the event log.
        ctx.event("exit", name, message=f"renamed Domain-{uuidlib.uuid4()} and preserved", at=at, by=XEND)
    try:
        with savepoint(ctx.db):
            domid = start_instance(ctx, config, start=at, boot=ctx.duration("boot"), owner=owner, restarted=True)
    except XenError as exc:
        ctx.event("restart", name, "error", exc.message, at=at, by=XEND)
        return
    ctx.event("restart", name, message=f"{why}: restarted as domain {domid}", at=at, by=XEND)
