"""Planning again after an edit: the last plan's diff, with only what the edit touched diffed anew.

A plan of 10,000 domains reads every guest and compares every field. After one domain's memory
is edited in one of a hundred files, or one guest paused by hand, all but one of those
comparisons come out as they did. When the host changed only in some guests since the last plan
(the same change token, or the driver's journal naming the guests that changed since it), the
autostart entries are the same files, and the edit touched only domains and autostart entries,
the last diff stands for everything else:

- the edited files' models, before and after, name the domains and entries that changed (and an
  entry changes with its domain: it carries the domain's config), and the driver names the
  guests that changed on the host;
- those are diffed again (``diff(..., scope=...)``) against the part of the host that holds them
  (``Driver.snapshot_of``), and their changes take the place of the old ones;
- the plan is made as always, from the whole diff, the whole desired state and a part of the host
  holding every live object the plan's rules and checks look at for those changes.

The specs are checked as always, so every spec error is found as before; the files the basis
records with the same text are not read back unless the plan asks for one of their objects (the
state is a ``PartedDesired``: per-file indexes and sums answer the rest). Anything else (a
volume, group or export edited, a file added or removed, a group in the plan, a plan of many
changes) is planned in full. The result is the full plan's, change for change: the tests compare
the two over edits of every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from xenctl.engine.api import HostState, Selection
from xenctl.reconcile.changes import Change, Kind
from xenctl.reconcile.diff import Diff, DiffOptions, Scope, diff, disk_target
from xenctl.reconcile.plan import Plan, make_plan
from xenctl.spec.checks import Capacity
from xenctl.spec.load import Loaded
from xenctl.spec.model import AutostartSpec, DesiredState
from xenctl.spec.parted import FileRecord
from xenctl.xmconfig.auto import AutoDir, Listing

MAX_CHANGES = 1000  # a plan of more changes than this is made in full, and not kept as a basis


@dataclass(frozen=True)
class Basis:
    """What a plan leaves for the next one: the host and files it was made from, and its diff."""

    token: str
    entries: str  # the auto directory's stamp
    files: tuple[FileRecord, ...]  # each file's record: its cache entry names its real path and text
    diff: Diff
    capacity: Capacity  # the host's, which the specs were checked against


def records(models: Mapping[str, Loaded]) -> tuple[FileRecord, ...] | None:
    """What a basis keeps of the files a plan loaded (None when one is not known well enough)."""
    kept = tuple(FileRecord(f.real, f.entry, f.facts) for f in models.values() if f.facts and f.entry)
    return kept if len(kept) == len(models) else None


def edited(basis: Basis, models: Mapping[str, Loaded]) -> list[FileRecord] | None:
    """The files whose text changed since ``basis`` (as it knew them), or None when files came or
    went; ``models`` by real path."""
    if [f.path for f in basis.files] != list(models):
        return None
    return [f for f in basis.files if models[f.path].entry != f.entry]


def changed_objects(before: list[DesiredState], after: list[DesiredState]) -> Scope | None:
    """The domains and autostart entries that differ between the old and the new models of the
    edited files; None when anything else differs (a volume, a group, an export)."""
    for kind in ("volume_groups", "volumes", "nfs_exports"):
        if [getattr(m, kind) for m in before] != [getattr(m, kind) for m in after]:
            return None
    old = {d.name: d for m in before for d in m.domains}
    new = {d.name: d for m in after for d in m.domains}
    domains = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}

    def entries(models: list[DesiredState]) -> dict[str, tuple[AutostartSpec, str]]:
        # an entry's header names its spec file: one moved to another file is diffed again
        return {a.entry_name: (a, a.origin.file) for m in models for a in m.autostart}

    was, now = entries(before), entries(after)
    files = {name for name in was.keys() | now.keys() if was.get(name) != now.get(name)}
    return Scope(frozenset(domains), frozenset(files))


def _order(change: Change, declared: Collection[str]) -> tuple[bool, str]:
    """Where a domain's or an entry's change stands among its kind: the declared by name, then the rest."""
    return (change.name not in declared, change.name)


def merged(old: Diff, new: Diff, scope: Scope, desired: DesiredState) -> Diff:
    """The old diff with the changes of what ``scope`` names replaced by ``new``, in ``diff``'s order."""

    def kept(kind: Kind, names: frozenset[str]) -> list[Change]:
        return [c for c in old.changes if c.kind is kind and c.name not in names]

    def fresh(kind: Kind) -> list[Change]:
        return [c for c in new.changes if c.kind is kind]

    names = desired.domain_names()
    entries = desired.entry_names()
    domains = sorted([*kept(Kind.DOMAIN, scope.domains), *fresh(Kind.DOMAIN)], key=lambda c: _order(c, names))
    autostart = sorted([*kept(Kind.AUTOSTART, scope.entries), *fresh(Kind.AUTOSTART)], key=lambda c: _order(c, entries))
    rest = [c for c in old.changes if c.kind not in (Kind.DOMAIN, Kind.AUTOSTART)]
    touched = {(Kind.DOMAIN, n) for n in scope.domains} | {(Kind.AUTOSTART, n) for n in scope.entries}
    unmanaged = [u for u in old.unmanaged if (u.kind, u.name) not in touched] + list(new.unmanaged)
    return Diff(tuple(rest + domains + autostart), tuple(sorted(unmanaged, key=lambda u: (u.kind.value, u.name))))


