"""A desired state of files read only as far as a plan asks: what a plan after an edit stands on.

A plan after one domain is edited in one of a hundred files looks at a few domains, their volumes
and entries, and at sums over the rest (running memory, disks that take a loop device). Reading
back the ninety-nine files nobody edited, 40,000 objects, cost more than the rest of that plan.
So the last plan's basis keeps, for each file, an index of it (``FileIndex``: its objects' names
and those sums) beside its structure's digest and its summary; a file whose text is the one the
basis knew is not read at all until something asks for one of its objects by name (its model is
read then, from the spec cache) or for a whole kind (every file holding that kind is read).

Only specs that passed every check come to this: ``load_specs`` reads everything, the usual way,
whenever a check must look at the whole.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Sequence
from functools import cached_property
from typing import Any, NamedTuple

from xenctl.spec.checks import Summary
from xenctl.spec.model import (
    AutostartSpec,
    DesiredPower,
    DesiredState,
    DomainSpec,
    NfsExportSpec,
    Target,
    VolumeGroupSpec,
    VolumeKind,
    VolumeSpec,
    image_path,
)


class FileIndex(NamedTuple):
    """What a plan may ask of one file without reading it: its objects' names, and its sums."""

    domains: tuple[str, ...]
    ips: tuple[tuple[str, str], ...]  # (address, domain) of its domains that have one
    volumes: tuple[str, ...]
    exports: tuple[str, ...]
    entries: tuple[tuple[str, str], ...]  # (entry file, domain) of its autostart entries
    groups: int  # how many volume groups it declares
    hosts: int  # and fleet hosts
    images: tuple[tuple[str, str], ...]  # its file-backed volumes (a disk naming one takes a loop device), and paths
    partitions: tuple[tuple[str, str], ...]  # its volumes that are whole partitions, and their devices
    snapshots: bool  # whether it declares an LVM snapshot
    # What its domains' disks name, devices (phy) and volumes, each between NULs: one string, which
    # a plan reads back in no time (a set of 30,000 names was half the basis's reading).
    refs: str
    file_refs: tuple[str, ...]  # and image files, as written
    file_disks: int  # disks of its running domains that name an image file by its path
    # and how many name each volume that may be a file-backed one (not one of its own of another kind)
    volume_disks: tuple[tuple[str, int], ...]


def index_of(model: DesiredState) -> FileIndex:
    stopped, file = DesiredPower.STOPPED, VolumeKind.FILE
    others = {v.name for v in model.volumes if v.kind is not file}
    named: dict[str, int] = {}
    for domain in model.domains:
        for disk in domain.disks if domain.state is not stopped else ():
            if disk.volume is not None and disk.phy is None and disk.volume not in others:
                named[disk.volume] = named.get(disk.volume, 0) + 1
    refs = {ref: None for d in model.domains for k in d.disks for ref in (k.phy, k.volume) if ref}  # a path has no NUL
    return FileIndex(
        domains=tuple(d.name for d in model.domains),
        ips=tuple((d.ip, d.name) for d in model.domains if d.ip),
        volumes=tuple(v.name for v in model.volumes),
        exports=tuple(e.name for e in model.nfs_exports),
        entries=tuple((a.entry_name, a.domain) for a in model.autostart),
        groups=len(model.volume_groups),
        hosts=len(model.hosts),
        images=tuple((v.name, v.path or "") for v in model.volumes if v.kind is file),
        partitions=tuple((v.name, v.path or "") for v in model.volumes if v.kind is VolumeKind.PARTITION),
        snapshots=any(v.kind is VolumeKind.SNAPSHOT for v in model.volumes),
        refs="\0" + "\0".join(refs) + "\0",
        file_refs=tuple({k.file: None for d in model.domains for k in d.disks if k.file is not None}),
        file_disks=sum(1 for d in model.domains if d.state is not stopped for k in d.disks if k.file is not None),
        volume_disks=tuple(sorted(named.items())),
    )


class Facts(NamedTuple):
    """What the checks across files and a later plan need of one file: worked out once, when its
    model is built, and kept beside it in the spec cache and in a plan's basis."""

    structure: str  # its structure's digest (``cache.structure``)
    summary: Summary
    contents: FileIndex


class FileRecord(NamedTuple):
    """One spec file as a plan's basis keeps it."""

    path: str  # its real path: a plan of ``specs`` is the basis of one of ``/abs/specs``
    entry: str  # where its model is cached (``SpecCache.entry``: its real path, text and xenctl)
    facts: Facts


class Part:
    """One file of a ``PartedDesired``: its model once read, its index and summary either way."""

    __slots__ = ("index", "model", "read", "summary")

    def __init__(self, facts: Facts, model: DesiredState | None, read: Callable[[], DesiredState]) -> None:
        self.index = facts.contents
        self.summary = facts.summary
        self.model = model
        self.read = read  # its model, from the spec cache (or its text, built again)

    def whole(self) -> DesiredState:
        if self.model is None:
            self.model = self.read()
        return self.model


def merge(parts: Sequence[DesiredState], files: tuple[str, ...]) -> DesiredState:
    """One desired state from several files' (duplicates are left for the checks to name)."""
    return DesiredState(
        domains=gather(parts, "domains", "name"),
        volume_groups=gather(parts, "volume_groups", "name"),
        volumes=gather(parts, "volumes", "name"),
        nfs_exports=gather(parts, "nfs_exports", "name"),
        autostart=gather(parts, "autostart", "domain"),
        files=files,
        hosts=gather(parts, "hosts", "name"),
    )


