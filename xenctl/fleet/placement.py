"""Placement: which host of a fleet each domain goes to, and why (a pure function, like Ganeti's iallocator).

The fleet's room and the requests go in, one ``Placement`` per request comes out, in the requests'
order, each with the one line the plan shows. Nothing here reads a host or a clock.

The rules are hard: memory, vCPUs, labels (a host carries every label a request asks for), local
storage (a request goes where its storage keys are; a key on no host is made where the first
request using it goes, and every later request using it follows), ``spread`` groups (never two
of a group on one host), pins. What is pinned is placed first, then what runs on a host that still
accepts and fits it stays (no needless migration), then the rest, biggest first.

The objective is as few hosts as possible, then balance: ``packing.py`` places the rest.

Storage keys are shown as given: a key such as ``volume group vg0`` reads "b: holds its volume
group vg0".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xenctl.fleet.packing import place_free
from xenctl.fleet.room import Item, Room, make_item


@dataclass(frozen=True)
class HostRoom:
    name: str
    memory: int  # MiB the requests may use on it in total (what other domains hold is already taken off)
    vcpus: int  # vCPUs the requests may use on it in total
    labels: frozenset[str] = frozenset()
    storage: frozenset[str] = frozenset()  # keys of local storage present on this host (a volume group, an image file)
    accepting: bool = True  # False: a host being drained; nothing new goes there, and what runs there moves


@dataclass(frozen=True)
class Request:
    name: str
    memory: int  # MiB
    vcpus: int
    labels: frozenset[str] = frozenset()  # the host must carry every one
    spread: str | None = None  # anti-affinity group: no two of a group on one host (hard)
    pin: str | None = None  # the spec's host: (must go there, or fail with the reason)
    storage: frozenset[str] = frozenset()  # local storage keys it uses: it goes where they are; a key on no
    # host yet is made where the first request using it goes, and every later request using it follows
    current: str | None = None  # where it runs now: it stays there while that is allowed and fits


@dataclass(frozen=True)
class Placement:
    name: str
    host: str | None  # None: it cannot be placed
    reason: str  # one line a user reads in the plan


def place(hosts: Sequence[HostRoom], requests: Sequence[Request]) -> tuple[Placement, ...]:
    """One placement per request, in the requests' order; deterministic for the same input."""
    _check_names(hosts, requests)
    fleet = Room(hosts)
    decided: dict[str, Placement] = {}
    free: list[Request] = []
    why_moved: dict[str, str] = {}
    for request in requests:
        if request.pin is not None:
            decided[request.name] = _place_pinned(fleet, request)
    for request in sorted((r for r in requests if r.pin is None), key=_size):
        if request.current is None:
            free.append(request)
            continue
        refusal = _stay(fleet, request)
        if refusal is None:
            stays = f"stays on {request.current}, where it runs"
            decided[request.name] = Placement(request.name, request.current, stays)
        else:
            why_moved[request.name] = refusal
            free.append(request)
    order = {r.name: n for n, r in enumerate(requests)}
    free.sort(key=lambda r: order[r.name])
    for name, (host, reason) in place_free(fleet, free, why_moved).items():
        decided[name] = Placement(name, host, reason)
    return tuple(decided[r.name] for r in requests)


def _check_names(hosts: Sequence[HostRoom], requests: Sequence[Request]) -> None:
    for kind, names in (("host", [h.name for h in hosts]), ("request", [r.name for r in requests])):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"placement: two {kind}s named {name!r}")
            seen.add(name)


def _size(request: Request) -> tuple[int, int, str]:
    return (-request.memory, -request.vcpus, request.name)


def _place_pinned(fleet: Room, request: Request) -> Placement:
    """A pinned request goes to its host or fails, saying why; it counts against its host."""
    host = request.pin
    assert host is not None
    i = fleet.index.get(host)
    if i is None:
        return Placement(request.name, None, f"pinned to {host}, which is not in the fleet")
    refusal = _refuse_on(fleet, i, make_item([request]), "pinned to")
    if refusal is not None:
        return Placement(request.name, None, refusal)
    fleet.take(i, make_item([request]))
    return Placement(request.name, host, f"pinned (host: {host})")


def _stay(fleet: Room, request: Request) -> str | None:
    """Keep the request where it runs (taking its room) and say None, or say why it may not stay."""
    assert request.current is not None
    i = fleet.index.get(request.current)
    if i is None:
        return f"{request.current}, which is not in the fleet"
    item = make_item([request])
    refusal = _refuse_on(fleet, i, item, "")
    if refusal is None:
        fleet.take(i, item)
    return refusal


def _refuse_on(fleet: Room, i: int, item: Item, prefix: str) -> str | None:
    """Why ``item`` may not go to host ``i`` (a line starting with ``prefix`` and the host), or None."""
    host = fleet.hosts[i]
    lead = f"{prefix} {host.name}".strip()
    if not host.accepting:
        return f"{lead}, which is draining (it accepts nothing new)"
    missing = sorted(item.labels - host.labels)
    if missing:
        return f"{lead}, which lacks label {', '.join(missing)}"
    for key in sorted(item.keys):
        holders = fleet.keys.get(key)
        if holders is not None and i not in holders:
            return f"{lead}, but its {key} is on {fleet.names(holders)}"
    clash = sorted(item.groups & fleet.groups[i])
    if clash:
        return f"{lead}, which already holds one of spread group {clash[0]}"
    if fleet.memory[i] < item.memory or fleet.vcpus[i] < item.vcpus:
        return (
            f"{lead}, which has {fleet.memory[i]}M and {fleet.vcpus[i]} vCPUs free"
            f" (needs {item.memory}M and {item.vcpus} vCPUs)"
        )
    return None
