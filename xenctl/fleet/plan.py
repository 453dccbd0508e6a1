"""The plan of a fleet: where each domain goes and why, the migrations that takes, and each host's
own plan, in its own section.

``fleet_plan`` reads nothing itself: it takes the fleet's members as read (``members.opened``),
asks placement where the specs' domains go, plans each migration (live when the guest can move
live; a move that cannot be made is a problem, said with its reason, never a silent re-creation),
and makes each host's plan with the single host's planner, over the host's share of the specs. A
domain about to migrate stays in its source's share and out of its target's, so neither host's
plan creates or deletes it: the migration moves it, and the host plans made after it see it there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xenctl.errors import PlanError
from xenctl.fleet import layout
from xenctl.fleet.placement import Placement, place

if TYPE_CHECKING:
    from xenctl.app.options import PlanOptions
    from xenctl.engine.api import HostState
    from xenctl.fleet.members import Member
    from xenctl.reconcile.plan import Plan
    from xenctl.spec.model import DesiredState
    from xenctl.xmconfig.auto import AutoDir

FLEET_FORMAT = 1


@dataclass(frozen=True)
class Move:
    """A domain to migrate: from where it runs to where placement puts it."""

    domain: str
    source: str
    target: str
    live: bool
    why: str  # the placement's reason

    def describe(self) -> str:
        how = "live" if self.live else "offline"
        return f"{self.domain}: {self.source} -> {self.target}, {how} ({self.why})"


@dataclass(frozen=True)
class FleetPlan:
    """Placements (in the specs' order), migrations, each host's plan, and the problems that
    stop an apply (a domain no host can take, a move that cannot be made, storage with no host)."""

    placements: tuple[Placement, ...]
    moves: tuple[Move, ...]
    plans: dict[str, Plan]
    urls: dict[str, str]
    stays: frozenset[str]  # domains that stay where they run
    problems: tuple[str, ...] = ()

    @property
    def actionable(self) -> bool:
        return bool(self.moves) or any(p.actionable for p in self.plans.values())


Refusal = Callable[["Member", "Member", str], "str | None"]


def fleet_plan(
    desired: DesiredState,
    members: Mapping[str, Member],
    options: PlanOptions,
    *,
    refusal: Refusal | None = None,
    values: bool = True,
) -> FleetPlan:
    """The fleet's plan. ``refusal(source, target, domain)`` says why a live migration cannot be
    made (default: xenctl's migration rules)."""
    hosts = [m.spec for m in members.values()]
    live = {name: m.live for name, m in members.items()}
    drained = frozenset(name for name, m in members.items() if m.drained)
    current = layout.current_hosts(hosts, live)
    overhead = max((m.live.host.capabilities.domain_overhead for m in members.values()), default=2)
    placements = place(layout.rooms(hosts, live, desired, drained), layout.requests(desired, current, overhead))
    problems = [f"domain {p.name} cannot be placed: {p.reason}" for p in placements if p.host is None]
    ask = refusal or _migration_refusal
    moves: list[Move] = []
    refused: list[Move] = []
    for placed in placements:
        source = current.get(placed.name)
        if placed.host is None or source is None or source == placed.host:
            continue
        if not _up(members[source], placed.name):
            continue  # not running: nothing to move (its source's plan removes what is left)
        move = Move(placed.name, source, placed.host, True, placed.reason)
        if options.target and placed.name != options.target.split(".", 1)[-1]:
            refused.append(move)  # --target names another object: this one stays where it runs
            continue
        why_not = ask(members[source], members[placed.host], placed.name)
        if why_not is None:
            moves.append(move)
        else:
            refused.append(move)  # kept where it runs in both hosts' plans: the error says why
            problems.append(f"domain {placed.name} must move from {source} to {placed.host}, but {why_not}")
    # A domain that cannot be placed stays declared where it runs: an error, never a deletion.
    kept = [replace(p, host=current[p.name]) if p.host is None and p.name in current else p for p in placements]
    share = layout.split(desired, kept, hosts)
    problems += share.unplaced
    parts = with_moves(share.desired, desired, moves + refused)
    plans = {
        name: host_plan(member.live, parts[name], options, member.host.autostart, values=values)
        for name, member in members.items()
    }
    if options.target and not any(p.changes for p in plans.values()) and not _named_anywhere(desired, options.target):
        raise PlanError(f"--target {options.target}: nothing of that name in the specs or the plan")
    stays = frozenset(p.name for p in placements if p.host is not None and current.get(p.name) == p.host)
    urls = {name: m.spec.connect for name, m in members.items()}
    return FleetPlan(tuple(placements), tuple(moves), plans, urls, stays, tuple(problems))


def host_plan(live: HostState, part: DesiredState, options: PlanOptions, auto: AutoDir, *, values: bool = True) -> Plan:
    """One host's plan of its share; with ``--target``, a host whose share does not hold the target
    has nothing to do (the target is on another host)."""
    from xenctl.app.plans import plan_and_diff
    from xenctl.reconcile.plan import Plan

    try:
        return plan_and_diff(live, part, options, auto, values=values)[0]
    except PlanError:
        if not options.target:
            raise
        return Plan((), (), (), part, live.host.storage_root)


def _named_anywhere(desired: DesiredState, target: str) -> bool:
    name = target.split(".", 1)[-1]
    names = [d.name for d in desired.domains] + [v.name for v in desired.volumes]
    names += [g.name for g in desired.volume_groups] + [e.name for e in desired.nfs_exports]
    return name in names or any(entry.entry_name == name for entry in desired.autostart)


def _up(member: Member, name: str) -> bool:
    found = member.live.domain(name)
    return found is not None and found.is_up


def with_moves(parts: dict[str, DesiredState], desired: DesiredState, moves: list[Move]) -> dict[str, DesiredState]:
    """Each host's share with every migrating domain kept on its source and left off its target."""
    if not moves:
        return parts
    result = dict(parts)
    for move in moves:
        spec = desired.domain(move.domain)
        if spec is None:
            continue
        target = result[move.target]
        result[move.target] = replace(
            target,
            domains=tuple(d for d in target.domains if d.name != move.domain),
            autostart=tuple(a for a in target.autostart if a.domain != move.domain),
        )
        source = result[move.source]
        result[move.source] = replace(source, domains=tuple(sorted((*source.domains, spec), key=lambda d: d.name)))
    return result


def _migration_refusal(source: Member, target: Member, domain: str) -> str | None:
    from xenctl.app.migrate import migration_refusal

    return migration_refusal(source.host, target.host, domain, live=True)


def render_text(plan: FleetPlan, *, colour: bool = False) -> str:
    """Placements worth reading, migrations, each host's section, the problems, a summary."""
    from xenctl.reconcile.render import render_text as host_text

    lines = [f"Fleet of {len(plan.plans)} hosts: " + ", ".join(f"{n} ({u})" for n, u in plan.urls.items()), ""]
    placed = [p for p in plan.placements if p.name not in plan.stays]
    if placed:
        lines.append("Placement:")
        lines += [f"  {p.name} -> {p.host or '(none)'}: {p.reason.removeprefix(f'{p.host}: ')}" for p in placed]
        if plan.stays:
            lines.append(f"  ({len(plan.stays)} other domains stay where they run)")
        lines.append("")
    if plan.moves:
        lines.append("Migrations:")
        lines += [f"  {move.describe()}" for move in plan.moves]
        lines.append("")
    for name, host_plan in plan.plans.items():
        lines.append(f"Host {name} ({plan.urls[name]}):")
        lines += [f"  {line}" if line else "" for line in host_text(host_plan, colour=colour).splitlines()]
        lines.append("")
    for problem in plan.problems:
        lines.append(f"Error: {problem}")
    moving = f", {len(plan.moves)} migration{'s' if len(plan.moves) != 1 else ''}" if plan.moves else ""
    changes = sum(len(p.actionable) for p in plan.plans.values())
    lines.append(f"Fleet plan: {changes} changes on {len(plan.plans)} hosts{moving}.")
    return "\n".join(lines)


def render_json(plan: FleetPlan) -> str:
    from xenctl.reconcile.render import plan_to_json

    return json.dumps(
        {
            "fleet_format_version": FLEET_FORMAT,
            "placements": [{"domain": p.name, "host": p.host, "reason": p.reason} for p in plan.placements],
            "migrations": [
                {"domain": m.domain, "source": m.source, "target": m.target, "live": m.live, "reason": m.why}
                for m in plan.moves
            ],
            "hosts": {name: {"connect": plan.urls[name], "plan": plan_to_json(p)} for name, p in plan.plans.items()},
            "problems": list(plan.problems),
        },
        indent=2,
        default=str,
    )
