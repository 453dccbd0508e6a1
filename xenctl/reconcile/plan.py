"""``make_plan``: the changes as a networkx graph of actions, checked before anything runs.

Edges mean "must finish before". They are added by a short list of small rules, each one
function (as Terraform's graph builder does), then the graph is checked:

- storage before the domains that use it; a volume group before its volumes; an origin before
  its snapshots; a domain before the NFS exports it serves;
- ``depends_on`` and NFS-root servers before their clients;
- deletes in reverse: a domain goes before the volumes it used are removed or replaced, a
  snapshot before its origin, volumes before their volume group, an export before its server;
- when the host is short of memory, every action that frees memory before any that takes it.

Checks: the graph is acyclic (the cycle is named); the running domains fit in memory with
Domain-0 ballooned to its minimum; their ``file:`` disks fit in the loop devices; no device is
held read-write by a declared domain and a hand-made one; new and grown volumes fit in their
volume groups. An infeasible plan is a PlanError naming the objects and the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from xenctl.engine.api import HostState, Phase
from xenctl.errors import PlanError
from xenctl.reconcile.attach import with_values
from xenctl.reconcile.capable import unsupported_steps
from xenctl.reconcile.changes import Action, Change, Kind, Unmanaged
from xenctl.reconcile.diff import Diff, disk_target
from xenctl.reconcile.names import capped, count, few, natural, of_domains, who
from xenctl.spec.checks import nfs_server_domain
from xenctl.spec.model import DesiredPower, DesiredState, DomainSpec, VolumeKind, VolumeSpec, volume_target
from xenctl.units import format_size
from xenctl.xmconfig.auto import AutoDir

_TAKES = (Action.CREATE, Action.START, Action.RESTART, Action.UPDATE, Action.RESUME)
_FREES = (Action.DELETE, Action.STOP, Action.RESTART, Action.UPDATE)
_GOES = (Action.DELETE, Action.REPLACE, Action.STOP, Action.RESTART, Action.START)


@dataclass(frozen=True)
class Plan:
    """A complete plan: the changes (each with the values apply uses), their order, and what was
    left alone; ``desired``, the specs it was made from (None for a plan read back from a file)."""

    changes: tuple[Change, ...]
    graph: nx.DiGraph
    unmanaged: tuple[Unmanaged, ...]
    desired: DesiredState | None
    storage_root: str = ""  # the host's, where its image files live
    auto: AutoDir | None = None  # where autostart entries are written; None: they are left out

    def change(self, address: str) -> Change:
        found: Change = self.graph.nodes[address]["change"]
        return found

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.RETAIN)

    def counts(self) -> dict[str, int]:
        names = {
            Action.CREATE: "create",
            Action.START: "create",
            Action.ADOPT: "update",
            Action.UPDATE: "update",
            Action.PAUSE: "update",
            Action.RESUME: "update",
            Action.STOP: "update",
            Action.RESTART: "restart",
            Action.REPLACE: "replace",
            Action.DELETE: "delete",
            Action.RETAIN: "retained",
        }
        counts = dict.fromkeys(("create", "update", "restart", "replace", "delete", "retained"), 0)
        for change in self.changes:
            counts[names[change.effect]] += 1
        return counts


def make_plan(
    result: Diff, desired: DesiredState, live: HostState, *, target: str | None = None, auto: AutoDir | None = None
) -> Plan:
    graph = nx.DiGraph()
    changes = with_values(list(result.changes), desired, live)
    for change in changes:
        graph.add_node(change.address, change=change)
    builder = _Edges(graph, desired, live)
    for rule in (
        builder.storage_before_users,
        builder.groups_before_volumes,
        builder.origins_before_snapshots,
        builder.dependencies_before_dependents,
        builder.servers_before_exports,
        builder.users_go_before_storage_goes,
        builder.old_holders_before_new,
        builder.memory_freed_before_taken,
    ):
        rule()
    if not nx.is_directed_acyclic_graph(graph):
        check_feasible(desired, live, changes)  # a volume replaced under a guest that keeps it: say so first
        cycle = nx.find_cycle(graph)  # only searched when there is one: it is slow on large graphs
        raise PlanError("the plan has a dependency cycle: " + " -> ".join([a for a, _b in cycle] + [cycle[0][0]]))
    if target is not None:
        keep = _target_closure(desired, graph, target)
        graph = graph.subgraph(keep).copy()
        changes = [c for c in changes if c.address in keep]
    if any(c.action is not Action.RETAIN for c in changes):
        # The checks ask whether the host can carry the plan out. A plan that only keeps volumes
        # back (or is empty) does nothing, so it cannot fail, and skipping them keeps a no-op plan
        # cheap on a large host. A conflict made by hand since (a w! holder of a device a managed
        # domain reads) is named by the first plan that changes something.
        check_feasible(desired, live, changes)
    return Plan(tuple(changes), graph, result.unmanaged, desired, live.host.storage_root, auto)


def _target_closure(desired: DesiredState, graph: nx.DiGraph, target: str) -> set[str]:
    """``target`` (a name or an address) and everything it depends on, in the specs and the plan."""
    wanted = {target} if "." in target else {f"{kind.value}.{target}" for kind in Kind}
    deps: dict[str, set[str]] = {}
    for domain in desired.domains:
        needs = {f"domain.{d}" for d in domain.depends_on}
        needs |= {f"volume.{d.volume}" for d in domain.disks if d.volume}
        if domain.nfs_root:
            needs.add(f"nfs_export.{domain.nfs_root}")
        deps[f"domain.{domain.name}"] = needs
    for volume in desired.volumes:
        deps[f"volume.{volume.name}"] = {f"volume_group.{volume.vg}"} if volume.vg else set()
        if volume.snapshot_of:
            deps[f"volume.{volume.name}"].add(f"volume.{volume.snapshot_of}")
    for entry in desired.autostart:
        deps[f"autostart.{entry.entry_name}"] = {f"domain.{entry.domain}"}
    names = {d.name for d in desired.domains}
    for export in desired.nfs_exports:
        deps[f"nfs_export.{export.name}"] = {f"domain.{export.server}"} if export.server in names else set()
    found = {w for w in wanted if w in deps or w in graph}
    if not found:
        raise PlanError(f"--target {target}: nothing of that name in the specs or the plan")
    keep: set[str] = set()
    todo = list(found)
    while todo:
        address = todo.pop()
        if address in keep:
            continue
        keep.add(address)
        todo.extend(deps.get(address, ()))
        if address in graph:
            todo.extend(nx.ancestors(graph, address))
    return {a for a in keep if a in graph}


class _Edges:
    def __init__(self, graph: nx.DiGraph, desired: DesiredState, live: HostState) -> None:
        self.graph = graph
        self.desired = desired
        self.live = live

    def edge(self, before: str, after: str) -> None:
        if before in self.graph and after in self.graph and before != after:
            self.graph.add_edge(before, after)

    def _changes(self, kind: Kind, actions: Iterable[Action]) -> list[Change]:
        wanted = set(actions)
        return [
            data["change"]
            for _n, data in self.graph.nodes(data=True)
            if data["change"].kind is kind and data["change"].effect in wanted
        ]

    # Each rule below adds the edges into a change of a declared object, so it looks at the
    # changes and their specs, not at every declared object: a plan of few changes stays cheap.

    def _domains(self, actions: Iterable[Action] = Action) -> list[tuple[str, DomainSpec]]:
        found = ((c.name, self.desired.domain(c.name)) for c in self._changes(Kind.DOMAIN, actions))
        return [(name, spec) for name, spec in found if spec is not None]

    def _volumes(self) -> list[tuple[str, VolumeSpec]]:
        found = ((c.name, self.desired.volume(c.name)) for c in self._changes(Kind.VOLUME, Action))
        return [(name, spec) for name, spec in found if spec is not None]

    def storage_before_users(self) -> None:
        """Not for a domain that only stops or pauses: it needs nothing made first."""
        for name, domain in self._domains(set(Action) - {Action.STOP, Action.PAUSE}):
            for disk in domain.disks:
                if disk.volume:
                    self.edge(f"volume.{disk.volume}", f"domain.{name}")
            if domain.nfs_root:
                self.edge(f"nfs_export.{domain.nfs_root}", f"domain.{name}")

    def groups_before_volumes(self) -> None:
        for name, volume in self._volumes():
            if volume.vg:
                self.edge(f"volume_group.{volume.vg}", f"volume.{name}")

    def origins_before_snapshots(self) -> None:
        for name, volume in self._volumes():
            if volume.snapshot_of:
                self.edge(f"volume.{volume.snapshot_of}", f"volume.{name}")

    def dependencies_before_dependents(self) -> None:
        for name, domain in self._domains():
            for other in domain.depends_on:
                self.edge(f"domain.{other}", f"domain.{name}")
            server = nfs_server_domain(self.desired, domain)
            if server:
                self.edge(f"domain.{server}", f"domain.{name}")

    def servers_before_exports(self) -> None:
        for name in [c.name for c in self._changes(Kind.NFS_EXPORT, Action)]:
            export = self.desired.export(name)
            if export is not None and self.desired.domain(export.server) is not None:
                self.edge(f"domain.{export.server}", f"nfs_export.{name}")

    def users_go_before_storage_goes(self) -> None:
        """A volume is removed or replaced only once the domains that held it have gone."""
        going = {c.name for c in self._changes(Kind.VOLUME, (Action.DELETE, Action.REPLACE))}
        paths = {}
        for lv in self.live.logical_volumes:
            if lv.name in going:
                paths[lv.path] = lv.name
            if lv.origin and lv.name in going:
                self.edge(f"volume.{lv.name}", f"volume.{lv.origin}")  # a snapshot before its origin
        for image in self.live.images:
            paths[image.path] = image.path.rsplit("/", 1)[-1]
        for domain in self.live.domains:
            for disk in domain.config.disks:
                name = paths.get(disk.target)
                if name:
                    self.edge(f"domain.{domain.name}", f"volume.{name}")
        for change in self._changes(Kind.VOLUME, (Action.DELETE,)):
            group = next((v.vg for v in self.live.logical_volumes if v.name == change.name), None)
            if group is not None:
                self.edge(f"volume.{change.name}", f"volume_group.{group}")
        for export in self.live.nfs_exports:
            if export.served_by_domain:
                self.edge(f"nfs_export.{export.address}", f"domain.{export.server}")
                for domain in self.live.domains:  # an export goes once no guest boots from it
                    if (domain.config.nfs_server, domain.config.nfs_root) == (export.server, export.path):
                        self.edge(f"domain.{domain.name}", f"nfs_export.{export.address}")

    def old_holders_before_new(self) -> None:
        """A device passes from a domain that goes to one that comes only once the first has gone."""
        going = {c.name for c in self._changes(Kind.DOMAIN, (Action.DELETE, Action.STOP, Action.RESTART))}
        coming = self._changes(Kind.DOMAIN, (Action.CREATE, Action.START, Action.RESTART, Action.UPDATE))
        wanted: dict[str, list[str]] = {}
        root = self.live.host.storage_root
        for change in coming:
            spec = self.desired.domain(change.name)
            for disk in spec.disks if spec else ():
                if not disk.empty:
                    wanted.setdefault(disk_target(self.desired, root, disk)[0], []).append(change.name)
        for domain in self.live.domains:
            if domain.name not in going:
                continue
            for attached in domain.config.disks:
                for taker in wanted.get(attached.target, []):
                    self.edge(f"domain.{domain.name}", f"domain.{taker}")

    def memory_freed_before_taken(self) -> None:
        """If the host cannot hold the new memory beside the old, what gives memory back goes first:
        domains deleted, stopped or restarted, and domains whose memory is set lower."""
        host = self.live.host
        floor = host.dom0_min_mem + host.snapshots * host.snapshot_memory
        balloon = max(0, host.dom0_memory - floor) if host.ballooning else 0
        room = host.free_memory + balloon
        takes: list[Change] = []
        frees = self._changes(Kind.DOMAIN, (Action.DELETE, Action.STOP, Action.RESTART))
        wanted = 0
        for change in self._changes(Kind.DOMAIN, (Action.CREATE, Action.START, Action.UPDATE)):
            spec = self.desired.domain(change.name)
            grows = sum(int(f.after) - int(f.before) for f in change.fields if f.name == "memory")  # type: ignore[call-overload]
            if change.effect is Action.UPDATE:
                if grows > 0:
                    takes.append(change)
                    wanted += grows
                elif grows < 0:
                    frees.append(change)
            else:
                takes.append(change)
                wanted += spec.memory if spec else 0
        if wanted <= room:
            return
        for freeing in frees:
            for taking in takes:
                if not nx.has_path(self.graph, taking.address, freeing.address):
                    self.edge(freeing.address, taking.address)


def check_feasible(desired: DesiredState, live: HostState, changes: list[Change]) -> None:
    """Refuse a plan the host could not carry out, naming the objects and the numbers."""
    problems = [
        *_memory(desired, live, changes),
        *_loops(desired, live),
        *_sharing(desired, live),
        *_devices(desired, live, changes),
        *_space(desired, live, changes),
        *_storage_in_use(live, changes),
        *_invalid_snapshots(desired, live, changes),
        *unsupported_steps(desired, live, changes),
    ]
    if problems:
        raise PlanError("the plan cannot be carried out:\n  " + "\n  ".join(capped(problems)))


def _devices(desired: DesiredState, live: HostState, changes: list[Change]) -> list[str]:
    """What xend checks when a domain is created: devices that exist, Domain-0's mounts, bridges."""
    starting = {
        c.name
        for c in changes
        if c.kind is Kind.DOMAIN and c.effect in (Action.CREATE, Action.START, Action.RESTART, Action.UPDATE)
    }
    partitions = {p.path: p for p in live.partitions}
    existing = set(partitions) | {lv.path for lv in live.logical_volumes} | {i.path for i in live.images}
    root = live.host.storage_root
    made: set[str] | None = None  # what the plan makes: looked at only for a device not on the host
    bridges: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    mounted: dict[tuple[str, str], list[str]] = {}
    for spec, targets in zip(desired.domains, desired.disk_targets(root), strict=True):
        if spec.name not in starting or spec.state is DesiredPower.STOPPED:
            continue
        for vif in spec.vifs:
            if vif.bridge not in live.host.bridges:
                bridges.setdefault(vif.bridge, []).append(spec.name)
        for disk, (target, backend) in zip(spec.disks, targets, strict=True):
            if backend in ("nbd", "empty"):
                continue  # a network block device, or an empty drive: nothing of this host's
            if target not in existing:
                if made is None:
                    made = _made(desired, root, changes)
                if target not in made:
                    missing.setdefault(target, []).append(spec.name)
            part = partitions.get(target)
            if part is not None and part.mounted and disk.mode != "w!" and (part.mounted == "rw" or disk.mode == "w"):
                mounted.setdefault((target, "read-write" if disk.mode == "w" else "read-only"), []).append(spec.name)
    problems = [
        f"bridges: {who(names)} bridge {bridge}; the host has {', '.join(live.host.bridges) or 'none'}"
        for bridge, names in sorted(bridges.items())
    ]
    declared = {volume_target(v, root)[0]: v.name for v in desired.volumes} if missing else {}
    problems += [
        f"devices: {who(names)} {target}, {_absent(declared.get(target))}" for target, names in missing.items()
    ]
    for (target, how), names in mounted.items():
        part = partitions[target]
        problems.append(
            f"devices: {target} is mounted {part.mounted} in Domain-0 (on {part.mountpoint}); "
            f"{few(names)} cannot have it {how}"
        )
    return problems


