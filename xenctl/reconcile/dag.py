"""The plan's order as plain adjacency: what the plan's rules and checks need of a graph.

A plan of 40,000 changes has some 60,000 edges; networkx would take a second to import, hold and
check them, and the plan only needs to add edges, follow them, and know that they form no cycle.
Nodes are numbered, and an edge is kept once, as two numbers. ``Plan.graph`` still hands
networkx's ``DiGraph`` to whoever wants one (the walker, the DOT picture), built from the edges
when first asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class Dag:
    """Nodes in the order given and the edges between them ("must finish before"), each once,
    kept in the order they were added, so that a ``DiGraph`` built from ``edges()`` is the one
    the rules would have built in networkx. Only the edges out of a node are held, with the
    count of those into it: what goes before a node is worked out when asked for (``ancestors``,
    for ``--target`` only), which keeps a cold plan's graph a few MiB smaller."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self.nodes: list[str] = list(nodes)
        self.index: dict[str, int] = {node: i for i, node in enumerate(self.nodes)}
        self.succ: dict[int, list[int]] = {}
        self._into: list[int] = [0] * len(self.nodes)  # edges into each node
        self._seen: set[int] = set()  # before * count + after, for each edge
        self._added: list[int] = []  # the same, in the order added

    def __contains__(self, node: object) -> bool:
        return node in self.index

    def add_edge(self, before: str, after: str) -> None:
        """An edge between two of the nodes (anything else is ignored, as a self-loop is)."""
        self.add_edges(((before, after),))

    def add_edges(self, edges: Iterable[tuple[str, str]]) -> None:
        """Each edge in turn, as ``add_edge`` would add it (one loop: a plan adds tens of
        thousands). ``edges`` may be a generator that looks at the graph: each edge is in it
        before the next is asked for."""
        index, seen, added, succ, into = self.index, self._seen, self._added, self.succ, self._into
        count = len(self.nodes)
        for before, after in edges:
            a, b = index.get(before), index.get(after)
            if a is None or b is None or a == b:
                continue
            key = a * count + b
            if key in seen:
                continue
            seen.add(key)
            added.append(key)
            if a in succ:
                succ[a].append(b)
            else:
                succ[a] = [b]
            into[b] += 1

    def edges(self) -> tuple[tuple[str, str], ...]:
        """Every edge, by the nodes' own names, in the order added."""
        nodes, count = self.nodes, len(self.nodes)
        return tuple((nodes[key // count], nodes[key % count]) for key in self._added)

    def has_path(self, source: str, target: str) -> bool:
        start, goal = self.index[source], self.index[target]
        if start == goal:
            return True
        seen = {start}
        todo = [start]
        while todo:
            for nxt in self.succ.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def ancestors(self, node: str) -> set[str]:
        count = len(self.nodes)
        pred: dict[int, list[int]] = {}
        for key in self._added:
            pred.setdefault(key % count, []).append(key // count)
        found: set[int] = set()
        todo = [self.index[node]]
        while todo:
            for before in pred.get(todo.pop(), ()):
                if before not in found:
                    found.add(before)
                    todo.append(before)
        return {self.nodes[i] for i in found}

    def is_acyclic(self) -> bool:
        """Kahn's count: every node can be taken once all that go before it are taken."""
        waiting = list(self._into)
        ready = deque(i for i, left in enumerate(waiting) if not left)
        taken = 0
        while ready:
            node = ready.popleft()
            taken += 1
            for after in self.succ.get(node, ()):
                left = waiting[after] - 1
                waiting[after] = left
                if not left:
                    ready.append(after)
        return taken == len(self.nodes)

    def subgraph(self, keep: set[str]) -> Dag:
        part = Dag(node for node in self.nodes if node in keep)
        part.add_edges(self.edges())
        return part
