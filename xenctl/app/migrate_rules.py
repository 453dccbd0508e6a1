"""Xen's rules for moving a guest between two simulated hosts: each refusal is one line that names
the host, and the file and the value where a file decides.

- the target's xend runs its relocation server (``(xend-relocation-server yes)`` in the target's
  ``xend-config.sxp``; xend's default is no) and its ``xend-relocation-hosts-allow`` patterns,
  regular expressions matched from the start of the source host's name as xend matches them,
  let the source in (no patterns: any host);
- the domain exists on the source, runs, and is not Domain-0;
- no domain of its name or UUID is on the target;
- the target has the memory (Domain-0 ballooning as for a create there), the bridges and the rest
  of create's checks (a dry run of the target's build, nothing kept);
- each disk is reachable from both hosts: an NFS root the target's profile reaches, a network
  block device, or a device on a disk both profiles declare ``shared: true`` (a SAN LUN). A
  logical volume, an image file or a partition of a local disk is the source's alone.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from xenctl.errors import EngineError

if TYPE_CHECKING:
    from xenctl.engine.api import DomainConfig, DomainDisk, HostState
    from xenctl.engine.sim import SimHost


def _name(sim: SimHost) -> str:
    return sim.profile.name


def relocation_refusal(source: SimHost, target: SimHost) -> str | None:
    """Whether the target's xend takes guests from the source, as its xend-config.sxp says."""
    xend = target.xend
    where = os.path.join(target.config_root(), "xend-config.sxp")
    if xend is None or not xend.relocation_server:
        said = "has no (xend-relocation-server yes): xend's default is no"
        if xend is not None:
            source_of = {s.key: s.source for s in xend.settings}["xend-relocation-server"]
            said = f"says (xend-relocation-server no) at {source_of}" if ":" in source_of else said
        return f"host {_name(target)} does not take migrations: {where} {said}"
    allow = xend.relocation_hosts_allow
    if allow and not any(re.match(pattern, _name(source)) for pattern in allow):
        shown = " ".join(allow)
        return (
            f"host {_name(target)} does not take migrations from {_name(source)}: "
            f"(xend-relocation-hosts-allow '{shown}') in {where} does not match it"
        )
    return None


def record_refusal(source: SimHost, domain: str) -> tuple[str | None, dict[str, Any]]:
    """Whether the domain can leave the source (exists, runs, not Domain-0); its record if so."""
    try:
        return None, source.migration_record(domain)
    except EngineError as exc:
        return f"host {_name(source)}: {_one_line(exc.message)}", {}


def landing_refusal(target: SimHost, record: dict[str, Any]) -> str | None:
    """Whether the target can build the guest: no name or UUID of it there, and create's checks."""
    uuid = str(record.get("uuid") or "")
    for other in target.snapshot().domains:
        if other.name == record["name"] or other.uuid == uuid:
            what = "name" if other.name == record["name"] else f"UUID {uuid}"
            return (
                f"host {_name(target)} already has a domain of that {what}: "
                f"Domain '{other.name}' already exists with ID '{other.domid}'"
            )
    try:
        target.check_incoming(record)
    except EngineError as exc:
        return f"host {_name(target)} cannot take {record['name']}: {_one_line(exc.message)}"
    return None


def _one_line(message: str) -> str:
    return " ".join(message.split())


def storage_refusal(source: SimHost, target: SimHost, config: DomainConfig) -> str | None:
    """The first disk (or NFS root) of the guest the target cannot reach, said as such."""
    if config.nfs_server and config.nfs_root:
        reached = {server for server, _paths in target.profile.nfs_servers}
        exports = {(e.server, e.path) for e in target.snapshot().nfs_exports if not e.served_by_domain}
        if config.nfs_server not in reached and (config.nfs_server, config.nfs_root) not in exports:
            return (
                f"the NFS root {config.nfs_server}:{config.nfs_root} of {config.name} is not reachable "
                f"from host {_name(target)} (its profile has no nfs_servers entry for {config.nfs_server})"
            )
    state = source.snapshot()
    for disk in config.disks:
        refusal = _disk_refusal(source, target, state, config.name, disk)
        if refusal is not None:
            return refusal
    return None


def _disk_refusal(source: SimHost, target: SimHost, state: HostState, name: str, disk: DomainDisk) -> str | None:
    from xenctl.engine.devices import device_path

    if disk.backend == "nbd" or not disk.target:
        return None  # a network block device's server is elsewhere; an empty drive holds nothing
    path = device_path(disk.target) if disk.backend == "phy" else disk.target
    vdev = disk.vdev.split(":")[0]
    cannot = f"on host {_name(source)}, which {_name(target)} cannot reach"
    for lv in state.logical_volumes:
        if path == f"/dev/{lv.vg}/{lv.name}":
            return f"disk {vdev} of {name} is logical volume {lv.vg}/{lv.name} {cannot}"
    for image in state.images:
        if path == image.path:
            return f"disk {vdev} of {name} is image file {image.path} {cannot}"
    shared_here = _shared_devices(source)
    if path not in shared_here:
        return f"disk {vdev} of {name} is {path}, a local device {cannot} (not on a disk declared shared)"
    if path not in _shared_devices(target):
        return (
            f"disk {vdev} of {name} is {path} on shared disk {shared_here[path]}, which host "
            f"{_name(target)}'s profile does not declare shared"
        )
    return None


def _shared_devices(sim: SimHost) -> dict[str, str]:
    """The device paths on the host's shared disks (whole disks and their partitions), by disk."""
    found: dict[str, str] = {}
    for disk in sim.profile.disks:
        if disk.shared:
            found[f"/dev/{disk.name}"] = disk.name
            found.update({f"/dev/{part.name}": disk.name for part in disk.partitions})
    return found
