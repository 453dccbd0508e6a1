"""The free requests (neither pinned nor staying) packed onto as few hosts as possible, then spread over them.

Requests joined by storage no host holds yet are one item (one host takes them all, or each goes
alone and the first one's host makes the storage). The items are packed several ways: biggest
first by memory, by vCPUs or by their larger share of the largest host, with the items fewest
hosts may take, or the members of spread groups, first; each item goes to the host in use it fits
best (by memory, or by memory and vCPUs together), and a free host, the largest, is opened only
when none has room; then a pass tries to empty the least loaded host it opened. The packing with
fewest failures, then fewest hosts, wins. On a fleet of at most ``_FEW`` free hosts, smaller sets
of hosts are then tried, fewest first, with those packings and a bounded exact search
(``search.py``); the budgets count work, never time. Large fleets try two orders only.

At last the items are placed again on exactly the hosts the packing used, each on the one with
most memory left: that balances the load, and is kept when it places everything the packing did.
``bench/fleet.py`` measures the hosts used against the optimum, and the time.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xenctl.fleet.room import Item, Room, make_item
from xenctl.fleet.search import OutOfSteps, fit_exactly

if TYPE_CHECKING:
    from xenctl.fleet.placement import Request

Placed = tuple["str | None", str]  # the host (None: not placed), the reason
# -- the free requests: packed onto as few hosts as possible, then spread over those hosts ------------

Choose = Callable[[Room, Item, tuple[int, ...]], "int | None"]


def place_free(fleet: Room, free: list[Request], why_moved: dict[str, str]) -> dict[str, Placed]:
    if not free:
        return {}
    items = _bundles(fleet, free)
    largest = (max(fleet.memory, default=1) or 1, max(fleet.vcpus, default=1) or 1)
    flex = [len(fleet.allowed(item)) for item in items]
    small = len(items) * len(fleet.hosts) <= _SMALL
    orders = []
    for constrained, size in _ORDERS if small else _ORDERS[:2]:
        keys = [(_tier(constrained, flex[n], item), *size(item, *largest)) for n, item in enumerate(items)]
        orders.append([items[n] for n in sorted(range(len(items)), key=keys.__getitem__)])
    choosers = (_pack_into, _pack_into_both) if small else (_pack_into,)
    best = _best_packing(fleet, orders, choosers, frozenset())
    if small:
        best = _fewer_hosts(fleet, orders, choosers, best)
    failed, packed, placed, ordered = best
    used = {i for i, c in enumerate(packed.count) if c}
    balanced, _taken = _pack(fleet.copy(), ordered, _most_room_among(used), _balanced)
    if _failures(balanced) <= failed:
        placed = balanced
    for name, why in why_moved.items():
        host, reason = placed[name]
        placed[name] = (host, f"{reason}; {'leaves' if host else 'may not stay on'} {why}")
    return placed


_Packing = tuple[int, Room, dict[str, "Placed"], list[Item]]  # failures, the room left, the placements, the order


def _best_packing(
    fleet: Room, orders: list[list[Item]], choosers: tuple[Choose, ...], shut: frozenset[int]
) -> _Packing:
    """The packing with fewest failures, then fewest hosts, of every order and chooser, on the hosts not ``shut``."""
    best: tuple[tuple[int, int], _Packing] | None = None
    for ordered, choose in itertools.product(orders, choosers):
        trial = fleet.copy()
        for i in shut:
            trial.memory[i] = -1  # nothing fits there
        placed, taken = _pack(trial, ordered, choose, _packed)
        _improve(trial, placed, taken, fleet)
        score = (_failures(placed), sum(1 for c in trial.count if c))
        if best is None or score < best[0]:
            best = (score, (score[0], trial, placed, ordered))
    assert best is not None
    return best[1]


def _fewer_hosts(fleet: Room, orders: list[list[Item]], choosers: tuple[Choose, ...], best: _Packing) -> _Packing:
    """A small fleet: every request placed if a search finds how, then on smaller sets of hosts, fewest first.

    Only sets with the memory and vCPUs for every item are tried, and only while the work (items
    placed) stays within ``_SEARCH``: the answer never depends on the clock.
    """
    spare = [i for i, h in enumerate(fleet.hosts) if h.accepting and not fleet.count[i]]
    if len(spare) > _FEW:
        return best
    items = orders[0]
    steps = [_STEPS if len(items) <= _SEARCHED else 0]  # the search goes one level deeper per item
    if best[0]:  # the packings left some out: the search may find a way for every one
        with contextlib.suppress(OutOfSteps):
            found = fit_exactly(fleet, items, frozenset(range(len(fleet.hosts))), steps)
            if found is not None:
                best = _packing_of(fleet, items, found)
        if best[0]:
            return best
    memory, vcpus = sum(it.memory for it in items), sum(it.vcpus for it in items)
    held = [i for i, c in enumerate(fleet.count) if c]  # by pins and stays: in every set
    cost = len(orders) * len(choosers) * len(items)
    work = 0
    for k in range(sum(1 for c in best[1].count if c) - len(held)):
        for chosen in itertools.combinations(spare, k):
            hosts = (*held, *chosen)
            work += 1
            if sum(fleet.memory[i] for i in hosts) < memory or sum(fleet.vcpus[i] for i in hosts) < vcpus:
                continue
            work += cost
            if work > _SEARCH:
                return best
            again = _best_packing(fleet, orders, choosers, frozenset(range(len(fleet.hosts))) - set(hosts))
            if again[0] == 0:
                return again
            with contextlib.suppress(OutOfSteps):
                found = fit_exactly(fleet, items, frozenset(hosts), steps)
                if found is not None:
                    return _packing_of(fleet, items, found)
    return best


_FEW = 8  # free hosts: more, and the sets of hosts are too many to try
_SEARCH = 50_000  # items placed by the packings of smaller sets of hosts (and sets looked at)
_STEPS = 10_000  # steps of the exact search, over all the sets tried
_SEARCHED = 40  # items at most for the exact search to be tried


def _packing_of(fleet: Room, items: list[Item], hosts: list[int]) -> _Packing:
    """The packing the exact search found: each item on its host."""
    room = fleet.copy()
    placed: dict[str, Placed] = {}
    for item, i in zip(items, hosts, strict=True):
        room.take(i, item)
        for request in item.members:
            placed[request.name] = (fleet.hosts[i].name, _reason(room, i, request, _packed))
    return 0, room, placed, items


def _failures(placed: dict[str, Placed]) -> int:
    return sum(host is None for host, _reason in placed.values())


def _bundles(fleet: Room, free: list[Request]) -> list[Item]:
    """Requests joined by storage that no host holds yet (they must share a host), the others alone."""
    parent = list(range(len(free)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    first_user: dict[str, int] = {}
    for n, request in enumerate(free):
        for key in request.storage:
            if key in fleet.keys:
                continue
            if key in first_user:
                parent[root(n)] = root(first_user[key])
            else:
                first_user[key] = n
    groups: dict[int, list[Request]] = {}
    for n, request in enumerate(free):
        groups.setdefault(root(n), []).append(request)
    return [make_item(members) for members in groups.values()]


def _by_memory(item: Item, memory: float, vcpus: float) -> tuple[float, ...]:
    return (-item.memory, -item.vcpus)


def _by_vcpus(item: Item, memory: float, vcpus: float) -> tuple[float, ...]:
    return (-item.vcpus, -item.memory)


def _by_share(item: Item, memory: float, vcpus: float) -> tuple[float, ...]:
    """The larger of its shares of the largest host's memory and vCPUs."""
    return (-max(item.memory / memory, item.vcpus / vcpus), -item.memory)


