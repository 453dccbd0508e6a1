"""The plan's order as plain adjacency: what the plan's rules and checks need of a graph.

A plan of 40,000 changes has some 60,000 edges; networkx would take a second to import, hold and
check them, and the plan only needs to add edges, follow them, and know that they form no cycle.
``Plan.graph`` still hands networkx's ``DiGraph`` to whoever wants one (the walker, the DOT and
SVG pictures), built from these edges when first asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class Dag:
    """Nodes in the order given and the edges between them ("must finish before"), each once,
    kept in the order they were added (``added``), so that a ``DiGraph`` built from them is the
    one the rules would have built in networkx."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self.succ: dict[str, dict[str, None]] = {node: {} for node in nodes}
        self.pred: dict[str, dict[str, None]] = {node: {} for node in self.succ}
        self.added: list[tuple[str, str]] = []

    def __contains__(self, node: object) -> bool:
        return node in self.succ

    def add_edge(self, before: str, after: str) -> None:
        """An edge between two of the nodes (anything else is ignored, as a self-loop is)."""
        succ = self.succ.get(before)
        if succ is None or after not in self.succ or before == after:
            return
        if after not in succ:
            succ[after] = None
            self.pred[after][before] = None
            self.added.append((before, after))

    def has_path(self, source: str, target: str) -> bool:
        if source == target:
            return True
        seen = {source}
        todo = [source]
        while todo:
            for nxt in self.succ[todo.pop()]:
                if nxt == target:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def ancestors(self, node: str) -> set[str]:
        found: set[str] = set()
        todo = [node]
        while todo:
            for before in self.pred[todo.pop()]:
                if before not in found:
                    found.add(before)
                    todo.append(before)
        return found

    def is_acyclic(self) -> bool:
        """Kahn's count: every node can be taken once all that go before it are taken."""
        waiting = {node: len(before) for node, before in self.pred.items() if before}
        ready = deque(node for node in self.succ if node not in waiting)
        taken = 0
        while ready:
            node = ready.popleft()
            taken += 1
            for after in self.succ[node]:
                left = waiting[after] - 1
                waiting[after] = left
                if not left:
                    ready.append(after)
        return taken == len(self.succ)

    def subgraph(self, keep: set[str]) -> Dag:
        part = Dag(node for node in self.succ if node in keep)
        for before, after in self.added:
            part.add_edge(before, after)
        return part
