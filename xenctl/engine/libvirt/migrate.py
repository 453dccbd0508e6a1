"""A guest moved between two libvirt hosts: libvirt's migration, or a cold move where the
connection has none (the test driver answers VIR_ERR_NO_SUPPORT).

libvirt's migration (``virDomainMigrate`` with ``VIR_MIGRATE_PERSIST_DEST`` and
``VIR_MIGRATE_UNDEFINE_SOURCE``, and ``VIR_MIGRATE_LIVE`` for a live one) keeps the domain's XML,
xenctl's metadata in it included. A cold move keeps it too, in this order, so that a process
killed between two steps never leaves the guest running on both hosts nor defined on neither:

1. defined on the target with the source's XML (inactive; xenctl's ``<metadata>`` travels in it);
2. stopped on the source (destroyed: a guest that would not shut down must not hold up the move);
3. started on the target;
4. undefined on the source.

Killed after 1 or 2, the guest is defined on both and runs on at most the source; after 3, it runs
on the target, and the source keeps an inactive definition that the next move (or an undefine)
removes. Each step is in both hosts' event logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import libvirt

from xenctl.engine.api import DOMAIN0, Driver
from xenctl.errors import EngineError


@dataclass(frozen=True)
class Moved:
    """How a guest moved: ``cold`` when it was shut down and started again on the target, and
    the seconds it ran nowhere (None when libvirt moved it and did not say)."""

    cold: bool
    downtime_s: float | None = None


def _conn(driver: Driver) -> Any:
    conn = getattr(driver, "conn", None)
    if conn is None:
        raise EngineError(f"{driver!r} is not a libvirt host", op="migrate")
    return conn


def _find(conn: Any, name: str) -> Any:
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError:
        return None


def move_refusal(source: Driver, target: Driver, domain: str) -> str | None:
    """Why ``domain`` cannot move from ``source`` to ``target``, as one line; None when it can."""
    src_url, dst_url = getattr(source, "url", "?"), getattr(target, "url", "?")
    if domain in (DOMAIN0, "0"):
        return f"{src_url}: Cannot migrate privileged domain"
    dom = _find(_conn(source), domain)
    if dom is None:
        return f"{src_url} has no domain {domain!r}"
    if not dom.isActive():
        return f"{src_url}: domain {domain!r} is not running there (only a running guest migrates)"
    there = _find(_conn(target), domain)
    if there is None:
        try:
            there = _conn(target).lookupByUUIDString(dom.UUIDString())
        except libvirt.libvirtError:
            there = None
    if there is not None:
        return f"{dst_url} already has a domain {there.name()!r} of that name or UUID"
    return None


def move(source: Driver, target: Driver, domain: str, *, live: bool) -> Moved:
    """libvirt's migration where it is offered, else a cold move (see the module's docstring)."""
    src, dst = _conn(source), _conn(target)
    dom = src.lookupByName(domain)
    flags = libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    if live:
        flags |= libvirt.VIR_MIGRATE_LIVE
    try:
        dom.migrate(dst, flags, None, None, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise EngineError(f"{domain}: migrate: {exc.get_error_message()}", op="migrate", obj=domain) from None
    else:
        _both(source, target, "migrate", domain, f"migrated by libvirt ({'live' if live else 'offline'})")
        return Moved(cold=False)
    return _cold_move(source, target, dom)


def _both(source: Driver, target: Driver, op: str, name: str, message: str) -> None:
    src_url, dst_url = getattr(source, "url", "?"), getattr(target, "url", "?")
    source.record_event(op, name, "ok", f"to {dst_url}: {message}")
    target.record_event(op, name, "ok", f"from {src_url}: {message}")


def _cold_move(source: Driver, target: Driver, dom: Any) -> Moved:
    name = dom.name()
    dst = _conn(target)
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE)
    autostart = bool(dom.autostart())
    try:
        there = dst.defineXML(xml)
        _both(source, target, "move-define", name, "defined on the target (this connection cannot migrate)")
        stopped = time.monotonic()
        dom.destroy()
        _both(source, target, "move-stop", name, "stopped on the source")
        there.create()
        downtime = time.monotonic() - stopped
        _both(source, target, "move-start", name, "started on the target")
        if autostart:
            there.setAutostart(1)
        dom.undefine()
        _both(source, target, "move-done", name, "undefined on the source: a cold move")
    except libvirt.libvirtError as exc:
        raise EngineError(f"{name}: cold move: {exc.get_error_message()}", op="migrate", obj=name) from None
    return Moved(cold=True, downtime_s=downtime)
