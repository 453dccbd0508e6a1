"""The room left on each host of a fleet while one ``place()`` call places requests, and what is placed in one step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xenctl.fleet.placement import HostRoom, Request


@dataclass(frozen=True)
class Item:
    """What is placed in one step: one request, or requests bound to one host by storage not made yet."""

    members: tuple[Request, ...]
    memory: int
    vcpus: int
    labels: frozenset[str]
    groups: frozenset[str]
    keys: frozenset[str]
    whole: bool = True  # False: two of its requests are of one spread group, so no host takes it whole


def make_item(members: Sequence[Request]) -> Item:
    if len(members) == 1:  # most items: kept cheap for fleets of thousands of domains
        r = members[0]
        groups = _NO_GROUP if r.spread is None else frozenset((r.spread,))
        return Item((r,), r.memory, r.vcpus, r.labels, groups, r.storage)
    return Item(
        tuple(members),
        sum(r.memory for r in members),
        sum(r.vcpus for r in members),
        frozenset().union(*(r.labels for r in members)),
        frozenset(r.spread for r in members if r.spread is not None),
        frozenset().union(*(r.storage for r in members)),
        len({r.spread for r in members if r.spread}) == sum(1 for r in members if r.spread),
    )


_NO_GROUP: frozenset[str] = frozenset()


class Room:
    """The room left on each host while one ``place()`` call places requests (host by index)."""

    def __init__(self, hosts: Sequence[HostRoom]) -> None:
        self.hosts = hosts
        self.index = {h.name: i for i, h in enumerate(hosts)}
        self.memory = [h.memory for h in hosts]
        self.vcpus = [h.vcpus for h in hosts]
        self.groups: list[set[str]] = [set() for _ in hosts]
        self.count = [0] * len(hosts)
        self.keys: dict[str, tuple[int, ...]] = {}  # storage key: the hosts that hold it
        for i, host in enumerate(hosts):
            for key in host.storage:
                self.keys[key] = (*self.keys.get(key, ()), i)
        self.made: dict[str, str] = {}  # a key made by a placement: the request that made it
        self.labelled: dict[frozenset[str], tuple[int, ...]] = {}

    def copy(self) -> Room:
        other = Room.__new__(Room)
        other.hosts, other.index, other.labelled = self.hosts, self.index, self.labelled
        other.memory, other.vcpus, other.count = list(self.memory), list(self.vcpus), list(self.count)
        other.groups = [set(g) for g in self.groups]
        other.keys, other.made = dict(self.keys), dict(self.made)
        return other

    def take(self, i: int, item: Item) -> None:
        self.memory[i] -= item.memory
        self.vcpus[i] -= item.vcpus
        self.groups[i].update(item.groups)
        self.count[i] += len(item.members)
        first = item.members[0].name
        for key in item.keys:
            if key not in self.keys:
                self.keys[key] = (i,)
                self.made[key] = first

    def give_back(self, i: int, item: Item) -> None:
        """Undo ``take`` of an item that made no storage."""
        self.memory[i] += item.memory
        self.vcpus[i] += item.vcpus
        self.groups[i].difference_update(item.groups)
        self.count[i] -= len(item.members)

    def with_labels(self, labels: frozenset[str]) -> tuple[int, ...]:
        """The accepting hosts that carry every one of ``labels``."""
        found = self.labelled.get(labels)
        if found is None:
            found = tuple(i for i, h in enumerate(self.hosts) if h.accepting and labels <= h.labels)
            self.labelled[labels] = found
        return found

    def allowed(self, item: Item) -> tuple[int, ...]:
        """The hosts the item may go to before room and spread groups: accepting, labelled, with its storage."""
        hosts = self.with_labels(item.labels)
        for key in item.keys:
            holders = self.keys.get(key)
            if holders is not None:
                hosts = tuple(i for i in hosts if i in holders)
        return hosts

    def fits(self, i: int, item: Item) -> bool:
        return (
            self.memory[i] >= item.memory
            and self.vcpus[i] >= item.vcpus
            and (not item.groups or self.groups[i].isdisjoint(item.groups))
        )

    def names(self, indexes: Iterable[int]) -> str:
        return ", ".join(self.hosts[i].name for i in indexes)
