"""Applying a fleet's plan: the migrations first, then every host at once, each under its own lock
(and, with a coordinator, its lease), each host's plan made again under that lock.

A failure stays where it happened: a host that fails does not stop the others; a domain whose
dependency on another host failed is not created (one that already runs is left as it is), and
everything else on its host goes ahead. A host waits for the hosts its domains depend on.
"""

from __future__ import annotations

import graphlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from xenctl.errors import PlanError, XenctlError
from xenctl.fleet import layout
from xenctl.fleet.plan import FleetPlan, Move, fleet_plan, with_moves

if TYPE_CHECKING:
    from xenctl.app.apply import ApplyHooks, ApplyReport
    from xenctl.app.migrate import MigrationReport
    from xenctl.app.options import PlanOptions, RunOptions
    from xenctl.fleet.coordinate import Coordinator
    from xenctl.fleet.members import Member
    from xenctl.spec.model import DesiredState


@dataclass
class FleetReport:
    """What a fleet apply did: the plan, each migration, and each host's apply or why it had none."""

    plan: FleetPlan
    migrations: list[tuple[Move, MigrationReport | None, str | None]] = field(default_factory=list)
    hosts: dict[str, ApplyReport] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # host -> the error that stopped it
    held_back: dict[str, list[str]] = field(default_factory=dict)  # host -> domains not made: a dependency failed
    settled: list[str] = field(default_factory=list)  # migrations cut short, finished or rolled back first

    @property
    def ok(self) -> bool:
        if self.errors or any(error for _m, _r, error in self.migrations):
            return False
        return all(r.result is None or r.result.ok for r in self.hosts.values())


@dataclass(frozen=True)
class FleetRun:
    """How a fleet apply runs: each host's run options, the coordinator, who is acting, and the
    progress hooks of each host."""

    run: RunOptions
    coordinator: Coordinator
    holder: str
    command: str
    hooks: Callable[[str], ApplyHooks]
    lease_wait: float = 0.0


def fleet_apply(
    desired: DesiredState,
    members: Mapping[str, Member],
    options: PlanOptions,
    how: FleetRun,
    *,
    confirm: Callable[[FleetPlan], None] | None = None,
) -> FleetReport:
    """Plan the fleet, confirm, migrate, then apply every host in parallel."""
    from xenctl.fleet.members import refresh

    settled = _settle_cut_short(members, how)
    if settled:
        refresh(dict(members))
    plan = fleet_plan(desired, members, options)
    if plan.problems:
        raise PlanError("; ".join(plan.problems) if len(plan.problems) < 3 else "\n".join(plan.problems))
    if confirm is not None:
        confirm(plan)
    report = FleetReport(plan, settled=settled)
    if not plan.actionable:
        return report
    failed_moves = []
    for move in _in_dependency_order(plan.moves, desired):
        result, error = _migrate(move, members, how)
        report.migrations.append((move, result, error))
        if error is not None:
            failed_moves.append(move)
    if plan.moves:
        refresh(dict(members))
    share = layout.split(desired, plan.placements, [m.spec for m in members.values()])
    # A domain whose migration failed stays declared on its source and off its target.
    parts = with_moves(share.desired, desired, failed_moves)
    _apply_hosts(desired, members, parts, options, how, report)
    return report


def _settle_cut_short(members: Mapping[str, Member], how: FleetRun) -> list[str]:
    """Finish or roll back every migration a killed command left between hosts, before planning:
    the guest then runs on exactly one host, and the plan sees it there."""
    from xenctl.app.migrate import settle_migrations

    said: list[str] = []
    for name, member in members.items():
        if member.host.is_simulated and member.host.sim().migrations():
            said += [f"{name}: {line}" for line in settle_migrations(member.host, command=how.command)]
    return said


