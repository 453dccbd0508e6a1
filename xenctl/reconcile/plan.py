"""``make_plan``: the changes as a networkx graph of actions, checked before anything runs.

Edges mean "must finish before". They are added by a short list of small rules, each one
function (as Terraform's graph builder does), then the graph is checked:

- storage before the domains that use it; a volume group before its volumes; an origin before
  its snapshots; a domain before the NFS exports it serves;
- ``depends_on`` and NFS-root servers before their clients;
- deletes in reverse: a domain goes before the volumes it used are removed or replaced, a
  snapshot before its origin, volumes before their volume group, an export before its server;
- when the host is short of memory, every action that frees memory before any that takes it.

Checks: the graph is acyclic (the cycle is named), and the host can carry the plan out (see
``feasible``). An infeasible plan is a PlanError naming the objects and the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from xenctl.engine.api import HostState
from xenctl.errors import PlanError
from xenctl.reconcile.attach import with_values
from xenctl.reconcile.changes import Action, Change, Kind, Unmanaged
from xenctl.reconcile.dag import Dag
from xenctl.reconcile.diff import Diff, disk_target
from xenctl.reconcile.feasible import check_feasible
from xenctl.spec.checks import nfs_server_domain
from xenctl.spec.model import DesiredState, DomainSpec, VolumeSpec
from xenctl.xmconfig.auto import AutoDir

if TYPE_CHECKING:
    import networkx as nx

Edges = Iterator[tuple[str, str]]  # what a rule yields: (before, after), "must finish before"


@dataclass(frozen=True)
class Plan:
    """A complete plan: the changes (each with the values apply uses), their order (``edges``:
    "must finish before", in the order the rules added them), and what was left alone;
    ``desired``, the specs it was made from (None for a plan read back from a file)."""

    changes: tuple[Change, ...]
    edges: tuple[tuple[str, str], ...]
    unmanaged: tuple[Unmanaged, ...]
    desired: DesiredState | None
    storage_root: str = ""  # the host's, where its image files live
    auto: AutoDir | None = None  # where autostart entries are written; None: they are left out

    @cached_property
    def _by_address(self) -> dict[str, Change]:
        return {change.address: change for change in self.changes}

    def change(self, address: str) -> Change:
        return self._by_address[address]

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The plan as networkx's graph: a node per change (its ``change`` attribute), the edges.
        Made when first asked for: a plan that is only shown never imports networkx."""
        import networkx as nx

        graph = nx.DiGraph()
        for change in self.changes:
            graph.add_node(change.address, change=change)
        graph.add_edges_from(self.edges)
        return graph

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
        adopt = Action.ADOPT
        for change in self.changes:  # the effect is the action but for an adoption
            counts[names[change.action if change.action is not adopt else change.effect]] += 1
        return counts


def make_plan(
    result: Diff,
    desired: DesiredState,
    live: HostState,
    *,
    target: str | None = None,
    auto: AutoDir | None = None,
    values: bool = True,
) -> Plan:
    """The plan of ``result``. Without ``values`` the changes carry none (a plan only shown,
    never applied or saved: a cold plan of 40,000 creates saves a third of a second); apply
    refuses a change without its values."""
    changes = with_values(list(result.changes), desired, live) if values else list(result.changes)
    graph = _ordered(changes, desired, live)
    if not graph.is_acyclic():
        check_feasible(desired, live, changes)  # a volume replaced under a guest that keeps it: say so first
        raise PlanError("the plan has a dependency cycle: " + _cycle(changes, graph))
    if target is not None:
        keep = _target_closure(desired, graph, target)
        graph = graph.subgraph(keep)
        changes = [c for c in changes if c.address in keep]
    edges = graph.edges()
    del graph  # the plan keeps its edges alone: the graph is let go before the checks
    if any(c.action is not Action.RETAIN for c in changes):
        # The checks ask whether the host can carry the plan out. A plan that only keeps volumes
        # back (or is empty) does nothing, so it cannot fail, and skipping them keeps a no-op plan
        # cheap on a large host. A conflict made by hand since (a w! holder of a device a managed
        # domain reads) is named by the first plan that changes something.
        check_feasible(desired, live, changes)
    return Plan(tuple(changes), edges, result.unmanaged, desired, live.host.storage_root, auto)


def _ordered(changes: list[Change], desired: DesiredState, live: HostState) -> Dag:
    """The changes, with the edges of every rule (what the rules looked at is let go on return,
    before the checks)."""
    graph = Dag(change.address for change in changes)
    builder = _Edges(graph, changes, desired, live)
    for rule in (
        builder.storage_before_users,
        builder.groups_before_volumes,
        builder.origins_before_snapshots,
        builder.dependencies_before_dependents,
        builder.servers_before_exports,
        builder.domains_before_their_entries,
        builder.users_go_before_storage_goes,
        builder.old_holders_before_new,
        builder.memory_freed_before_taken,
    ):
        graph.add_edges(rule())
    return graph


def _cycle(changes: list[Change], graph: Dag) -> str:
    """The cycle, as networkx finds it (only looked for when there is one: it is slow on large graphs)."""
    import networkx as nx

    cycle = nx.find_cycle(Plan(tuple(changes), graph.edges(), (), None).graph)
    return " -> ".join([a for a, _b in cycle] + [cycle[0][0]])


def _target_closure(desired: DesiredState, graph: Dag, target: str) -> set[str]:
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
            todo.extend(graph.ancestors(address))
    return {a for a in keep if a in graph}