def _made(desired: DesiredState, root: str, changes: list[Change]) -> set[str]:
    """The devices the declared volumes will be: not those the plan retains as they are."""
    kept = {c.name for c in changes if c.kind is Kind.VOLUME and c.action is Action.RETAIN}
    return {
        volume_target(v, root)[0] for v in desired.volumes if v.kind is not VolumeKind.PARTITION and v.name not in kept
    }


def _absent(volume: str | None) -> str:
    if volume is None:
        return "which is not on this host"
    return f"which the plan does not make: volume.{volume} is retained as it is (--destroy-data replaces it)"


def _invalid_snapshots(desired: DesiredState, live: HostState, changes: list[Change]) -> list[str]:
    """No domain starts on a snapshot whose COW space filled, unless the plan makes it again."""
    remade = {c.name for c in changes if c.kind is Kind.VOLUME and c.action is Action.REPLACE}
    invalid = {lv.path: lv for lv in live.logical_volumes if lv.invalid and lv.name not in remade}
    if not invalid:
        return []
    starting = {
        c.name for c in changes if c.kind is Kind.DOMAIN and c.effect in (Action.CREATE, Action.START, Action.RESTART)
    }
    users: dict[str, list[str]] = {}
    for spec, targets in zip(desired.domains, desired.disk_targets(live.host.storage_root), strict=True):
        for target, _backend in targets if spec.name in starting else ():
            if target in invalid:
                users.setdefault(target, []).append(spec.name)
    return [
        f"snapshots: {who(names)} {path}, which is invalid: its copy-on-write space filled "
        f"({format_size(invalid[path].cow_size)}); make it again with --destroy-data (what it held is lost already)"
        for path, names in sorted(users.items())
    ]


