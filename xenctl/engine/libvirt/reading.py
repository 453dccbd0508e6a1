"""What a libvirt host reads as: its domains as ``Domain`` values, the host as ``HostInfo``, what
it can do as ``Capabilities``, and libvirt's errors as xenctl's.

A host that is not Xen has no Domain-0 of its own; it is shown as one (domid 0, always running,
holding none of the guests' memory), because every caller of a driver expects Domain-0 there.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from typing import Any

import libvirt

from xenctl.engine.api import DOMAIN0, Capabilities, Domain, DomainConfig, Event, HostInfo, Owner, Phase
from xenctl.engine.libvirt.xml import parse, read_domain
from xenctl.errors import EngineError, NotFoundError, one_line

MIB = 1024 * 1024
# libvirt's virDomainState, as xm shows it (SHUTOFF never shows: an inactive domain is not listed).
PHASES = {0: Phase.RUNNING, 1: Phase.RUNNING, 2: Phase.RUNNING, 3: Phase.PAUSED, 4: Phase.SHUTTING_DOWN,
          6: Phase.CRASHED, 7: Phase.PAUSED}  # fmt: skip
NO_FILESYSTEMS = "libvirt makes no filesystems and puts no files on volumes: make them from a guest"
NO_NFS = "libvirt exports no NFS roots: declare them on the NFS server"
NO_RESIZE = "libvirt's test driver cannot resize volumes (virStorageVolResize)"
NO_COW_RESIZE = "libvirt does not grow a snapshot's copy-on-write space"
EXTENT = 4 * 1024 * 1024  # LVM's default extent: logical volumes made through libvirt round up to it


def engine_error(exc: libvirt.libvirtError, op: str, obj: str) -> EngineError:
    """libvirt's error as xenctl's, in one line quoting libvirt's message."""
    message = one_line(str(exc.get_error_message() or exc)).strip()
    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
        return NotFoundError(f"{obj}: no such domain ({message})", op=op, obj=obj)
    return EngineError(f"{obj}: {op}: libvirt: {message}", op=op, obj=obj)


def read_guest(dom: Any, imported: dict[str, Owner] | None = None) -> Domain:
    """One active libvirt domain as a ``Domain``; one without xenctl's mark is xenctl's when an
    import recorded its UUID (``imported``: the owners record's domains)."""
    read = read_domain(dom.XMLDesc(0))
    owner = read.owner or (imported or {}).get(read.uuid.lower())
    state, _most, current, vcpus, cpu_ns = dom.info()
    return Domain(
        domid=int(dom.ID()),
        name=read.config.name,
        uuid=read.uuid,
        phase=PHASES.get(state, Phase.RUNNING),
        memory=current // 1024,
        target=current // 1024,
        vcpus=vcpus,
        cpu_time=cpu_ns / 1e9,
        config=read.config,
        owner=owner,
    )


