"""The domain commands of the simulated host, with xend's rules and xm's messages.

Each function runs inside the caller's write transaction (``SimHost`` opens it, settles what is
due, checks injected faults and logs the event) and either completes or raises, so a refused
command changes nothing. Messages are the ones in shared/XEN.md, section 2. Saving and restoring
a domain are ``save_restore``'s.
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import replace
from typing import cast

from xenctl.engine.api import DOMAIN0, DomainConfig, DomainDisk, Phase
from xenctl.engine.devices import vdev_number
from xenctl.engine.sim import blockdevs, console, faults, lifecycle, memory, timeline
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.records import config_from_row
from xenctl.errors import NotFoundError, XenError

# xend's rule, less '/', which would let a name escape the directories xenctl writes names into.
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-.:+]+$")
MAX_NAME = 64
MAX_VIRT_CPUS = 32  # Xen 3.x's limit of vCPUs per domain
LIVE = (Phase.BOOTING, Phase.RUNNING, Phase.PAUSED, Phase.SHUTTING_DOWN)
HVM_REQUIRED = "HVM guest support is unavailable: is VT/AMD-V supported by your CPU and enabled in your BIOS?"


def check_name(name: str) -> None:
    """xend's name rule, plus: no '/', not '.' or '..', not all digits (it would read as a domid)."""
    if not _NAME_RE.match(name) or name in (".", "..") or name.isdigit() or len(name) > MAX_NAME:
        raise XenError(
            f"Invalid VM Name: {name[:80]!r} (use letters, digits and _ - . : +, not only digits, "
            f"at most {MAX_NAME} characters)",
            op="create",
            obj=name[:80],
        )


def is_domain0(ref: str) -> bool:
    return ref in ("0", DOMAIN0)


def lookup(ctx: Ctx, ref: str) -> sqlite3.Row:
    """A domain by name or domid, or xm's "Domain 'x' does not exist."."""
    row = None
    if ref.isascii() and ref.isdigit() and int(ref) < lifecycle.DOMID_FIRST_RESERVED:
        row = ctx.db.execute("SELECT * FROM domains WHERE domid = ?", (int(ref),)).fetchone()
    if row is None:
        row = ctx.db.execute("SELECT * FROM domains WHERE name = ?", (ref,)).fetchone()
    if row is None:
        raise NotFoundError(f"Domain '{ref}' does not exist.", obj=ref)
    return cast(sqlite3.Row, row)


def create(ctx: Ctx, config: DomainConfig, *, owner: tuple[str | None, str | None], paused: bool) -> int:
    check_name(config.name)
    check_config(ctx, config)
    lifecycle.check_name_free(ctx, config.name)
    check_uuid_free(ctx, config)
    vifs = tuple(v if v.mac else replace(v, mac=_random_mac()) for v in config.vifs)
    config = replace(config, vifs=vifs)
    return lifecycle.start_instance(ctx, config, start=ctx.now, boot=ctx.duration("boot"), paused=paused, owner=owner)


DOMAIN0_UUID = "00000000-0000-0000-0000-000000000000"


def check_uuid_free(ctx: Ctx, config: DomainConfig) -> None:
    """Two domains never share a UUID: xend's sharing check tells VMs apart by it."""
    if config.uuid is None:
        return
    if config.uuid == DOMAIN0_UUID:
        raise XenError(f"Domain '{DOMAIN0}' already exists with ID '0'", op="create", obj=config.name)
    row = ctx.db.execute("SELECT domid, name FROM domains WHERE uuid = ?", (config.uuid,)).fetchone()
    if row is not None:
        raise XenError(f"Domain '{row['name']}' already exists with ID '{row['domid']}'", op="create", obj=config.name)