def _storage_in_use(live: HostState, changes: list[Change]) -> list[str]:
    """A volume or VG is replaced or deleted only if nothing that stays still holds it."""
    stopping = {c.name for c in changes if c.kind is Kind.DOMAIN and c.action in (Action.DELETE, Action.STOP)}
    going = {c.name for c in changes if c.kind is Kind.VOLUME and c.action in (Action.DELETE, Action.REPLACE)}
    problems = []
    for lv in live.logical_volumes:
        if lv.name not in going:
            continue
        held = [h for h in lv.holders if h not in stopping]
        if held:
            problems.append(
                f"in use: volume {lv.name} is held by {few(held)}; stop "
                f"{'it' if len(held) == 1 else 'them'} first (state: stopped), then change the volume"
            )
        snapshots = [s.name for s in live.logical_volumes if s.origin == lv.name and s.vg == lv.vg]
        if [s for s in snapshots if s not in going]:
            problems.append(f"in use: volume {lv.name} is the origin of {few(snapshots)}; remove them first")
    for image in live.images:
        name = image.path.rsplit("/", 1)[-1]
        if name in going and [h for h in image.holders if h not in stopping]:
            problems.append(f"in use: image {image.path} is held by {few(image.holders)}; stop it first")
    for change in changes:
        if change.kind is Kind.VOLUME_GROUP and change.action in (Action.DELETE, Action.REPLACE):
            inside = [lv.name for lv in live.logical_volumes if lv.vg == change.name and lv.name not in going]
            if inside:
                problems.append(f"in use: volume group {change.name} holds {few(inside)}, which would be lost")
    return problems