def started_guest(dom: Any, config: DomainConfig, owner: Owner | None) -> Domain:
    """A domain just defined from ``config`` (with ``owner``) and started, without reading its
    XML back: what xml.py writes reads back as the config it was written from."""
    state, _most, current, vcpus, cpu_ns = dom.info()
    config = replace(config, uuid=config.uuid or dom.UUIDString())
    return Domain(int(dom.ID()), config.name, config.uuid or "", PHASES.get(state, Phase.RUNNING),
                  current // 1024, current // 1024, vcpus, cpu_ns / 1e9, config, owner)  # fmt: skip


def domain0(memory: int, vcpus: int) -> Domain:
    """The stand-in for Domain-0 on a host that has none (QEMU, the test driver)."""
    config = DomainConfig(name=DOMAIN0, memory=memory, vcpus=vcpus)
    uuid = "00000000-0000-0000-0000-000000000000"
    return Domain(0, DOMAIN0, uuid, Phase.RUNNING, memory, memory, vcpus, 0.0, config)


def read_os_types(text: str, kind: str) -> frozenset[str]:
    """The guest OS types (hvm, xen, linux) libvirt's capabilities XML offers for domains of ``kind``."""
    root = parse(text, "libvirt's capabilities")
    return frozenset(
        (guest.findtext("os_type") or "").strip()
        for guest in root.findall("guest")
        if any(d.get("type") == kind for d in guest.iter("domain"))
    )


def has_storage(conn: Any) -> bool:
    """Whether the connection has libvirt's storage driver (pools and volumes)."""
    try:
        conn.listAllStoragePools(0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            return False
        raise
    return True


def capabilities(kind: str, os_types: frozenset[str], storage: bool = True) -> Capabilities:
    """What this driver does on a host of ``kind`` (``storage``: with libvirt's storage driver),
    and why not the rest."""
    console = (
        "libvirt's test driver has no consoles (virDomainOpenConsole)"
        if kind == "test"
        else "xenctl's libvirt driver does not read consoles yet"
    )
    hvm = "hvm" in os_types
    test = kind == "test"
    why_not = [
        ("console", console),
        ("live_disks", "libvirt's test driver cannot attach or detach devices (virDomainAttachDeviceFlags)"
         if test else "xenctl's libvirt driver does not attach or detach disks yet"),
        ("nfs_exports", NO_NFS),
        ("filesystems", NO_FILESYSTEMS),
        ("loop_devices", "libvirt hands image files to the hypervisor; no loop devices are counted"),
        ("grow", NO_RESIZE) if test else ("grow:snapshot", NO_COW_RESIZE),
    ]  # fmt: skip
    if not hvm:
        why_not.append(("hvm", "this libvirt host offers no fully virtualised (hvm) guests"))
    if not storage:
        no_pools = "this libvirt connection has no storage driver (no pools or volumes)"
        why_not = [w for w in why_not if not w[0].startswith("grow")]
        why_not += [(name, no_pools) for name in ("volume_groups", "logical_volumes", "snapshots", "images", "grow")]
    return Capabilities(
        live_memory=True,
        live_vcpus=True,
        pause=True,
        save_restore=True,
        migration=True,  # libvirt's migration where the connection has it, else a cold move
        hvm=hvm,
        volume_groups=storage,
        logical_volumes=storage,
        snapshots=storage,
        images=storage,
        grow=frozenset({"lvm", "file"}) if storage and not test else frozenset(),
        extent_size=EXTENT,
        why_not=tuple(sorted(why_not)),
    )


class HostFiles:
    """xenctl's own record of a libvirt host on this machine: its runlevel and its event log."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.save_dir = os.path.join(directory, "save")
        os.makedirs(self.save_dir, exist_ok=True)
        self._host = os.path.join(directory, "host.json")
        self._events = os.path.join(directory, "events.jsonl")
        self._log: int | None = None

    def runlevel(self) -> tuple[int, bool]:
        try:
            with open(self._host) as f:
                kept = json.load(f)
            return int(kept["runlevel"]), bool(kept["booted"])
        except (OSError, ValueError, KeyError, TypeError):
            return 3, False

    def set_runlevel(self, level: int, booted: bool) -> None:
        with open(self._host, "w") as f:
            json.dump({"runlevel": level, "booted": booted}, f)

    def events(self) -> list[Event]:
        """The log, each event numbered by its line (the first is 1)."""
        try:
            with open(self._events) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            return [Event(**{**line, "seq": seq}) for seq, line in enumerate(lines, 1)]
        except (OSError, ValueError, TypeError):
            return []

    def record(self, op: str, obj: str, outcome: str, message: str, actor: str) -> None:
        """One line appended (one write in append mode, whole even beside other writers); its
        number is its place in the file, so the log is not read to write to it."""
        line = {"at": time.time(), "op": op, "obj": obj, "outcome": outcome, "message": message, "actor": actor}
        if self._log is None:  # opened once: an apply records an event per action
            self._log = os.open(self._events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._log, (json.dumps(line) + "\n").encode())

    def close(self) -> None:
        if self._log is not None:
            os.close(self._log)
            self._log = None


def host_info(
    conn: Any, guests: list[Domain], dom0: Domain, files: HostFiles, caps: Capabilities, storage_root: str
) -> HostInfo:
    """The host's facts: libvirt's node info, its bridges (of its networks), the storage root (the
    dir pool image files live in) and xenctl's runlevel."""
    _arch, total, cpus, *_rest = conn.getInfo()
    held = sum(d.memory for d in guests) + dom0.memory
    free = conn.getFreeMemory() // MIB or max(0, total - held)
    bridges = sorted({net.bridgeName() for net in conn.listAllNetworks() if _has_bridge(net)})
    level, booted = files.runlevel()
    return HostInfo(
        name=conn.getHostname(),
        total_memory=total,
        free_memory=free,
        dom0_memory=dom0.memory,
        dom0_min_mem=dom0.memory,
        ballooning=False,
        guest_memory_max=max(0, total - dom0.memory),
        pcpus=cpus,
        max_loop=0,
        loops_used=0,
        bridges=tuple(bridges),
        storage_root=storage_root,
        save_dir=files.save_dir,
        runlevel=level,
        now=time.time(),
        booted=booted,
        capabilities=caps,
    )


def _has_bridge(net: Any) -> bool:
    try:
        return bool(net.bridgeName())
    except libvirt.libvirtError:  # a network without a bridge: none to list
        return False
