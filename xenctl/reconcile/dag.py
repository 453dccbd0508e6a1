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
    the rules would have built in networkx."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self.nodes: list[str] = list(nodes)
        self.index: dict[str, int] = {node: i for i, node in enumerate(self.nodes)}
        self.succ: dict[int, list[int]] = {}
        self.pred: dict[int, list[int]] = {}
        self._seen: set[int] = set()  # before * count + after, for each edge
        self._added: list[int] = []  # the same, in the order added

    def __contains__(self, node: object) -> bool:
        return node in self.index

    def add_edge(self, before: str, after: str) -> None:
        """An edge between two of the nodes (anything else is ignored, as a self-loop is)."""
        a, b = self.index.get(before), self.index.get(after)
        if a is None or b is None or a == b:
            return
        key = a * len(self.nodes) + b
        if key in self._seen:
            return
        self._seen.add(key)
        self._added.append(key)
        self.succ.setdefault(a, []).append(b)
        self.pred.setdefault(b, []).append(a)

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
        found: set[int] = set()
        todo = [self.index[node]]
        while todo:
            for before in self.pred.get(todo.pop(), ()):
                if before not in found:
                    found.add(before)
                    todo.append(before)
        return {self.nodes[i] for i in found}

    def is_acyclic(self) -> bool:
        """Kahn's count: every node can be taken once all that go before it are taken."""
        waiting = {node: len(before) for node, before in self.pred.items()}
        ready = deque(i for i in range(len(self.nodes)) if i not in waiting)
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
        for before, after in self.edges():
            part.add_edge(before, after)
        return part
