"""A bounded exact search for small fleets: the ways to put the items on a given set of hosts.

The packings are heuristics; on a small fleet, when none fits the free requests on fewer hosts, this
tries every way (hosts just alike tried once) until one fits or its budget of steps runs out. The
budget counts steps, never time, so the answer is the same on any machine.
"""

from __future__ import annotations

from xenctl.fleet.room import Item, Room


class OutOfSteps(Exception):
    """The search's budget ran out before it found a way or proved there is none."""


def fit_exactly(fleet: Room, items: list[Item], hosts: frozenset[int], budget: list[int]) -> list[int] | None:
    """A host (in ``hosts``) for each item, every rule kept, or None when there is no such way.

    ``budget[0]`` is the steps left, shared by the calls of one placement; past it, ``OutOfSteps``.
    """
    room = fleet.copy()
    chosen: list[int] = []

    def shape(i: int) -> tuple[object, ...]:
        host = fleet.hosts[i]
        made = frozenset(key for key, holders in room.keys.items() if key in room.made and holders == (i,))
        return (room.memory[i], room.vcpus[i], frozenset(room.groups[i]), host.labels, host.storage, made)

    def go(n: int) -> bool:
        if n == len(items):
            return True
        budget[0] -= 1
        if budget[0] < 0:
            raise OutOfSteps
        item = items[n]
        if not item.whole:
            return False
        tried: set[tuple[object, ...]] = set()
        for i in room.allowed(item):
            if i not in hosts or not room.fits(i, item):
                continue
            alike = shape(i)
            if alike in tried:
                continue
            tried.add(alike)
            new = [key for key in item.keys if key not in room.keys]
            room.take(i, item)
            chosen.append(i)
            if go(n + 1):
                return True
            chosen.pop()
            room.give_back(i, item)
            for key in new:
                del room.keys[key], room.made[key]
        return False

    return chosen if go(0) else None