def _memory(desired: DesiredState, live: HostState, changes: list[Change]) -> list[str]:
    """The running domains against what the host can give guests once the plan's snapshots are
    made and gone: each holds ``snapshot_memory`` of Domain-0, which it cannot give away."""
    declared = {d.name for d in desired.domains}
    kept = [d for d in live.domains if d.domid != 0 and d.name not in declared and d.owner is None]
    overhead = live.host.capabilities.domain_overhead
    running = [d for d in desired.domains if d.state is not DesiredPower.STOPPED]
    need = sum(d.memory + overhead for d in running)
    held = sum(d.memory for d in kept)
    host = live.host
    snapshots = host.snapshots + _snapshots_made(desired, live, changes)
    limit = host.guest_memory_max - (snapshots - host.snapshots) * host.snapshot_memory * host.ballooning
    if need + held <= limit:
        return []
    snapped = snapshots > 0 and host.snapshot_memory > 0 and host.ballooning
    largest = sorted(running, key=lambda d: (-d.memory, natural(d.name)))
    named = ", ".join(f"{d.name} {d.memory}M" for d in largest[:3])
    named = f"the largest {named} and {count(len(largest) - 3, 'other')}" if len(largest) > 3 else named
    others = f" beside {held}M of {count(len(kept), 'domain')} xenctl does not manage ({few(d.name for d in kept)})"
    return [
        f"memory: {count(len(running), 'declared domain')} ({named}) need {need}M{others if held else ''}; "
        f"the host can give guests at most {limit}M (Domain-0 at its minimum of {host.dom0_min_mem}M"
        + (f", and {snapshots * host.snapshot_memory}M for {count(snapshots, 'LVM snapshot')})" if snapped else ")")
    ]