# The orders the packing tries, each biggest first: the first with the requests fewest hosts may take
# placed first. Past _SMALL (items times hosts) only the first two are tried, to stay fast.
_ORDERS = (
    ("hosts", _by_memory),
    ("hosts", _by_share),
    ("", _by_memory),
    ("", _by_share),
    ("", _by_vcpus),
    ("hosts", _by_vcpus),
    ("spread", _by_memory),
    ("spread", _by_share),
)


def _tier(first: str, hosts: int, item: Item) -> int:
    """What goes before size in an order: the hosts it may take ("hosts"), its spread groups ("spread") or nothing."""
    if first == "hosts":
        return hosts
    return -len(item.groups) if first == "spread" else 0


_SMALL = 20_000


def _pack(
    fleet: Room, items: list[Item], choose: Choose, why: Callable[[Room, int], str]
) -> tuple[dict[str, Placed], list[_Taken]]:
    """Place each item (whole, or its requests one by one when no host takes it whole) with ``choose``."""
    placed: dict[str, Placed] = {}
    taken: list[_Taken] = []
    for item in items:
        i = choose(fleet, item, fleet.allowed(item)) if item.whole else None
        parts = [(item, i)] if i is not None else [(alone, None) for alone in map(make_item, zip(item.members))]
        for part, where in parts:
            j = where if where is not None or len(parts) == 1 else choose(fleet, part, fleet.allowed(part))
            if j is None:
                placed[part.members[0].name] = (None, _refusal(fleet, part))
                continue
            movable = not (part.keys - fleet.keys.keys())  # it makes no storage: it may move later
            fleet.take(j, part)
            taken.append(_Taken(part, j, movable))
            for request in part.members:
                placed[request.name] = (fleet.hosts[j].name, _reason(fleet, j, request, why))
    return placed, taken


