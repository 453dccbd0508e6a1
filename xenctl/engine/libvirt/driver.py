"""The libvirt driver: each ``Driver`` call made as libvirt calls on one connection.

Domains are persistent: ``create_domain`` defines the domain (with xenctl's mark in its
``<metadata>``) and starts it; a domain shut down stays defined, as its xm config file would
stay on a Xen host, and is not listed (``xm list`` shows running domains only); creating it
again redefines it under its UUID. A reboot is a clean shutdown and a start of the definition,
so it comes back under a new domid as a Xen guest does. Memory and vCPU changes go to the
running domain and to its definition. Waiting wakes on libvirt's lifecycle events, or polls
where they cannot be had.

Storage is libvirt's pools and volumes (``storage``, ``pools``). What the driver cannot do (disks
on a running guest, consoles, filesystems, NFS exports) it denies in ``capabilities()`` with its
reason and refuses with an ``EngineError``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import libvirt

from xenctl.engine.api import (
    DOMAIN0,
    Capabilities,
    ConsoleLine,
    Domain,
    DomainConfig,
    DomainDisk,
    Event,
    HostLock,
    HostState,
    Owner,
    Selection,
)
from xenctl.engine.libvirt import accel, autostart, events, reading
from xenctl.engine.libvirt.lock import FileLock, state_dir
from xenctl.engine.libvirt.storage import LibvirtStorage
from xenctl.engine.libvirt.waiting import LibvirtWaiting
from xenctl.engine.libvirt.xml import NAMESPACE, PREFIX, domain_xml, metadata_text, read_domain, xm_values
from xenctl.errors import EngineError, NotFoundError

T = TypeVar("T")
KINDS = {"test": "test", "qemu": "qemu", "kvm": "kvm", "xen": "xen"}  # libvirt's getType(), lower-cased
BOTH = (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
REBOOT_TIMEOUT = 300.0  # seconds a guest gets to shut down cleanly before a reboot forces it off


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error on stderr unless told otherwise: xenctl reports them itself."""


def open_driver(url: str, actor: str = "") -> LibvirtDriver:
    """A connection to the libvirt host at ``url``; one line when it cannot be made."""
    libvirt.registerErrorHandler(_quiet, None)
    where = urlsplit(url)
    if where.scheme == "test" and where.path != "/default" and not os.path.isfile(where.path):
        # Checked here: libxml2 would print its own warning on stderr before libvirt's error.
        raise EngineError(f"cannot connect to {url}: no test driver host file {where.path}", op="connect", obj=url)
    try:
        conn = libvirt.open(url)
    except libvirt.libvirtError as exc:
        message = reading.engine_error(exc, "connect", url).message.split("libvirt: ", 1)[-1]
        raise EngineError(f"cannot connect to {url}: {message}", op="connect", obj=url) from None
    return LibvirtDriver(url, conn, actor)


def _start(dom: Any, paused: bool) -> None:
    """Start a defined domain, paused before it runs where the hypervisor can (libvirt's test
    driver cannot: there it is paused just after it starts)."""
    if not paused:
        dom.create()
        return
    try:
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
            raise
        dom.create()
        dom.suspend()