def _snapshots_made(desired: DesiredState, live: HostState, changes: list[Change]) -> int:
    """Snapshots the plan makes, less those it removes."""
    live_snapshots = {lv.name for lv in live.logical_volumes if lv.is_snapshot}
    made = 0
    for change in changes:
        if change.kind is not Kind.VOLUME:
            continue
        spec = desired.volume(change.name)
        now, then = change.name in live_snapshots, spec is not None and spec.kind is VolumeKind.SNAPSHOT
        if change.action in (Action.CREATE, Action.REPLACE) and then and not now:
            made += 1
        elif change.action in (Action.DELETE, Action.REPLACE) and now and not then:
            made -= 1
    return made


def _loops(desired: DesiredState, live: HostState) -> list[str]:
    users = [
        d.name
        for d, targets in zip(desired.domains, desired.disk_targets(live.host.storage_root), strict=True)
        if d.state is not DesiredPower.STOPPED
        for _target, backend in targets
        if backend == "file"
    ]
    declared = {d.name for d in desired.domains}
    kept = sum(
        1 for d in live.domains if d.name not in declared and d.owner is None for k in d.config.disks if k.needs_loop
    )
    if len(users) + kept <= live.host.max_loop:
        return []
    return [
        f"loop devices: {count(len(users), 'file-backed disk')} ({of_domains(users)})"
        + (f" beside {kept:,} held by other domains" if kept else "")
        + f"; the host has {count(live.host.max_loop, 'loop device')} (max_loop)"
    ]