def selection(changes: tuple[Change, ...], scope: Scope, desired: DesiredState, storage_root: str) -> Selection | None:
    """The part of the host a plan of ``changes`` looks at, or None when it would need the whole.

    The plan's rules add edges only between changes, and its checks look at the guests xenctl
    does not manage (always read), the domains that change and the devices they want, and the
    volumes that change, their snapshots and the guests that hold them (read by the driver).
    A volume group's removal looks at every volume in it: such a plan is made in full.
    """
    if any(c.kind is Kind.VOLUME_GROUP for c in changes):
        return None
    domains = set(scope.domains) | {c.name for c in changes if c.kind is Kind.DOMAIN}
    volumes = {c.name for c in changes if c.kind is Kind.VOLUME}
    paths = set()
    for name in domains:
        spec = desired.domain(name)
        for disk in spec.disks if spec else ():
            paths.add(disk_target(desired, storage_root, disk)[0])
    return Selection(frozenset(domains), frozenset(volumes), frozenset(paths))


def replan(
    basis: Basis,
    desired: DesiredState,
    models: Mapping[str, Loaded],
    earlier: Callable[[FileRecord], DesiredState | None],
    read: Callable[[Selection], tuple[str | None, HostState]],
    *,
    token: str,
    host_changed: frozenset[str] = frozenset(),
    options: DiffOptions,
    listing: Listing,
    auto: AutoDir,
    storage_root: str,
    target: str | None = None,
) -> tuple[Plan, Diff] | None:
    """The plan of ``desired`` made from ``basis``, and its diff; None when it must be made in full.

    ``models``: what ``desired`` was loaded from, by file (an edited file's model is read);
    ``earlier``: a file's model as the basis knew it (None if no longer kept);
    ``read``: the driver's ``snapshot_of``, whose token must still be ``token`` (the host's now);
    ``host_changed``: the guests that changed on the host since the basis's token;
    ``storage_root``: the host's (read with the token, before the specs were checked against it).
    """
    real = {found.real: found for found in models.values()}
    files = edited(basis, real)
    if files is None:
        return None
    before = [earlier(f) for f in files]
    if any(m is None for m in before):
        return None
    after = [real[f.path].model for f in files]
    if any(m is None for m in after):
        return None
    scope = changed_objects([m for m in before if m is not None], [m for m in after if m is not None])
    if scope is None:
        return None
    domains = scope.domains | host_changed
    also = desired.entry_names(domains)
    scope = Scope(domains, scope.entries | also)
    if len(scope.domains) + len(scope.entries) + len(basis.diff.changes) > MAX_CHANGES:
        return None
    # What the new diff can hold: the old one's changes, and changes of what the scope names.
    wanted = selection(basis.diff.changes, scope, desired, storage_root)
    if wanted is None:
        return None
    now, part = read(wanted)
    if now != token:
        return None
    whole = merged(basis.diff, diff(desired, part, options, listing, scope), scope, desired)
    return make_plan(whole, desired, part, target=target, auto=auto, values=False), whole