def _migrate(move: Move, members: Mapping[str, Member], how: FleetRun) -> tuple[MigrationReport | None, str | None]:
    from xenctl.app.migrate import migrate

    first, second = sorted((move.source, move.target))
    try:
        with (
            how.coordinator.hold(first, how.holder, wait=how.lease_wait),
            how.coordinator.hold(second, how.holder, wait=how.lease_wait),
        ):
            source, target = members[move.source], members[move.target]
            return migrate(source.host, target.host, move.domain, live=move.live), None
    except XenctlError as exc:
        return None, str(exc)


def _in_dependency_order(moves: tuple[Move, ...], desired: DesiredState) -> list[Move]:
    """Migrations with each domain's dependencies moved before it."""
    from xenctl.spec.checks import dependency_edges

    if len(moves) < 2:
        return list(moves)
    edges = dependency_edges(desired)
    by_name = {m.domain: m for m in moves}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in by_name:
        sorter.add(name, *(d for d in edges.get(name, ()) if d in by_name))
    try:
        return [by_name[name] for name in sorter.static_order()]
    except graphlib.CycleError:
        return list(moves)


def _apply_hosts(
    desired: DesiredState,
    members: Mapping[str, Member],
    parts: dict[str, DesiredState],
    options: PlanOptions,
    how: FleetRun,
    report: FleetReport,
) -> None:
    from xenctl.spec.checks import dependency_edges

    edges = dependency_edges(desired)
    home = {d.name: name for name, part in parts.items() for d in part.domains}
    waits = _host_waits(
        {
            name: {home[dep] for d in part.domains for dep in edges.get(d.name, ()) if home.get(dep, name) != name}
            for name, part in parts.items()
        }
    )
    done = {name: threading.Event() for name in parts}
    failed: set[str] = set()
    lock = threading.Lock()

    def one(name: str) -> None:
        try:
            for other in sorted(waits[name]):
                done[other].wait()
            with lock:
                part, held = _without_failed(parts[name], members[name], edges, failed)
            if held:
                report.held_back[name] = held
            result = _apply_one(members[name], part, options, how)
            report.hosts[name] = result
            if result.result is not None:
                with lock:
                    failed.update(
                        o.address.removeprefix("domain.")
                        for o in result.result.outcomes.values()
                        if not o.ok and o.address.startswith("domain.")
                    )
        except XenctlError as exc:
            report.errors[name] = str(exc)
            with lock:
                failed.update(d.name for d in parts[name].domains)
        finally:
            done[name].set()

    threads = [threading.Thread(target=one, args=(name,), name=f"fleet-{name}") for name in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _host_waits(waits: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which hosts each host waits for: those its domains depend on, less any that wait on it in
    turn, however long the ring (hosts in one ring apply together, none waiting)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(waits)
    graph.add_edges_from((host, other) for host, others in waits.items() for other in others)
    ring = {host: n for n, members in enumerate(nx.strongly_connected_components(graph)) for host in members}
    return {host: {other for other in others if ring[other] != ring[host]} for host, others in waits.items()}


def _without_failed(
    part: DesiredState, member: Member, edges: Mapping[str, set[str]], failed: set[str]
) -> tuple[DesiredState, list[str]]:
    """The share less the domains not running yet whose dependency failed elsewhere."""
    held = [
        d.name
        for d in part.domains
        if member.live.domain(d.name) is None and any(dep in failed for dep in edges.get(d.name, ()))
    ]
    if not held:
        return part, []
    return (
        replace(
            part,
            domains=tuple(d for d in part.domains if d.name not in held),
            autostart=tuple(a for a in part.autostart if a.domain not in held),
        ),
        held,
    )


def _apply_one(member: Member, part: DesiredState, options: PlanOptions, how: FleetRun) -> ApplyReport:
    from xenctl.app.apply import reconcile
    from xenctl.fleet.plan import host_plan

    auto = member.host.autostart
    with how.coordinator.hold(member.name, how.holder, wait=how.lease_wait):
        return reconcile(
            member.host,
            lambda live: host_plan(live, part, options, auto),
            command=how.command,
            run=how.run,
            hooks=how.hooks(member.name),
        )