def gather(parts: Sequence[DesiredState], attr: str, key: str) -> tuple[Any, ...]:
    """One kind of object (``attr``) of several files', sorted by ``key``."""
    items = [item for part in parts for item in getattr(part, attr)]
    keyed = operator.attrgetter(key)
    items.sort(key=keyed)
    names = list(map(keyed, items))
    # Where names repeat (the checks name the duplicates), the origins order them; specs
    # without duplicates, the usual case, are sorted by name alone, in a third of the time.
    if any(map(operator.eq, names, names[1:])):
        items.sort(key=operator.attrgetter(key, "origin.file", "origin.path"))
    return tuple(items)


class PartedDesired(DesiredState):
    """The desired state of files some of which are read only when asked for.

    Every question ``DesiredState`` answers has the same answer here: an object by name reads the
    one file that declares it, a kind as a whole (``domains``, ``volumes``, ...) reads the files
    that hold any, gathered as ``merge`` gathers it; the counts and sums below read nothing.
    """

    def __init__(self, parts: Sequence[Part], files: tuple[str, ...]) -> None:
        # not the dataclass's: the fields are worked out when asked for
        self.__dict__.update(_parts=tuple(parts), files=files)

    _parts: tuple[Part, ...]

    def _kind(self, attr: str, key: str, has: Callable[[FileIndex], object]) -> tuple[Any, ...]:
        return gather([p.whole() for p in self._parts if has(p.index)], attr, key)

    @cached_property
    def domains(self) -> tuple[DomainSpec, ...]:
        return self._kind("domains", "name", lambda i: i.domains)

    @cached_property
    def volumes(self) -> tuple[VolumeSpec, ...]:
        return self._kind("volumes", "name", lambda i: i.volumes)

    @cached_property
    def volume_groups(self) -> tuple[VolumeGroupSpec, ...]:
        return self._kind("volume_groups", "name", lambda i: i.groups)

    @cached_property
    def nfs_exports(self) -> tuple[NfsExportSpec, ...]:
        return self._kind("nfs_exports", "name", lambda i: i.exports)

    @cached_property
    def autostart(self) -> tuple[AutostartSpec, ...]:
        return self._kind("autostart", "domain", lambda i: i.entries)

    @cached_property
    def hosts(self) -> tuple[Any, ...]:
        return self._kind("hosts", "name", lambda i: i.hosts)

    def _where(self, names: Callable[[FileIndex], Sequence[Any]]) -> dict[Any, Part]:
        """Each name's file: the first that declares it (the checks passed: there is one)."""
        found: dict[Any, Part] = {}
        for part in reversed(self._parts):
            found.update(dict.fromkeys(names(part.index), part))
        return found

    @cached_property
    def _domain_files(self) -> dict[str, Part]:
        return self._where(lambda i: i.domains)

    @cached_property
    def _volume_files(self) -> dict[str, Part]:
        return self._where(lambda i: i.volumes)

    @cached_property
    def _export_files(self) -> dict[str, Part]:
        return self._where(lambda i: i.exports)

    @cached_property
    def _entry_files(self) -> dict[str, Part]:
        return self._where(lambda i: [file for file, _domain in i.entries])

    @cached_property
    def _domains_by_ip(self) -> dict[str, str]:
        # As the merged state finds it: of the domains with one address (the checks allow it),
        # the first in name order.
        found: dict[str, str] = {}
        for part in self._parts:
            for ip, name in part.index.ips:
                if ip not in found or name < found[ip]:
                    found[ip] = name
        return found

    def domain(self, name: str) -> DomainSpec | None:
        part = self._domain_files.get(name)
        return None if part is None else part.whole().domain(name)

    def volume(self, name: str) -> VolumeSpec | None:
        part = self._volume_files.get(name)
        return None if part is None else part.whole().volume(name)

    def export(self, name: str) -> NfsExportSpec | None:
        part = self._export_files.get(name)
        return None if part is None else part.whole().export(name)

    def entry(self, file: str) -> AutostartSpec | None:
        part = self._entry_files.get(file)
        return None if part is None else part.whole().entry(file)

    def domain_names(self) -> Collection[str]:
        return self._domain_files.keys()

    def domain_count(self) -> int:
        return sum(len(p.index.domains) for p in self._parts)

    def entry_names(self, domains: Collection[str] | None = None) -> set[str]:
        return {file for p in self._parts for file, domain in p.index.entries if domains is None or domain in domains}

    def declares_snapshots(self) -> bool:
        return any(p.index.snapshots for p in self._parts)

    def running_memory(self) -> tuple[int, int]:
        return sum(p.summary.running for p in self._parts), sum(p.summary.memory for p in self._parts)

    def file_disk_count(self) -> int:
        images = {name for p in self._parts for name, _path in p.index.images}
        named = sum(count for p in self._parts for name, count in p.index.volume_disks if name in images)
        return sum(p.index.file_disks for p in self._parts) + named

    def disks_on(self, targets: Collection[str], storage_root: str) -> list[tuple[DomainSpec, tuple[Target, ...]]]:
        # Read: the files whose domains name one of the targets, or a volume that may be one
        # (a logical volume's device ends in its name; image files and partitions are indexed).
        wanted = {target.rsplit("/", 1)[-1] for target in targets} | set(targets)
        for index in (p.index for p in self._parts):
            wanted.update(name for name, path in index.partitions if path in targets)
            wanted.update(name for name, path in index.images if image_path(storage_root, path) in targets)
        parts = [
            p
            for p in self._parts
            if any(f"\0{name}\0" in p.index.refs for name in wanted)
            or any(image_path(storage_root, path) in targets for path in p.index.file_refs)
        ]
        rows = [(d, self.disk_targets_of(d, storage_root)) for p in parts for d in p.whole().domains]
        found = [(d, row) for d, row in rows if any(target in targets for target, _backend in row)]
        return sorted(found, key=lambda found: found[0].name)