class LibvirtDriver(LibvirtWaiting, LibvirtStorage):
    """One connection to a libvirt host (see the module's docstring)."""

    def __init__(self, url: str, conn: Any, actor: str = "") -> None:
        self.url = url
        self.conn = conn
        self.actor = actor
        self.kind = KINDS.get(str(conn.getType()).lower(), "xen")
        directory = self.directory = state_dir(url)
        self.files = reading.HostFiles(directory)
        self.lock = FileLock(directory)
        host_capabilities = conn.getCapabilities()
        self.domain_type = accel.domain_type(self.kind, host_capabilities)  # kvm only where it runs
        guests = reading.read_os_types(host_capabilities, self.domain_type)
        self._caps = reading.capabilities(self.kind, guests, reading.has_storage(conn))
        self._watch: events.LifecycleWatch | None = None
        self._watched = False  # a watch was asked for (None then: waits poll)

    # -- reading ------------------------------------------------------------------------------

    def _call(self, op: str, obj: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except libvirt.libvirtError as exc:
            raise reading.engine_error(exc, op, obj) from None

    def _lookup(self, ref: str, op: str = "lookup") -> Any:
        """The running domain ``ref`` names (a name or a domid); NotFoundError names it."""
        try:
            dom = self.conn.lookupByID(int(ref)) if ref.isdigit() else self.conn.lookupByName(ref)
        except libvirt.libvirtError:
            dom = None
        if dom is None or not dom.isActive():
            raise NotFoundError(f"domain {ref!r} does not exist", op=op, obj=ref)
        return dom

    def _state_dir(self) -> str:
        return self.directory

    def _domain0(self) -> Domain:
        if self.kind == "xen":
            return replace(reading.read_guest(self.conn.lookupByID(0)), name=DOMAIN0, owner=None)
        return reading.domain0(0, self.conn.getInfo()[2])

    def _guests(self) -> list[Domain]:
        active = self._call("list", self.url, lambda: self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
        found = []
        imported = self.owners.owners("domains")
        for dom in active:
            if dom.ID() == 0:
                continue
            try:
                found.append(reading.read_guest(dom, imported))
            except libvirt.libvirtError:
                continue  # gone between the listing and the read
        return sorted(found, key=lambda d: d.domid)

    def snapshot(self) -> HostState:
        guests = self._guests()
        dom0 = self._domain0()
        storage, root = self.read_storage(guests)
        info = reading.host_info(self.conn, guests, dom0, self.files, self._caps, root)
        parts = (storage.partitions, storage.volume_groups, storage.logical_volumes, storage.images)
        return HostState(info, (dom0, *guests), *parts, ())

    def change_token(self) -> str | None:
        return None  # libvirt keeps no counter of changes: every plan reads the host

    def changed_domains(self, since: str) -> frozenset[str] | None:
        return None  # libvirt keeps no count of changes: every plan reads the host whole

    def unchanged_since(self, since: str) -> bool:
        return False  # nor a journal of them

    def snapshot_of(self, selection: Selection) -> tuple[str | None, HostState]:
        whole = self.snapshot()
        kept = tuple(d for d in whole.domains if d.domid == 0 or d.owner is None or d.name in selection.domains)
        names, paths = selection.volumes, selection.paths
        lvs = tuple(v for v in whole.logical_volumes if v.name in names or v.origin in names or v.path in paths)
        images = tuple(i for i in whole.images if os.path.basename(i.path) in names or i.path in paths)
        return None, replace(whole, domains=kept, logical_volumes=lvs, images=images)

    def domain(self, ref: str) -> Domain:
        if ref in (DOMAIN0, "0"):
            return self._domain0()
        imported = self.owners.owners("domains")
        return self._call("lookup", ref, lambda: reading.read_guest(self._lookup(ref), imported))

    def capabilities(self) -> Capabilities:
        return self._caps

    def console(self, ref: str) -> tuple[ConsoleLine, ...]:
        raise EngineError(f"{ref}: console: {self._caps.reason('console')}", op="console", obj=ref)

    # -- domains ------------------------------------------------------------------------------

    def _refuse_domain0(self, ref: str, op: str) -> None:
        if ref in (DOMAIN0, "0"):
            raise EngineError(f"{DOMAIN0} cannot be {op}: it is the host", op=op, obj=DOMAIN0)

    def create_domain(self, config: DomainConfig, *, owner: Owner | None = None, paused: bool = False) -> Domain:
        self._refuse_domain0(config.name, "created")
        before = self._definition(config.name)
        if before is not None and before.isActive():
            raise EngineError(f"{config.name}: a domain of that name runs already (domid {before.ID()})",
                              op="create", obj=config.name)  # fmt: skip
        uuid = config.uuid or (before.UUIDString() if before is not None else None)
        xml = domain_xml(replace(config, uuid=uuid), owner, self.domain_type)
        kept = before.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) if before is not None else None
        dom = self._call("create", config.name, lambda: self.conn.defineXML(xml))
        try:
            self._call("create", config.name, lambda: _start(dom, paused))
        except EngineError:
            # No half-made domain: the definition goes back to what it was, or goes.
            self._call("create", config.name, lambda: self.conn.defineXML(kept) if kept else dom.undefine())
            raise
        self.record_event("create", config.name, "ok")
        # What was defined reads back as the config it was made from (xml.py's round trip):
        # only what libvirt chose is asked for, not the whole XML again.
        return self._call("create", config.name, lambda: reading.started_guest(dom, replace(config, uuid=uuid), owner))

    def _definition(self, name: str) -> Any:
        try:
            return self.conn.lookupByName(name)
        except libvirt.libvirtError:
            return None

    def _act(self, op: str, ref: str, act: Callable[[Any], object], refused_as: str = "") -> None:
        if refused_as:
            self._refuse_domain0(ref, refused_as)
        dom = self._lookup(ref, op)
        self._call(op, ref, lambda: act(dom))
        self.record_event(op, ref, "ok")

    def shutdown_domain(self, ref: str, *, reboot: bool = False) -> None:
        if reboot:
            self.reboot_domain(ref)
            return
        self._act("shutdown", ref, lambda dom: dom.shutdown(), "shut down")

    def destroy_domain(self, ref: str) -> None:
        self._act("destroy", ref, lambda dom: dom.destroy(), "destroyed")

    def reboot_domain(self, ref: str) -> None:
        self._act("reboot", ref, self._reboot, "rebooted")

    def _reboot(self, dom: Any) -> None:
        dom.shutdown()
        deadline = time.monotonic() + REBOOT_TIMEOUT
        while dom.isActive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if dom.isActive():
            dom.destroy()
        dom.create()

    def pause_domain(self, ref: str) -> None:
        self._act("pause", ref, lambda dom: dom.suspend(), "paused")

    def unpause_domain(self, ref: str) -> None:
        self._act("unpause", ref, lambda dom: dom.resume())

    def save_domain(self, ref: str, path: str) -> None:
        self._act("save", ref, lambda dom: dom.save(path), "saved")

    def restore_domain(self, path: str, *, paused: bool = False) -> Domain:
        name = self.saved_config(path).name
        flags = libvirt.VIR_DOMAIN_SAVE_PAUSED if paused else 0
        self._call("restore", name, lambda: self.conn.restoreFlags(path, None, flags))
        self.record_event("restore", name, "ok", path)
        return self.domain(name)

    def saved_config(self, path: str) -> DomainConfig:
        if not os.path.isfile(path):
            raise NotFoundError(f"{path}: no saved domain there", op="restore", obj=path)
        return read_domain(self._call("restore", path, lambda: self.conn.saveImageGetXMLDesc(path, 0))).config

    def set_memory(self, ref: str, mib: int) -> None:
        set_it: Callable[[Any, int], object] = lambda dom, flag: dom.setMemoryFlags(mib * 1024, flag)  # noqa: E731
        self._set("mem-set", ref, mib, "maxmem", lambda c: c.memory_ceiling, set_it)

    def set_vcpus(self, ref: str, count: int) -> None:
        self._set("vcpu-set", ref, count, "maxvcpus", lambda c: c.vcpu_ceiling, lambda d, f: d.setVcpusFlags(count, f))

    def _set(
        self,
        op: str,
        ref: str,
        value: int,
        limit: str,
        ceiling: Callable[[DomainConfig], int],
        call: Callable[[Any, int], object],
    ) -> None:
        """Set memory or vCPUs on the running domain and in its definition, within its ceiling."""
        current = self.domain(ref)
        if value <= 0:
            raise EngineError(f"{current.name}: {op} {value}: it must be at least 1", op=op, obj=current.name)
        if value > ceiling(current.config):
            raise EngineError(f"{current.name}: {op} {value}: above its {limit} of {ceiling(current.config)}",
                              op=op, obj=current.name)  # fmt: skip
        dom = self._lookup(ref, op)
        flags = BOTH if dom.isPersistent() else BOTH[:1]
        for flag in flags:
            self._call(op, current.name, partial(call, dom, flag))
        self.record_event(op, current.name, "ok", str(value))

    def attach_disk(self, ref: str, disk: DomainDisk) -> None:
        raise EngineError(f"{ref}: block-attach: {self._caps.reason('live_disks')}", op="block-attach", obj=ref)

    def detach_disk(self, ref: str, vdev: str) -> None:
        raise EngineError(f"{ref}: block-detach: {self._caps.reason('live_disks')}", op="block-detach", obj=ref)

    def set_domain_owner(self, ref: str, owner: Owner | None) -> None:
        self._refuse_domain0(ref, "marked as managed")
        dom = self._lookup(ref, "set-owner")
        text = metadata_text(owner, xm_values(read_domain(dom.XMLDesc(0)).config, self.domain_type))
        element = libvirt.VIR_DOMAIN_METADATA_ELEMENT
        flags = BOTH if dom.isPersistent() else BOTH[:1]
        for flag in flags:
            self._call("set-owner", ref, partial(dom.setMetadata, element, text, PREFIX, NAMESPACE, flag))
        self.record_event("set-owner", ref, "ok", owner.source if owner else "")

    def set_autostart_flag(self, name: str, on: bool) -> None:
        """libvirt's autostart flag on ``name``, mirroring xenctl's autostart entry for it."""
        if self._call("autostart", name, lambda: autostart.set_flag(self.conn, name, on)):
            self.record_event("autostart", name, "ok", "flag set" if on else "flag cleared")

    def unflagged_domains(self) -> frozenset[str]:
        """The defined domains libvirt would not start by itself (no autostart flag)."""
        return self._call("autostart", self.url, lambda: autostart.unflagged(self.conn))

    # -- the host -----------------------------------------------------------------------------

    def config_root(self) -> str | None:
        # On a Xen host xm's /etc/xen/auto stays the source of autostart entries; elsewhere
        # autostart is libvirt's flag on each domain (set from xenctl's entries: app.libvirtauto).
        return "/etc/xen" if self.kind == "xen" and not urlsplit(self.url).hostname else None

    def set_runlevel(self, level: int, *, booted: bool) -> None:
        self.files.set_runlevel(level, booted)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self.files.close()
        self._call("close", self.url, self.conn.close)

    def acquire_lock(self, command: str, timeout: float = 0.0) -> HostLock:
        mine, taken_from = self.lock.acquire(command, timeout)
        if taken_from is not None:
            self.record_event("lock", str(taken_from.id), "ok", f"taken over from {taken_from.describe()}")
        return mine

    def release_lock(self, held: HostLock) -> None:
        self.lock.release(held)

    def force_unlock(self, lock_id: int) -> HostLock:
        removed = self.lock.force_unlock(lock_id)
        self.record_event("force-unlock", str(lock_id), "ok", removed.describe())
        return removed

    def lock_holder(self) -> HostLock | None:
        return self.lock.holder()

    def record_event(self, op: str, obj: str, outcome: str, message: str = "") -> None:
        self.files.record(op, obj, outcome, message, self.actor)

    def events(self, since: int = 0, limit: int | None = None) -> tuple[Event, ...]:
        found = [e for e in self.files.events() if e.seq > since]
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        return tuple(found)