@dataclass
class _Taken:
    item: Item
    host: int
    movable: bool


def _pack_into(fleet: Room, item: Item, allowed: tuple[int, ...]) -> int | None:
    """The host in use with the least memory left after it (best fit); else the free host with the most room."""
    used = new = -1
    memory, vcpus, count, groups = fleet.memory, fleet.vcpus, fleet.count, fleet.groups
    need, cores, spread = item.memory, item.vcpus, item.groups
    for i in allowed:  # the hot loop of a placement: kept to plain comparisons
        left = memory[i]
        if left < need or vcpus[i] < cores or (spread and not groups[i].isdisjoint(spread)):
            continue
        if count[i]:
            if used < 0 or left < memory[used]:
                used = i
        elif new < 0 or (left, vcpus[i]) > (memory[new], vcpus[new]):
            new = i
    if used >= 0:
        return used
    return new if new >= 0 else None


def _pack_into_both(fleet: Room, item: Item, allowed: tuple[int, ...]) -> int | None:
    """As ``_pack_into``, the best fit measured on memory and vCPUs both, each as a share of the host's whole."""
    used: tuple[float, int] | None = None
    for i in allowed:
        if fleet.count[i] and fleet.fits(i, item):
            host = fleet.hosts[i]
            left = (fleet.memory[i] - item.memory) / max(1, host.memory) + (fleet.vcpus[i] - item.vcpus) / max(
                1, host.vcpus
            )
            if used is None or (left, i) < used:
                used = (left, i)
    return used[1] if used is not None else _pack_into(fleet, item, allowed)


def _most_room_among(hosts: set[int]) -> Choose:
    def choose(fleet: Room, item: Item, allowed: tuple[int, ...]) -> int | None:
        best = most = -1
        memory, vcpus, groups = fleet.memory, fleet.vcpus, fleet.groups
        need, cores, spread = item.memory, item.vcpus, item.groups
        for i in allowed:  # as hot as _pack_into's
            left = memory[i]
            fits = left > most and left >= need and vcpus[i] >= cores and i in hosts
            if fits and (not spread or groups[i].isdisjoint(spread)):
                best, most = i, left
        return best if best >= 0 else None

    return choose


