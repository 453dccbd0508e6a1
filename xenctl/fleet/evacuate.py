"""``xenctl evacuate HOST``: drain a host for maintenance by live migration.

The host is marked drained first (a file in its cache directory), so no fleet plan places anything
there until ``xenctl evacuate --undo HOST``. Every guest running on it, declared in the specs or
made by hand, is placed by the same allocator on the other hosts and moved live, dependencies
before the domains that need them, one at a time (each move has the two hosts' locks and leases).
A guest that cannot move live (local storage, no room, a target refusing relocation) stays, with
its reason; the others still move.
"""

from __future__ import annotations

import graphlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from xenctl.errors import UsageError, XenctlError
from xenctl.fleet import layout
from xenctl.fleet.members import DRAINED
from xenctl.fleet.placement import Request, place

if TYPE_CHECKING:
    from xenctl.app.migrate import MigrationReport
    from xenctl.engine.api import Domain
    from xenctl.fleet.coordinate import Coordinator
    from xenctl.fleet.members import Member
    from xenctl.spec.model import DesiredState


@dataclass
class Evacuation:
    """Each guest's move (its report) or why it stayed."""

    host: str
    moved: list[tuple[str, str, MigrationReport]] = field(default_factory=list)  # (domain, to host, report)
    stayed: list[tuple[str, str]] = field(default_factory=list)  # (domain, why)

    @property
    def makespan(self) -> float:
        return sum(report.total_s for _d, _h, report in self.moved)

    @property
    def downtime(self) -> float:
        return sum(report.downtime_s for _d, _h, report in self.moved)


def set_drained(member: Member, drained: bool) -> None:
    path = os.path.join(member.host.cache_dir, DRAINED)
    if drained:
        os.makedirs(member.host.cache_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as marker:
            marker.write("drained by xenctl evacuate; undo with xenctl evacuate --undo\n")
    elif os.path.exists(path):
        os.unlink(path)


def evacuate(
    desired: DesiredState,
    members: Mapping[str, Member],
    name: str,
    *,
    coordinator: Coordinator,
    holder: str,
    told: Callable[[str], None] = lambda _line: None,
) -> Evacuation:
    """Move every guest off ``name``; ``told`` hears a line as each move ends."""
    from xenctl.app.migrate import migrate

    if name not in members:
        raise UsageError(f"host {name} is not in the fleet; its hosts are {', '.join(members)}")
    leaving = members[name]
    set_drained(leaving, True)
    guests = [d for d in leaving.live.domains if d.domid != 0 and d.is_up]
    result = Evacuation(name)
    if not guests:
        return result
    hosts = [m.spec for m in members.values()]
    live = {n: m.live for n, m in members.items()}
    drained = frozenset(n for n, m in members.items() if m.drained) | {name}
    asked = frozenset(g.name for g in guests)
    refusing = _refusing(members, name)
    rooms = [
        replace(room, accepting=False) if room.name in refusing else room
        for room in layout.rooms(hosts, live, desired, drained, asked=asked)
    ]
    overhead = leaving.live.host.capabilities.domain_overhead
    placements = {p.name: p for p in place(rooms, [_request(desired, g, overhead) for g in guests])}
    for guest in _dependencies_first(desired, [g.name for g in guests]):
        placed = placements[guest]
        if placed.host is None:
            why = "; ".join([placed.reason, *refusing.values()])
            result.stayed.append((guest, why))
            told(f"{guest}: stays on {name}: {why}")
            continue
        first, second = sorted((name, placed.host))
        try:
            with coordinator.hold(first, holder), coordinator.hold(second, holder):
                report = migrate(leaving.host, members[placed.host].host, guest, live=True)
        except XenctlError as exc:
            result.stayed.append((guest, str(exc)))
            told(f"{guest}: stays on {name}: {exc}")
            continue
        result.moved.append((guest, placed.host, report))
        told(
            f"{guest}: moved live to {placed.host} in {report.total_s:.1f} s "
            f"(downtime {report.downtime_s * 1000:.0f} ms)"
        )
    return result


def _refusing(members: Mapping[str, Member], name: str) -> dict[str, str]:
    """The other hosts whose xend takes no guest from ``name`` (no relocation server, or its
    hosts-allow not matching), with xend's reason: placement offers the guests to the rest."""
    from xenctl.app.migrate_rules import relocation_refusal

    leaving = members[name].host
    if not leaving.is_simulated:
        return {}
    found = {}
    for other, member in members.items():
        if other != name and member.host.is_simulated:
            why = relocation_refusal(leaving.sim(), member.host.sim())
            if why is not None:
                found[other] = why
    return found


def _request(desired: DesiredState, guest: Domain, overhead: int) -> Request:
    """Placement's question for a guest leaving: the spec's rules if declared, its live size (and
    what the hypervisor needs to build it) either way."""
    spec = desired.domain(guest.name)
    if spec is None:
        return Request(guest.name, guest.memory + overhead, guest.vcpus)
    return Request(
        guest.name,
        guest.memory + overhead,
        guest.vcpus,
        labels=frozenset(spec.host_labels),
        spread=spec.spread,
        storage=layout.storage_keys(desired, spec),
    )


def _dependencies_first(desired: DesiredState, names: list[str]) -> list[str]:
    from xenctl.spec.checks import dependency_edges

    edges = dependency_edges(desired)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    moving = set(names)
    for guest in sorted(names):
        sorter.add(guest, *sorted(d for d in edges.get(guest, ()) if d in moving))
    try:
        return list(sorter.static_order())
    except graphlib.CycleError:
        return sorted(names)
