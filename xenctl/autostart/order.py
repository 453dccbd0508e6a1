"""Boot and stop order: which entries wait on which, as a graph the walker runs. Pure.

Boot, for the entries in ``<xen root>/auto``:

- ``after``: an entry waits until the domains it names are up (and their ``up`` delay has
  passed), and needs them: if one fails to start, it is skipped. A named domain without an
  entry is fine if it already runs; otherwise the entry cannot start.
- NFS roots: a client waits on, and needs, the entry of the domain serving its root.
- ``order`` numbers: each group starts once the group before it is up (Proxmox's order); a
  group waits on the one before but does not need it: a failure there skips nothing here.
- Entries without an order or ``after`` (hand-placed ones without metadata, as xendomains
  knew them) start after the ordered ones, by file name; but not after an ordered entry that
  itself starts after one of them (``web`` after an unordered ``db``), which would be a cycle.

Order groups and "after the ordered ones" are barrier nodes (``/order/10``, ``/ordered``; no
file name holds a ``/``), so n entries make O(n) edges, not one per pair.

Stop runs the same graph backwards over the domains that run: a domain stops once everything
that waited on it at boot has stopped. Running domains without an entry stop first (but after
the entries that start after them). Nothing in a stop needs anything: a guest that will not
stop delays, but never cancels, the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from xenctl.engine.api import DOMAIN0, Domain
from xenctl.xmconfig.auto import Entry

ORDERED = "/ordered"
OTHERS = "/others"


def order_node(order: int) -> str:
    return f"/order/{order}"


def domain_node(name: str) -> str:
    return f"/domain/{name}"


def is_barrier(node: str) -> bool:
    return node.startswith("/") and not node.startswith("/domain/")


@dataclass(frozen=True)
class Order:
    """A graph for the walker: ``waits_on`` (every edge), ``needs`` (the edges a failure
    follows), the entry of each entry node, and nodes that fail before they start, with why."""

    waits_on: dict[str, tuple[str, ...]]
    needs: dict[str, tuple[str, ...]]
    entries: dict[str, Entry] = field(default_factory=dict)
    failing: dict[str, str] = field(default_factory=dict)

    def blocked(self) -> dict[str, str]:
        """Entries that need, directly or through others, an entry that fails: each with that entry."""
        needed_by: dict[str, list[str]] = {}
        for node, befores in self.needs.items():
            for before in befores:
                needed_by.setdefault(before, []).append(node)
        found: dict[str, str] = {}
        todo = [(node, node) for node in self.failing]
        while todo:
            node, root = todo.pop()
            for later in needed_by.get(node, ()):
                if later not in found and later not in self.failing:
                    found[later] = root
                    todo.append((later, root))
        return found

    def position(self) -> dict[str, int]:
        """Each entry's place in the boot order: its depth in the graph, from 1."""
        depth: dict[str, int] = {}
        graph = _graph(self.waits_on)
        for node in nx.topological_sort(graph):
            preds = [depth[p] for p in graph.predecessors(node)]
            depth[node] = max(preds, default=0) + (0 if is_barrier(node) else 1)
        return {node: depth[node] for node in self.entries}


def boot_order(entries: Iterable[Entry], running: Iterable[str] = ()) -> Order:
    """The boot graph of the usable entries (in file-name order); ``running``: domains up now."""
    entries = sorted(entries, key=lambda e: e.file)
    up_now = set(running)
    failing: dict[str, str] = {}
    by_domain: dict[str, str] = {}
    for entry in entries:
        first = by_domain.setdefault(entry.domain, entry.file)
        if first != entry.file:
            failing[entry.file] = f"domain {entry.domain} is created by entry {first} already"
    serving: dict[str, str] = {}  # a domain's name or address -> the entry that starts it
    for entry in entries:
        if entry.file not in failing:
            serving.setdefault(entry.domain, entry.file)
            if entry.config.ip:
                serving.setdefault(entry.config.ip, entry.file)

    waits: dict[str, list[str]] = {}
    needs: dict[str, list[str]] = {}
    groups = sorted({e.ordering.order for e in entries if e.ordering.order is not None})
    previous_group = {later: order_node(earlier) for earlier, later in itertools.pairwise(groups)}
    for entry in entries:
        node = entry.file
        waits[node], needs[node] = [], []
        for name in entry.ordering.after:
            if name in by_domain and name in serving:
                waits[node].append(serving[name])
                needs[node].append(serving[name])
            elif name not in up_now and node not in failing:
                failing[node] = f"it starts after domain {name}, which has no autostart entry and is not running"
        server = entry.config.nfs_server
        if server and server in serving and serving[server] != node:
            waits[node].append(serving[server])
            needs[node].append(serving[server])
        order = entry.ordering.order
        if order is not None and order in previous_group:
            waits[node].append(previous_group[order])
    for order in groups:
        waits[order_node(order)] = [e.file for e in entries if e.ordering.order == order]
        needs[order_node(order)] = []
    unordered = [e.file for e in entries if not e.ordering.ordered]
    if unordered:
        # After every ordered entry, but those that start after an unordered one themselves.
        later = _reached_from(unordered, waits)
        earlier = [e.file for e in entries if e.ordering.ordered and e.file not in later]
        if earlier:
            waits[ORDERED] = earlier
            needs[ORDERED] = []
            for node in unordered:
                waits[node].append(ORDERED)
    waits = {n: list(dict.fromkeys(w)) for n, w in waits.items()}  # after a domain that serves its root too
    needs = {n: list(dict.fromkeys(w)) for n, w in needs.items()}
    _break_cycles(waits, needs, failing)
    return Order(
        {n: tuple(dict.fromkeys(w)) for n, w in waits.items()},
        {n: tuple(dict.fromkeys(w)) for n, w in needs.items()},
        {e.file: e for e in entries},
        failing,
    )


