"""Semantic checks of a desired state: what the schema cannot see across objects and files.

Pure: ``check_desired(desired, capacity)`` returns findings, each naming the object's origin.
The checks: names declared twice (both places named); references to undeclared volumes, volume
groups, exports and domains; dependency cycles (``depends_on``, NFS-root servers, autostart
``after``), with the cycle's members named; a device held read-write by two domains; a partition
used both as an LVM physical volume and as a disk; snapshots of another VG's volume; what only
an HVM guest has (emulated cards) or only a paravirtualised one (a kernel); a writable cdrom;
and memory beyond what the host can ever give its guests (when ``capacity`` is known).
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterator
from dataclasses import dataclass

from xenctl.filenames import temporary_file_name
from xenctl.spec.model import (
    DesiredPower,
    DesiredState,
    DomainSpec,
    NfsExportSpec,
    Origin,
    VolumeGroupSpec,
    VolumeKind,
    VolumeSpec,
)
from xenctl.spec.sharing import Finding, storage_findings


@dataclass(frozen=True)
class Capacity:
    """What the host can ever give its guests: memory in MiB once Domain-0 is at its minimum,
    and where its image files live (so a relative and an absolute path to one file are one)."""

    guest_memory: int
    source: str = "the host"
    storage_root: str = "/var/lib/xen/images"
    overhead: int = 2  # MiB the hypervisor needs beyond a domain's memory to build it (xend: 2)


def check_desired(desired: DesiredState, capacity: Capacity | None = None, *, structure: bool = True) -> list[Finding]:
    """Every finding. Without ``structure``, only the checks of single objects and of memory:
    the caller knows this structure (``xenctl.spec.cache.structure``) passed the rest."""
    findings: list[Finding] = []
    root = storage_root_of(capacity)
    if structure:
        for check in (_duplicates, _references, _cycles):
            findings.extend(check(desired))
    findings.extend(_domain_rules(desired))
    findings.extend(_device_rules(desired))
    if structure:
        findings.extend(storage_findings(desired, root))
    if capacity is not None:
        findings.extend(_memory(desired, capacity))
    return findings


@dataclass(frozen=True)
class Summary:
    """What the checks of single objects and of memory need of one file, worked out once, when its
    model is built: whether each of its objects passes its own rules, and its running domains'
    memory. With the summaries of every file, those checks cost one step a file, not one a domain."""

    own_rules_pass: bool
    running: int  # domains not declared stopped
    memory: int  # MiB they ask for together
    largest: int  # MiB the largest of them asks for


def summarize(model: DesiredState) -> Summary:
    running = [d.memory for d in model.domains if d.state is not DesiredPower.STOPPED]
    clean = next(iter(_domain_rules(model)), None) is None and next(iter(_device_rules(model)), None) is None
    return Summary(clean, len(running), sum(running), max(running, default=0))


def passes_quickly(summaries: list[Summary], capacity: Capacity | None) -> bool:
    """Whether files of these summaries pass the checks of single objects and of memory
    (``check_desired(..., structure=False)`` finds nothing); when not, those checks run the usual
    way, for their messages."""
    if not all(s.own_rules_pass for s in summaries):
        return False
    if capacity is None:
        return True
    most = capacity.guest_memory - capacity.overhead
    running = sum(s.running for s in summaries)
    total = sum(s.memory for s in summaries) + capacity.overhead * running
    return all(s.largest <= most for s in summaries) and (running == 0 or total <= capacity.guest_memory)


def storage_root_of(capacity: Capacity | None) -> str:
    return capacity.storage_root if capacity else Capacity(0).storage_root


def _duplicates(desired: DesiredState) -> Iterator[Finding]:
    kinds: list[tuple[str, list[tuple[str, Origin]]]] = [
        ("domain", [(d.name, d.origin) for d in desired.domains]),
        ("volume group", [(g.name, g.origin) for g in desired.volume_groups]),
        ("volume", [(v.name, v.origin) for v in desired.volumes]),
        ("NFS export", [(e.name, e.origin) for e in desired.nfs_exports]),
        ("autostart entry for domain", [(a.domain, a.origin) for a in desired.autostart]),
        ("autostart file", [(a.entry_name, a.origin) for a in desired.autostart]),
        ("host", [(h.name, h.origin) for h in desired.hosts]),
        ("host URI", [(h.connect, h.origin) for h in desired.hosts]),
    ]
    for kind, items in kinds:
        if len({name for name, _origin in items}) == len(items):
            continue  # the usual case, told at the speed of a set
        first: dict[str, Origin] = {}
        for name, origin in items:
            if name in first:
                yield origin, f"{kind} {name} is declared twice: first in {_place(first[name])}", None
            else:
                first[name] = origin


def _place(origin: Origin) -> str:
    """A marker for a second place; the loader turns it into file:line (it has the files' text)."""
    path = "/".join(str(p) for p in origin.path)
    return f"{{at:{origin.file}|{path}}}"


def _references(desired: DesiredState) -> Iterator[Finding]:
    """Every name one object gives of another (a volume group, an origin, a volume, an export, a
    domain) is declared, and of the right kind."""
    yield from _volume_references(desired)
    yield from _domain_references(desired)
    yield from _autostart_references(desired)
    yield from _host_references(desired)


def _host_references(desired: DesiredState) -> Iterator[Finding]:
    """A host named by a domain or by storage is declared under hosts:; a fleet's rules
    (spread, host_labels) need a fleet."""
    hosts = {h.name for h in desired.hosts}
    storage: tuple[VolumeGroupSpec | VolumeSpec | NfsExportSpec, ...] = (
        *desired.volume_groups,
        *desired.volumes,
        *desired.nfs_exports,
    )
    fleetish = any(d.host or d.spread or d.host_labels for d in desired.domains) or any(i.host for i in storage)
    if not hosts and not fleetish:
        return  # one host, and nothing speaks of a fleet: the usual case
    for domain in desired.domains:
        path = domain.origin.path
        if domain.host is not None and domain.host not in hosts:
            yield domain.origin, f"host {domain.host} is not declared under hosts:", (*path, "host")
        for field, given in (("spread", domain.spread), ("host_labels", domain.host_labels)):
            if given and not hosts:
                yield domain.origin, f"{field} places domains on a fleet; declare its hosts: too", (*path, field)
    for item in storage:
        if item.host is not None and item.host not in hosts:
            yield item.origin, f"host {item.host} is not declared under hosts:", (*item.origin.path, "host")


def _volume_references(desired: DesiredState) -> Iterator[Finding]:
    volumes = {v.name: v for v in desired.volumes}
    vgs = {g.name for g in desired.volume_groups}
    groups = {v.vg for v in desired.volumes if v.vg is not None}
    # When every group named is declared, only the snapshots need a look
    looked_at = desired.volumes if not groups <= vgs else [v for v in desired.volumes if v.snapshot_of is not None]
    for volume in looked_at:
        if volume.vg is not None and volume.vg not in vgs:
            yield volume.origin, f"volume group {volume.vg} is not declared", (*volume.origin.path, "lvm", "vg")
        if volume.snapshot_of is not None:
            source = volumes.get(volume.snapshot_of)
            at = (*volume.origin.path, "lvm", "snapshot_of")
            if volume.snapshot_of == volume.name:
                yield volume.origin, f"{volume.name} cannot be a snapshot of itself", at
            elif source is None:
                yield volume.origin, f"volume {volume.snapshot_of} is not declared", at
            elif source.kind is not VolumeKind.LVM:
                what = "a snapshot itself" if source.kind is VolumeKind.SNAPSHOT else f"a {source.kind.value} volume"
                yield volume.origin, f"{volume.snapshot_of} is {what}; snapshots are of LVM volumes", at
            elif source.vg != volume.vg:
                yield (
                    volume.origin,
                    f"{volume.snapshot_of} is in volume group {source.vg}; a snapshot must be in its origin's "
                    f"volume group, not {volume.vg}",
                    at,
                )


def _domain_references(desired: DesiredState) -> Iterator[Finding]:
    domains = {d.name for d in desired.domains}
    volumes = {v.name for v in desired.volumes}
    exports = {e.name for e in desired.nfs_exports}
    named = {disk.volume for domain in desired.domains for disk in domain.disks if disk.volume is not None}
    wanted = {domain.nfs_root for domain in desired.domains if domain.nfs_root is not None}
    lacking = not named <= volumes or not wanted <= exports  # else no disk or root needs a look
    for domain in desired.domains:
        if lacking:
            for i, disk in enumerate(domain.disks):
                if disk.volume is not None and disk.volume not in volumes:
                    yield (
                        domain.origin,
                        f"volume {disk.volume} is not declared",
                        (*domain.origin.path, "disks", i, "volume"),
                    )
            if domain.nfs_root is not None and domain.nfs_root not in exports:
                yield domain.origin, f"NFS export {domain.nfs_root} is not declared", (*domain.origin.path, "nfs_root")
        for i, other in enumerate(domain.depends_on):
            at = (*domain.origin.path, "depends_on", i)
            if other == domain.name:
                yield domain.origin, f"{domain.name} depends on itself", at
            elif other not in domains:
                yield domain.origin, f"domain {other} is not declared", at


def _autostart_references(desired: DesiredState) -> Iterator[Finding]:
    domains = {d.name for d in desired.domains}
    autostarted = {a.domain for a in desired.autostart}
    for entry in desired.autostart:
        if entry.domain not in domains:
            yield entry.origin, f"domain {entry.domain} is not declared", (*entry.origin.path, "domain")
        if temporary_file_name(entry.entry_name):
            field = "file" if entry.file else "domain"
            yield (
                entry.origin,
                f"{entry.entry_name!r} looks like an editor's or a package's passing file, which the auto "
                "directory passes over; give the entry another file name",
                (*entry.origin.path, field),
            )
        for i, other in enumerate(entry.after):
            at = (*entry.origin.path, "after", i)
            if other not in domains:
                yield entry.origin, f"domain {other} is not declared", at
            elif other not in autostarted:
                yield entry.origin, f"domain {other} has no autostart entry to start after", at


def nfs_server_domain(desired: DesiredState, domain: DomainSpec) -> str | None:
    """The declared domain that serves ``domain``'s NFS root, if one does."""
    if domain.nfs_root is None:
        return None
    export = desired.export(domain.nfs_root)
    if export is None:
        return None
    if desired.domain(export.server) is not None:
        return export.server
    return desired.domain_with_ip(export.server)


def dependency_edges(desired: DesiredState) -> dict[str, set[str]]:
    """Each domain's prerequisites: what it depends on, and the domain serving its NFS root."""
    edges: dict[str, set[str]] = {d.name: set() for d in desired.domains}
    for domain in desired.domains:
        if domain.depends_on:
            edges[domain.name].update(
                n for n in domain.depends_on if desired.domain(n) is not None and n != domain.name
            )
        server = nfs_server_domain(desired, domain)
        if server is not None and server != domain.name:
            edges[domain.name].add(server)
    return edges


def _cycles(desired: DesiredState) -> Iterator[Finding]:
    """One graph of what must come first: depends_on, NFS-root servers and autostart after."""
    needs = dependency_edges(desired)  # what must run while it runs
    edges = dict(needs)
    for domain in desired.domains:
        if domain.nfs_root is not None and nfs_server_domain(desired, domain) == domain.name:
            yield domain.origin, f"{domain.name} cannot serve its own NFS root", (*domain.origin.path, "nfs_root")
    for entry in desired.autostart:
        if entry.domain in entry.after:
            yield entry.origin, f"{entry.domain} cannot start after itself", (*entry.origin.path, "after")
        later = {n for n in entry.after if n in edges and n != entry.domain}
        edges[entry.domain] = edges.get(entry.domain, set()) | later
    yield from _cycle_in(edges, desired, "depends_on, NFS roots and autostart after")
    stopped = {d.name for d in desired.domains if d.state is DesiredPower.STOPPED}
    for domain in desired.domains if stopped else ():
        if domain.state is DesiredPower.STOPPED:
            continue
        for needed in sorted(needs.get(domain.name, set()) & stopped):
            yield domain.origin, f"{domain.name} needs {needed} running, but {needed} is declared stopped", None


def _cycle_in(edges: dict[str, set[str]], desired: DesiredState, what: str) -> Iterator[Finding]:
    if not any(edges.values()):
        return  # no edge, no cycle: specs without dependencies need no graph
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        first = desired.domain(min(cycle))
        if first is not None:
            yield first.origin, f"dependency cycle through {what}: {' -> '.join(cycle)}", None


def _domain_rules(desired: DesiredState) -> Iterator[Finding]:
    for domain in desired.domains:
        path = domain.origin.path
        if domain.hvm is not None:
            yield from _hvm_rules(domain)
        elif domain.kernel is None:
            if domain.bootloader is None:
                yield domain.origin, "a domain needs a kernel or a bootloader", None
        elif domain.bootloader is not None:
            yield domain.origin, "give a kernel or a bootloader, not both", (*path, "bootloader")
        if domain.maxmem is not None and domain.maxmem < domain.memory:
            yield domain.origin, f"maxmem {domain.maxmem}M is less than memory {domain.memory}M", (*path, "maxmem")
        if domain.maxvcpus is not None and domain.maxvcpus < domain.vcpus:
            yield domain.origin, f"maxvcpus {domain.maxvcpus} is less than vcpus {domain.vcpus}", (*path, "maxvcpus")
        disks = domain.disks
        if len(disks) > 1 and len({disk.vdev for disk in disks}) < len(disks):
            seen: set[str] = set()
            for i, disk in enumerate(disks):
                if disk.vdev in seen:
                    yield domain.origin, f"two disks are named {disk.vdev}", (*path, "disks", i, "vdev")
                seen.add(disk.vdev)


_PV_ONLY = ("kernel", "ramdisk", "bootloader", "root", "nfs_root")


def _hvm_rules(domain: DomainSpec) -> Iterator[Finding]:
    """A fully virtualised guest boots its disks through hvm.loader: no kernel of its own."""
    for name in _PV_ONLY:
        if getattr(domain, name) is not None:
            yield (
                domain.origin,
                f"an HVM guest boots its disks through hvm.loader; {name} is for paravirtualised guests",
                (*domain.origin.path, name),
            )


def _device_rules(desired: DesiredState) -> Iterator[Finding]:
    """Emulated network cards belong to HVM guests; a removable drive is read-only."""
    for domain in desired.domains:
        path = domain.origin.path
        for i, vif in enumerate(domain.vifs):
            if domain.hvm is None and (vif.type == "ioemu" or vif.model is not None):
                what = "type ioemu" if vif.type == "ioemu" else f"model {vif.model}"
                yield (
                    domain.origin,
                    f"{what} is an emulated card, which only an HVM guest (hvm:) has",
                    (*path, "vifs", i),
                )
            elif vif.model is not None and vif.type != "ioemu":
                yield domain.origin, "model names an emulated card: give type: ioemu too", (*path, "vifs", i, "model")
        for i, disk in enumerate(domain.disks):
            if disk.cdrom and disk.mode != "r":
                yield domain.origin, f"a cdrom is read-only; {disk.vdev} asks for {disk.mode}", (*path, "disks", i)


def _memory(desired: DesiredState, capacity: Capacity) -> Iterator[Finding]:
    running = [d for d in desired.domains if d.state is not DesiredPower.STOPPED]
    most = capacity.guest_memory - capacity.overhead
    for domain in running:
        if domain.memory > most:
            yield (
                domain.origin,
                f"memory {domain.memory}M is more than {capacity.source} can ever give a guest "
                f"({most}M: {capacity.guest_memory}M with Domain-0 at its minimum, less xend's "
                f"{capacity.overhead}M to build it)",
                (*domain.origin.path, "memory"),
            )
    total = sum(d.memory + capacity.overhead for d in running)
    if running and total > capacity.guest_memory and all(d.memory <= most for d in running):
        biggest = max(running, key=lambda d: d.memory)
        yield (
            biggest.origin,
            f"the running domains need {total}M together (with xend's {capacity.overhead}M each); "
            f"{capacity.source} can give its guests at most {capacity.guest_memory}M with Domain-0 at its minimum",
            None,
        )