def check_config(ctx: Ctx, config: DomainConfig) -> None:
    if config.memory <= 0:
        raise XenError("Invalid Configuration: memory must be more than 0", op="create", obj=config.name)
    if config.maxmem is not None and config.maxmem < config.memory:
        raise XenError(
            "Invalid Configuration: memory_dynamic_max must be less than or equal to memory_static_max",
            op="create",
            obj=config.name,
        )
    ceiling = config.vcpu_ceiling
    if not 1 <= config.vcpus <= ceiling or ceiling > MAX_VIRT_CPUS:
        raise XenError(
            f"Invalid Configuration: vcpus must be between 1 and maxvcpus ({ceiling}), "
            f"and maxvcpus at most {MAX_VIRT_CPUS}",
            op="create",
            obj=config.name,
        )
    if not 0 <= config.shadow_memory <= config.memory:
        raise XenError(
            f"Invalid Configuration: shadow_memory must be from 0 to the domain's memory ({config.memory})",
            op="create",
            obj=config.name,
        )
    if bool(config.nfs_server) != bool(config.nfs_root):
        raise XenError("Must set nfs root and nfs server", op="create", obj=config.name)
    if config.hvm is not None and not ctx.profile.hvm:  # xend's HVMRequired: no hvm-3.0-* in xen_caps
        raise XenError(HVM_REQUIRED, op="create", obj=config.name)
    for index, vif in enumerate(config.vifs):
        if vif.bridge not in ctx.profile.bridges:
            raise XenError(
                f"Device {index} (vif) could not be connected. Could not find bridge device {vif.bridge}",
                op="create",
                obj=config.name,
            )
    seen: dict[int, str] = {}
    for disk in config.disks:
        number = vdev_number(disk.vdev)
        if number is not None and number in seen:
            raise XenError(
                f"Device {disk.vdev} is given twice in the configuration (as {seen[number]} too)",
                op="create",
                obj=config.name,
            )
        if number is not None:
            seen[number] = disk.vdev


def _random_mac() -> str:
    """A MAC in Xen's own range, 00:16:3e:xx:xx:xx, as xend picks one."""
    return "00:16:3e:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))


def shutdown(ctx: Ctx, ref: str, *, reboot: bool = False) -> str:
    if is_domain0(ref):
        raise XenError("Domain 0 cannot be shutdown", op="reboot" if reboot else "shutdown", obj=DOMAIN0)
    row = lookup(ctx, ref)
    phase = timeline.phase_of(row, ctx.now)
    if phase not in LIVE:
        raise XenError("Domain cannot be shutdown", op="shutdown", obj=row["name"])
    if row["stopping"]:
        return str(row["name"])  # already asked; xend writes the request again
    reason = "reboot" if reboot else "poweroff"
    if faults.take(ctx, "ignore-shutdown", "shutdown", row["name"]):
        ctx.db.execute(
            "UPDATE domains SET stopping = ?, exit_kind = ?, exit_at = NULL WHERE domid = ?",
            (reason, reason, row["domid"]),
        )
        return str(row["name"])
    # The guest acts on the request once booted, and not while paused: a paused guest's clock
    # stopped at paused_at, and unpause moves everything after that by the time it was held.
    asked = float(row["paused_at"]) if row["paused"] else ctx.now
    begin = max(asked, float(row["up_at"]))
    end = begin + ctx.duration("shutdown")
    if row["exit_kind"] == "crash":
        end = min(end, float(row["exit_at"]))  # it will crash before it can halt
        reason = "crash"
    ctx.db.execute(
        "UPDATE domains SET stopping = ?, exit_kind = ?, exit_at = ? WHERE domid = ?",
        ("reboot" if reboot else "poweroff", reason, end, row["domid"]),
    )
    if reason != "crash" and not row["paused"]:  # a paused guest reacts, and prints, once unpaused
        _print_shutdown(ctx, row["domid"], reason, begin, end)
    return str(row["name"])


def _print_shutdown(ctx: Ctx, domid: int, reason: str, begin: float, end: float) -> None:
    ctx.db.executemany(
        "INSERT INTO console(domid, at, text) VALUES (?, ?, ?)",
        [(domid, at, text) for at, text in console.shutdown_lines(reason, begin, end)],
    )


def destroy(ctx: Ctx, ref: str) -> str:
    if is_domain0(ref):
        raise XenError("Cannot destroy privileged domain", op="destroy", obj=DOMAIN0)
    row = lookup(ctx, ref)
    lifecycle.remove(ctx, row)
    return str(row["name"])