def _reached_from(starts: Iterable[str], waits: dict[str, list[str]]) -> set[str]:
    """The nodes that wait, directly or through others (order groups too), on one of ``starts``."""
    needed_by: dict[str, list[str]] = {}
    for node, befores in waits.items():
        for before in befores:
            needed_by.setdefault(before, []).append(node)
    reached: set[str] = set()
    todo = list(starts)
    while todo:
        for node in needed_by.get(todo.pop(), ()):
            if node not in reached:
                reached.add(node)
                todo.append(node)
    return reached


def _break_cycles(waits: dict[str, list[str]], needs: dict[str, list[str]], failing: dict[str, str]) -> None:
    """Entries in a cycle cannot start: each fails, naming the cycle, and its edges in the cycle
    go, so the walker can run what else there is (and skip what needed them)."""
    graph = _graph(waits)
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return
        members = [a for a, _b in cycle]
        named = " -> ".join([*(m for m in members if not is_barrier(m)), members[0]])
        for a, b in cycle:
            graph.remove_edge(a, b)
            waits[b] = [w for w in waits[b] if w != a]
            needs[b] = [w for w in needs.get(b, []) if w != a]
            if not is_barrier(b):
                failing.setdefault(b, f"its start order is a cycle: {named}")


def stop_order(entries: Iterable[Entry], domains: Iterable[Domain]) -> Order:
    """The stop graph of the running guests: the boot graph reversed, the others first.

    Every boot node stays (an entry whose domain is not running stops nothing), so an order that
    passes through a stopped domain still holds: if c started after b after a, c stops before a.
    A running domain without an entry stops first, unless an entry started after it (or has its
    NFS root from it): then it stops once those entries have.
    """
    live = [d for d in domains if d.name != DOMAIN0]
    running = {d.name for d in live}
    boot = boot_order(entries, running)
    waits: dict[str, list[str]] = {node: [] for node in boot.waits_on}
    for node, befores in boot.waits_on.items():
        for earlier in befores:
            waits[earlier].append(node)
    stopping: dict[str, Entry] = {}
    stopped_by_entry: set[str] = set()
    for node, entry in boot.entries.items():  # in file-name order: the first entry of a domain stops it
        if entry.domain in running and entry.domain not in stopped_by_entry:
            stopping[node] = entry
            stopped_by_entry.add(entry.domain)
    others = sorted(running - {e.domain for e in boot.entries.values()})
    known = {name: name for name in others}
    known.update((d.config.ip, d.name) for d in live if d.name in known and d.config.ip)
    needed_by: dict[str, list[str]] = {}  # a domain without an entry -> the entries that need it
    for node, entry in boot.entries.items():
        for name in (*entry.ordering.after, entry.config.nfs_server or ""):
            if name in known:
                needed_by.setdefault(known[name], []).append(node)
    for name in others:
        waits[domain_node(name)] = needed_by.get(name, [])
    first = [domain_node(name) for name in others if name not in needed_by]
    if first:
        waits[OTHERS] = first
        for node in boot.entries:
            waits[node].append(OTHERS)
    return Order(
        {n: tuple(dict.fromkeys(w)) for n, w in waits.items()},
        {n: () for n in waits},
        stopping,
    )


def _graph(waits: dict[str, list[str]] | dict[str, tuple[str, ...]]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(waits)
    graph.add_edges_from((before, node) for node, befores in waits.items() for before in befores)
    return graph
