"""From a fleet's specs and what its hosts hold, to placement's questions, and back to one desired
state per host.

Pure: ``rooms`` and ``requests`` ask ``placement.place`` where each domain goes; ``split`` cuts the
specs into each host's share once it has answered. Local storage ties domains together: every
domain using a volume group, an image file or a partition goes where that storage is (or is made),
so a volume group's logical volumes never straddle two hosts. Storage says where it is with
``host:``, or follows the domains that use it. An NFS root is reachable from any host, unless the
export is served by a domain of the specs: its clients then go with their server (one host's
exports are its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xenctl.engine.api import HostState
from xenctl.fleet.placement import HostRoom, Placement, Request
from xenctl.spec.checks import nfs_server_domain
from xenctl.spec.model import DesiredPower, DesiredState, DomainSpec, HostSpec, NfsExportSpec, VolumeKind

VCPUS_PER_CPU = 4  # vCPUs a host's guests may have in all, per physical CPU, unless hosts: says


@dataclass(frozen=True)
class Share:
    """One host's part of the specs, and what could not be given to any host."""

    desired: dict[str, DesiredState]
    unplaced: tuple[str, ...] = ()  # messages: storage no domain uses and no host: names


def storage_keys(desired: DesiredState, domain: DomainSpec) -> frozenset[str]:
    """The local storage a domain's disks use, as keys placement keeps together."""
    keys: set[str] = set()
    for disk in domain.disks:
        if disk.volume is not None:
            volume = desired.volume(disk.volume)
            if volume is not None:
                keys.add(_volume_key(desired, volume.name))
        elif disk.file is not None:
            keys.add(f"image file {disk.file}")
    server = nfs_server_domain(desired, domain)
    if server is not None:
        keys.add(f"NFS server {server}")  # its root is served by a domain of the specs: with its server
    return frozenset(keys)


def _server(desired: DesiredState, export: NfsExportSpec) -> str | None:
    """The declared domain serving ``export`` (by name or address), if one does."""
    return export.server if desired.domain(export.server) is not None else desired.domain_with_ip(export.server)


def _volume_key(desired: DesiredState, name: str) -> str:
    volume = desired.volume(name)
    if volume is None:
        return f"volume {name}"
    if volume.kind in (VolumeKind.LVM, VolumeKind.SNAPSHOT) and volume.vg is not None:
        return f"volume group {volume.vg}"
    return f"volume {volume.name}"


def _pinned_storage(desired: DesiredState) -> dict[str, set[str]]:
    """Storage keys the specs put on a host with ``host:``."""
    pinned: dict[str, set[str]] = {}
    for group in desired.volume_groups:
        if group.host is not None:
            pinned.setdefault(group.host, set()).add(f"volume group {group.name}")
    for volume in desired.volumes:
        if volume.host is not None:
            pinned.setdefault(volume.host, set()).add(_volume_key(desired, volume.name))
    for export in desired.nfs_exports:
        server = _server(desired, export)
        if export.host is not None and server is not None:
            pinned.setdefault(export.host, set()).add(f"NFS server {server}")
    return pinned


def rooms(
    hosts: Sequence[HostSpec],
    live: Mapping[str, HostState],
    desired: DesiredState,
    drained: frozenset[str] = frozenset(),
    asked: frozenset[str] | None = None,
) -> list[HostRoom]:
    """Each host's room for the domains placement is ``asked`` about (default: the specs'): its
    capacity (hosts: or what it says) less what other domains hold there, and the storage it has."""
    declared = asked if asked is not None else {d.name for d in desired.domains}
    pinned = _pinned_storage(desired)
    found = []
    for spec in hosts:
        state = live[spec.name]
        others = [d for d in state.domains if d.name not in declared and d.domid != 0]
        memory = spec.memory if spec.memory is not None else state.host.guest_memory_max
        vcpus = spec.vcpus if spec.vcpus is not None else state.host.pcpus * VCPUS_PER_CPU
        keys = {f"volume group {g.name}" for g in state.volume_groups} | pinned.get(spec.name, set())
        keys |= {f"NFS server {d.name}" for d in state.domains if d.domid != 0}
        found.append(
            HostRoom(
                name=spec.name,
                memory=max(0, memory - sum(d.memory + state.host.capabilities.domain_overhead for d in others)),
                vcpus=max(0, vcpus - sum(d.vcpus for d in others)),
                labels=frozenset(spec.labels),
                storage=frozenset(keys),
                accepting=spec.name not in drained,
            )
        )
    return found