def pause(ctx: Ctx, ref: str) -> str:
    if is_domain0(ref):
        raise XenError("Cannot pause privileged domain", op="pause", obj=DOMAIN0)
    row = lookup(ctx, ref)
    phase = timeline.phase_of(row, ctx.now)
    if phase not in (Phase.BOOTING, Phase.RUNNING, Phase.PAUSED, Phase.SHUTTING_DOWN, Phase.CRASHED):
        raise XenError(f"Domain '{row['name']}' is not started", op="pause", obj=row["name"])
    if not row["paused"]:
        ctx.db.execute(
            "UPDATE domains SET paused = 1, paused_at = ?, run_accum = ?, run_since = NULL WHERE domid = ?",
            (ctx.now, timeline.run_time(row, ctx.now), row["domid"]),
        )
    return str(row["name"])


def unpause(ctx: Ctx, ref: str) -> str:
    if is_domain0(ref):
        raise XenError("Cannot unpause privileged domain", op="unpause", obj=DOMAIN0)
    row = lookup(ctx, ref)
    phase = timeline.phase_of(row, ctx.now)
    if phase not in (Phase.PAUSED, Phase.BOOTING, Phase.RUNNING, Phase.SHUTTING_DOWN):
        raise XenError(f"Domain '{row['name']}' is not started", op="unpause", obj=row["name"])
    if row["paused"]:
        # Nothing in the guest moved while it was paused: its boot and its exit wait as long.
        held = ctx.now - float(row["paused_at"])
        paused_at = float(row["paused_at"])
        ctx.db.execute(
            "UPDATE domains SET paused = 0, paused_at = NULL, run_since = ?, "
            "up_at = CASE WHEN up_at > ? THEN up_at + ? ELSE up_at END, "
            "exit_at = CASE WHEN exit_at > ? THEN exit_at + ? ELSE exit_at END WHERE domid = ?",
            (ctx.now, paused_at, held, paused_at, held, row["domid"]),
        )
        ctx.db.execute("UPDATE console SET at = at + ? WHERE domid = ? AND at > ?", (held, row["domid"], paused_at))
        # A shutdown asked during the pause is seen, and printed, now.
        reason = row["exit_kind"]
        pending = row["stopping"] and reason in ("poweroff", "reboot") and row["exit_at"] is not None
        if pending and not _has_shutdown_lines(ctx, row["domid"]):
            exit_at = float(row["exit_at"]) + held
            _print_shutdown(ctx, row["domid"], str(reason), exit_at - ctx.duration("shutdown"), exit_at)
    return str(row["name"])


def _has_shutdown_lines(ctx: Ctx, domid: int) -> bool:
    found = ctx.db.execute(
        "SELECT 1 FROM console WHERE domid = ? AND text LIKE 'INIT: Switching to runlevel%' LIMIT 1", (domid,)
    ).fetchone()
    return found is not None


def set_memory(ctx: Ctx, ref: str, mib: int) -> str:
    if mib <= 0:
        raise XenError("Invalid memory size: it must be more than 0 MiB", op="mem-set", obj=ref)
    too_big = "Invalid Configuration: memory_dynamic_max must be less than or equal to memory_static_max"
    if is_domain0(ref):
        if mib < ctx.profile.dom0_min_mem:
            raise XenError("memory_dynamic_max too small", op="mem-set", obj=DOMAIN0)
        current = memory.dom0_memory(ctx)
        if mib > ctx.profile.dom0_initial_memory:
            raise XenError(too_big, op="mem-set", obj=DOMAIN0)
        ctx.set_meta("dom0_memory", memory.grow_by(ctx, current, mib))
        return DOMAIN0
    row = lookup(ctx, ref)
    if mib > _stored_config(row).memory_ceiling:
        raise XenError(too_big, op="mem-set", obj=row["name"])
    reached = memory.grow_by(ctx, int(row["memory"]), mib)
    ctx.db.execute("UPDATE domains SET memory = ?, target = ? WHERE domid = ?", (reached, mib, row["domid"]))
    return str(row["name"])