def _reason(fleet: Room, i: int, request: Request, why: Callable[[Room, int], str]) -> str:
    """Why ``request`` went to host ``i``, once it took its room there (``why``: the choice of host)."""
    if not request.storage:
        return why(fleet, i)
    host = fleet.hosts[i].name
    held = sorted(k for k in request.storage if i in fleet.keys[k] and k not in fleet.made)
    if held:
        return f"{host}: holds its {', '.join(held)}"
    made = sorted(k for k in request.storage if k in fleet.made)
    makers = sorted({fleet.made[k] for k in made} - {request.name})
    if makers:
        return f"{host}: where {', '.join(made)} is made (for {', '.join(makers)})"
    reason = why(fleet, i)
    return f"{reason}; its {', '.join(made)} is made there" if made else reason


def _refusal(fleet: Room, item: Item) -> str:
    """Why no host takes ``item``: the first rule that leaves no host, with the figures."""
    request = item.members[0]
    accepting = fleet.with_labels(frozenset())
    if not accepting:
        return "no host accepts new domains"
    labelled = fleet.with_labels(item.labels)
    if not labelled:
        return f"no accepting host has label {', '.join(sorted(item.labels))}"
    hosts = labelled
    kept = sorted(key for key in item.keys if key in fleet.keys)
    for key in kept:
        holders = fleet.keys.get(key)
        if holders is not None:
            hosts = tuple(i for i in hosts if i in holders)
            if not hosts:
                return f"its {key} is on {fleet.names(holders)}, where it may not go"
    if request.spread is not None:
        hosts = tuple(i for i in hosts if request.spread not in fleet.groups[i])
        if not hosts:
            return f"no host is left for spread group {request.spread}: each host it may use holds one of it"
    most = max(hosts, key=lambda i: (fleet.memory[i], fleet.vcpus[i], -i))
    labels = f" with label {', '.join(sorted(item.labels))}" if item.labels else ""
    storage = f" holding its {', '.join(kept)}" if kept else ""
    return (
        f"no host has {item.memory}M and {item.vcpus} vCPUs free{labels}{storage}"
        f" (most: {fleet.hosts[most].name}, {fleet.memory[most]}M and {fleet.vcpus[most]} vCPUs)"
    )


def _improve(fleet: Room, placed: dict[str, Placed], taken: list[_Taken], before: Room) -> None:
    """Empty what hosts the packing opened it can, least loaded first, moving their requests to other hosts in use."""
    opened = [i for i, c in enumerate(fleet.count) if c and not before.count[i]]
    load = {i: before.memory[i] - fleet.memory[i] for i in opened}
    on: dict[int, list[_Taken]] = {}
    for t in taken:
        on.setdefault(t.host, []).append(t)
    for source in sorted(opened, key=lambda i: (load[i], i)):
        here = on.get(source, [])
        room = sum(fleet.memory[i] for i, c in enumerate(fleet.count) if c and i != source)
        if load[source] > room or not all(t.movable for t in here):
            continue
        moves: list[tuple[_Taken, int]] = []
        for t in sorted(here, key=lambda t: (-t.item.memory, -t.item.vcpus)):
            fleet.give_back(source, t.item)
            others = tuple(i for i in fleet.allowed(t.item) if i != source and fleet.count[i])
            target = _pack_into(fleet, t.item, others)
            if target is None:
                fleet.take(source, t.item)
                break
            fleet.take(target, t.item)
            moves.append((t, target))
        else:
            for t, target in moves:
                t.host = target
                on.setdefault(target, []).append(t)
                for request in t.item.members:
                    placed[request.name] = (fleet.hosts[target].name, _packed(fleet, target))
            on[source] = []
            continue
        for t, target in moves:  # not all of it moves: put back what did
            fleet.give_back(target, t.item)
            fleet.take(source, t.item)


def _packed(fleet: Room, i: int) -> str:
    return f"{fleet.hosts[i].name}: fewest hosts in use ({fleet.memory[i]}M left)"


def _balanced(fleet: Room, i: int) -> str:
    return f"{fleet.hosts[i].name}: fewest hosts in use, then most memory left ({fleet.memory[i]}M)"