def _sharing(desired: DesiredState, live: HostState) -> list[str]:
    """Declared domains against the hand-made ones that hold devices now."""
    declared = {d.name for d in desired.domains}
    held: dict[str, list[tuple[str, str]]] = {}
    for domain in live.domains:
        if domain.name in declared or domain.owner is not None or domain.domid == 0:
            continue
        if domain.phase in (Phase.SHUTDOWN, Phase.CRASHED):
            continue
        for attached in domain.config.disks:
            held.setdefault(attached.target, []).append((domain.name, attached.mode.value))
    if not held:
        return []
    wanting: dict[tuple[str, str, str], list[str]] = {}
    for spec, targets in zip(desired.domains, desired.disk_targets(live.host.storage_root), strict=True):
        if spec.state is DesiredPower.STOPPED:
            continue
        for disk, (target, _backend) in zip(spec.disks, targets, strict=True):
            for other, mode in held.get(target, ()):
                if {mode, disk.mode} not in ({"r"}, {"w!"}):
                    wanting.setdefault((target, other, mode), []).append(f"{spec.name} ({disk.mode})")
    return [
        f"device sharing: {target} is held by {other} ({mode}), which xenctl does not manage, "
        f"and {few(names)} {'wants' if len(names) == 1 else f'({len(set(names)):,} domains) want'} it"
        for (target, other, mode), names in wanting.items()
    ]


def _space(desired: DesiredState, live: HostState, changes: list[Change]) -> list[str]:
    free = {vg.name: vg.free for vg in live.volume_groups}
    for group in desired.volume_groups:
        free.setdefault(group.name, _new_group_size(live, group.pvs))
    need: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for change in changes:
        if change.kind is not Kind.VOLUME or change.action not in (Action.CREATE, Action.UPDATE, Action.REPLACE):
            continue
        volume = desired.volume(change.name)
        if volume is None or volume.kind not in (VolumeKind.LVM, VolumeKind.SNAPSHOT) or not volume.vg:
            continue
        extent = live.host.capabilities.extent_size
        size = -(-(volume.size or 0) // extent) * extent
        if change.action is Action.UPDATE:
            size = sum(int(f.after) - int(f.before) for f in change.fields if f.name == "size")  # type: ignore[call-overload]
        need[volume.vg] = need.get(volume.vg, 0) + size
        names.setdefault(volume.vg, []).append(volume.name)
    return [
        f"space: volume group {vg} needs {size // (1024 * 1024)}M more for "
        f"{count(len(names[vg]), 'volume')} ({few(names[vg])}) and has {free.get(vg, 0) // (1024 * 1024)}M free"
        for vg, size in sorted(need.items())
        if size > free.get(vg, 0)
    ]


def _new_group_size(live: HostState, pvs: tuple[str, ...]) -> int:
    sizes = {p.path: p.size for p in live.partitions}
    caps = live.host.capabilities
    return sum(max(0, (sizes.get(pv, 0) - caps.pv_metadata) // caps.extent_size) * caps.extent_size for pv in pvs)