def set_vcpus(ctx: Ctx, ref: str, count: int) -> str:
    if count <= 0:
        raise XenError("Zero or less VCPUs is invalid", op="vcpu-set", obj=ref)
    too_many = "Cannot set vcpus greater than max vcpus on running domain"
    if is_domain0(ref):
        if count > dom0_vcpu_ceiling(ctx):
            raise XenError(too_many, op="vcpu-set", obj=DOMAIN0)
        ctx.set_meta("dom0_vcpus", count)
        return DOMAIN0
    row = lookup(ctx, ref)
    if count > _stored_config(row).vcpu_ceiling:
        raise XenError(too_many, op="vcpu-set", obj=row["name"])
    ctx.db.execute("UPDATE domains SET vcpus = ? WHERE domid = ?", (count, row["domid"]))
    return str(row["name"])


def _stored_config(row: sqlite3.Row) -> DomainConfig:
    """The domain's configuration without its disks (which live in their own table)."""
    return config_from_row(row, ())


def dom0_vcpu_ceiling(ctx: Ctx) -> int:
    return ctx.profile.dom0_vcpus or ctx.profile.cpus


def dom0_vcpus(ctx: Ctx) -> int:
    value = ctx.meta("dom0_vcpus")
    return int(value) if isinstance(value, int) else dom0_vcpu_ceiling(ctx)


def attach_disk(ctx: Ctx, ref: str, disk: DomainDisk) -> str:
    if is_domain0(ref):
        raise XenError("xenctl does not attach guest disks to the privileged domain", op="attach", obj=DOMAIN0)
    row = lookup(ctx, ref)
    if timeline.phase_of(row, ctx.now) not in LIVE:
        raise XenError(f"Domain '{row['name']}' is not started", op="attach", obj=row["name"])
    blockdevs.attach(ctx, row["domid"], row["uuid"], disk, timeline.run_time(row, ctx.now))
    lifecycle.mark_cdrom(ctx, row, disk.vdev, disk.cdrom)
    return str(row["name"])


def detach_disk(ctx: Ctx, ref: str, vdev: str) -> str:
    row = lookup(ctx, ref) if not is_domain0(ref) else None
    if row is None:
        raise XenError(f"Device {vdev} not connected", op="detach", obj=DOMAIN0)
    disk = ctx.db.execute("SELECT target FROM disks WHERE domid = ? AND vdev = ?", (row["domid"], vdev)).fetchone()
    if disk is None:
        raise XenError(f"Device {vdev} not connected", op="detach", obj=row["name"])
    blockdevs.fold_target(ctx, disk["target"])
    ctx.db.execute("DELETE FROM disks WHERE domid = ? AND vdev = ?", (row["domid"], vdev))
    lifecycle.mark_cdrom(ctx, row, vdev, False)
    return str(row["name"])


def console_lines(ctx: Ctx, ref: str) -> list[tuple[float, str]]:
    if is_domain0(ref):
        raise XenError("Domain-0's console is the host's own terminal", op="console", obj=DOMAIN0)
    row = lookup(ctx, ref)
    # A paused guest prints nothing: what it would print later waits for the unpause.
    until = min(ctx.now, float(row["paused_at"])) if row["paused"] else ctx.now
    return [
        (float(r[0]), str(r[1]))
        for r in ctx.db.execute(
            "SELECT at, text FROM console WHERE domid = ? AND at <= ? ORDER BY at, seq", (row["domid"], until)
        )
    ]


def set_owner(ctx: Ctx, ref: str, owner: tuple[str | None, str | None]) -> str:
    if is_domain0(ref):  # the host's own domain: no spec declares it, so nothing may mark it
        raise XenError("Cannot mark privileged domain as managed: it belongs to the host", op="set-owner", obj=DOMAIN0)
    row = lookup(ctx, ref)
    ctx.db.execute("UPDATE domains SET managed_by = ?, source = ? WHERE domid = ?", (*owner, row["domid"]))
    return str(row["name"])