def current_hosts(hosts: Sequence[HostSpec], live: Mapping[str, HostState]) -> dict[str, str]:
    """Where each domain runs now (by name): the first host holding it up, else the first holding it."""
    where: dict[str, str] = {}
    for spec in hosts:
        for domain in live[spec.name].domains:
            if domain.domid == 0:
                continue
            if domain.name not in where or (domain.is_up and not _up(live[where[domain.name]], domain.name)):
                where[domain.name] = spec.name
    return where


def _up(state: HostState, name: str) -> bool:
    found = state.domain(name)
    return found is not None and found.is_up


def requests(desired: DesiredState, current: Mapping[str, str], overhead: int = 2) -> list[Request]:
    """What placement is asked for each domain: a stopped domain holds no memory or vCPUs."""
    asked = []
    for domain in desired.domains:
        running = domain.state is not DesiredPower.STOPPED
        asked.append(
            Request(
                name=domain.name,
                memory=domain.memory + overhead if running else 0,
                vcpus=domain.vcpus if running else 0,
                labels=frozenset(domain.host_labels),
                spread=domain.spread,
                pin=domain.host,
                storage=storage_keys(desired, domain),
                current=current.get(domain.name),
            )
        )
    return asked


def split(desired: DesiredState, placements: Sequence[Placement], hosts: Sequence[HostSpec]) -> Share:
    """Each host's desired state: its domains, the storage they use or ``host:`` puts there, and
    their autostart entries. Storage with neither is reported, not guessed."""
    where = {p.name: p.host for p in placements if p.host is not None}
    names = [h.name for h in hosts]
    domains: dict[str, list[DomainSpec]] = {n: [] for n in names}
    for domain in desired.domains:
        if domain.name in where:
            domains[where[domain.name]].append(domain)
    volume_host: dict[str, str] = {v.name: v.host for v in desired.volumes if v.host is not None}
    for domain in desired.domains:
        for disk in domain.disks:
            if disk.volume is not None and domain.name in where:
                volume_host.setdefault(disk.volume, where[domain.name])
    for volume in desired.volumes:  # a snapshot's origin is where the snapshot is
        if volume.snapshot_of is not None and volume.name in volume_host:
            volume_host.setdefault(volume.snapshot_of, volume_host[volume.name])
    group_host: dict[str, str] = {g.name: g.host for g in desired.volume_groups if g.host is not None}
    for volume in desired.volumes:
        if volume.vg is not None and volume.name in volume_host:
            group_host.setdefault(volume.vg, volume_host[volume.name])
    export_hosts: dict[str, set[str]] = {}
    for export in desired.nfs_exports:
        server = _server(desired, export)
        served_by = where.get(server) if server is not None else None
        chosen = {export.host} if export.host else {served_by} if served_by else set()
        users = {where[d.name] for d in desired.domains if d.nfs_root == export.name and d.name in where}
        export_hosts[export.name] = chosen | (users if server is None else set())
    unplaced = [
        f"{kind} {name} is used by no domain of the fleet; say which host it is on with host:"
        for kind, items, placed in (
            ("volume group", desired.volume_groups, group_host),
            ("volume", desired.volumes, volume_host),
        )
        for name in (item.name for item in items)
        if name not in placed
    ]
    unplaced += [
        f"NFS export {e.name} is used by no domain of the fleet; say which host it is on with host:"
        for e in desired.nfs_exports
        if not export_hosts[e.name]
    ]
    shares = {}
    for name in names:
        mine = {d.name for d in domains[name]}
        shares[name] = DesiredState(
            domains=tuple(domains[name]),
            volume_groups=tuple(g for g in desired.volume_groups if group_host.get(g.name) == name),
            volumes=tuple(v for v in desired.volumes if volume_host.get(v.name) == name),
            nfs_exports=tuple(e for e in desired.nfs_exports if name in export_hosts[e.name]),
            autostart=tuple(a for a in desired.autostart if a.domain in mine),
            files=desired.files,
        )
    return Share(shares, tuple(unplaced))