class _Edges:
    """The rules: each yields its edges, which ``Dag.add_edges`` adds as they come (a cold plan
    of 40,000 creates has 60,000 of them, never held in a list of their own)."""

    def __init__(self, graph: Dag, changes: list[Change], desired: DesiredState, live: HostState) -> None:
        self.graph = graph
        self.desired = desired
        self.live = live
        self.by_kind: dict[Kind, list[Change]] = {}
        for change in changes:
            self.by_kind.setdefault(change.kind, []).append(change)

    def _changes(self, kind: Kind, actions: Iterable[Action]) -> list[Change]:
        wanted, adopt = set(actions), Action.ADOPT
        # A change's effect is its action but for an adoption: the property is asked only then
        # (the rules filter 40,000 changes a dozen times in a cold plan).
        return [c for c in self.by_kind.get(kind, ()) if (c.action if c.action is not adopt else c.effect) in wanted]

    # Each rule below adds the edges into a change of a declared object, so it looks at the
    # changes and their specs, not at every declared object: a plan of few changes stays cheap.

    def _domains(self, actions: Iterable[Action] = Action) -> Iterator[tuple[str, DomainSpec]]:
        for change in self._changes(Kind.DOMAIN, actions):
            spec = self.desired.domain(change.name)
            if spec is not None:
                yield change.name, spec

    def _volumes(self) -> Iterator[tuple[str, VolumeSpec]]:
        for change in self._changes(Kind.VOLUME, Action):
            spec = self.desired.volume(change.name)
            if spec is not None:
                yield change.name, spec

    def storage_before_users(self) -> Edges:
        """Not for a domain that only stops or pauses: it needs nothing made first."""
        for name, domain in self._domains(set(Action) - {Action.STOP, Action.PAUSE}):
            user = f"domain.{name}"
            for disk in domain.disks:
                if disk.volume:
                    yield f"volume.{disk.volume}", user
            if domain.nfs_root:
                yield f"nfs_export.{domain.nfs_root}", user

    def groups_before_volumes(self) -> Edges:
        for name, volume in self._volumes():
            if volume.vg:
                yield f"volume_group.{volume.vg}", f"volume.{name}"

    def origins_before_snapshots(self) -> Edges:
        for name, volume in self._volumes():
            if volume.snapshot_of:
                yield f"volume.{volume.snapshot_of}", f"volume.{name}"

    def dependencies_before_dependents(self) -> Edges:
        for name, domain in self._domains():
            for other in domain.depends_on:
                yield f"domain.{other}", f"domain.{name}"
            server = nfs_server_domain(self.desired, domain)
            if server:
                yield f"domain.{server}", f"domain.{name}"

    def domains_before_their_entries(self) -> Edges:
        """An autostart entry is written once its domain is made: on a libvirt host the entry
        sets libvirt's autostart flag, which only a defined domain can carry."""
        made = {c.name for c in self._changes(Kind.DOMAIN, (Action.CREATE, Action.REPLACE, Action.ADOPT))}
        for change in self._changes(Kind.AUTOSTART, (Action.CREATE, Action.UPDATE)):
            entry = self.desired.entry(change.name)
            if entry is not None and entry.domain in made:
                yield f"domain.{entry.domain}", f"autostart.{change.name}"

    def servers_before_exports(self) -> Edges:
        for name in [c.name for c in self._changes(Kind.NFS_EXPORT, Action)]:
            export = self.desired.export(name)
            if export is not None and self.desired.domain(export.server) is not None:
                yield f"domain.{export.server}", f"nfs_export.{name}"

    def users_go_before_storage_goes(self) -> Edges:
        """A volume is removed or replaced only once the domains that held it have gone."""
        going = {c.name for c in self._changes(Kind.VOLUME, (Action.DELETE, Action.REPLACE))}
        paths = {}
        for lv in self.live.logical_volumes:
            if lv.name in going:
                paths[lv.path] = lv.name
            if lv.origin and lv.name in going:
                yield f"volume.{lv.name}", f"volume.{lv.origin}"  # a snapshot before its origin
        for image in self.live.images:
            paths[image.path] = image.path.rsplit("/", 1)[-1]
        for domain in self.live.domains:
            for disk in domain.config.disks:
                name = paths.get(disk.target)
                if name:
                    yield f"domain.{domain.name}", f"volume.{name}"
        for change in self._changes(Kind.VOLUME, (Action.DELETE,)):
            group = next((v.vg for v in self.live.logical_volumes if v.name == change.name), None)
            if group is not None:
                yield f"volume.{change.name}", f"volume_group.{group}"
        for export in self.live.nfs_exports:
            if export.served_by_domain:
                yield f"nfs_export.{export.address}", f"domain.{export.server}"
                for domain in self.live.domains:  # an export goes once no guest boots from it
                    if (domain.config.nfs_server, domain.config.nfs_root) == (export.server, export.path):
                        yield f"domain.{domain.name}", f"nfs_export.{export.address}"

    def old_holders_before_new(self) -> Edges:
        """A device passes from a domain that goes to one that comes only once the first has gone."""
        going = {c.name for c in self._changes(Kind.DOMAIN, (Action.DELETE, Action.STOP, Action.RESTART))}
        if not going:
            return  # nothing passes on: a cold plan need not work out every new domain's devices
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
                    yield f"domain.{domain.name}", f"domain.{taker}"

    def memory_freed_before_taken(self) -> Edges:
        """If the host cannot hold the new memory beside the old, what gives memory back goes first:
        domains deleted, stopped or restarted, and domains whose memory is set lower. (Each edge
        is in the graph before the next path is looked for.)"""
        host = self.live.host
        room = host.free_memory + host.dom0_can_give
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
                if not self.graph.has_path(taking.address, freeing.address):
                    yield freeing.address, taking.address
