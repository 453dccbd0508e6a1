"""Placement of domains on a fleet, as data: small fleets, requests, the host each gets and the line the plan shows.

Then properties on random fleets: no placement breaks a rule, the answer is the same every time and
in the requests' order.
"""

from __future__ import annotations

import pytest

from xenctl.fleet.placement import HostRoom, Placement, Request, place


def host(name: str, memory: int = 8192, vcpus: int = 8, **kw: object) -> HostRoom:
    labels = frozenset(kw.pop("labels", ()))  # type: ignore[call-overload]
    storage = frozenset(kw.pop("storage", ()))  # type: ignore[call-overload]
    return HostRoom(name, memory, vcpus, labels=labels, storage=storage, **kw)  # type: ignore[arg-type]


def req(name: str, memory: int = 1024, vcpus: int = 1, **kw: object) -> Request:
    labels = frozenset(kw.pop("labels", ()))  # type: ignore[call-overload]
    storage = frozenset(kw.pop("storage", ()))  # type: ignore[call-overload]
    return Request(name, memory, vcpus, labels=labels, storage=storage, **kw)  # type: ignore[arg-type]


TWO = [host("a", 8192, 8), host("b", 16384, 16)]
THREE = [host("a", 8192, 8, labels={"ssd"}), host("b", 16384, 16, storage={"vg0"}), host("c", 4096, 4)]

# (fleet, requests, the name looked at, its expected host, its expected reason)
CASES = {
    "a lone request opens the largest host": (
        TWO,
        [req("w", 2048, 2)],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (14336M)",
    ),
    "a second request joins the host in use rather than opening another": (
        TWO,
        [req("w", 2048), req("x", 4096)],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (10240M)",
    ),
    "pinned to a host in the fleet": (TWO, [req("w", pin="a")], "w", "a", "pinned (host: a)"),
    "pinned to a host not in the fleet": (
        TWO,
        [req("w", pin="z")],
        "w",
        None,
        "pinned to z, which is not in the fleet",
    ),
    "pinned to a draining host": (
        [host("a", accepting=False), host("b")],
        [req("w", pin="a")],
        "w",
        None,
        "pinned to a, which is draining (it accepts nothing new)",
    ),
    "pinned to a host too small": (
        TWO,
        [req("w", 9000, 2, pin="a")],
        "w",
        None,
        "pinned to a, which has 8192M and 8 vCPUs free (needs 9000M and 2 vCPUs)",
    ),
    "pinned to a host without its label": (
        TWO,
        [req("w", pin="a", labels={"ssd"})],
        "w",
        None,
        "pinned to a, which lacks label ssd",
    ),
    "pinned away from its storage": (
        THREE,
        [req("w", pin="a", storage={"vg0"})],
        "w",
        None,
        "pinned to a, but its vg0 is on b",
    ),
    "a pinned request counts against its host": (
        TWO,
        [req("p", 16000, pin="b"), req("w", 1024)],
        "w",
        "a",
        "a: fewest hosts in use, then most memory left (7168M)",
    ),
    "two pins of one spread group on one host": (
        TWO,
        [req("p", pin="a", spread="web"), req("q", pin="a", spread="web")],
        "q",
        None,
        "pinned to a, which already holds one of spread group web",
    ),
    "a label takes it to the host carrying it": (
        THREE,
        [req("w", labels={"ssd"})],
        "w",
        "a",
        "a: fewest hosts in use, then most memory left (7168M)",
    ),
    "no host carries the label": (
        THREE,
        [req("w", labels={"gpu"})],
        "w",
        None,
        "no accepting host has label gpu",
    ),
    "its storage takes it to the host holding it": (
        THREE,
        [req("w", storage={"vg0"})],
        "w",
        "b",
        "b: holds its vg0",
    ),
    "storage held by a draining host only": (
        [host("a", storage={"vg0"}, accepting=False), host("b")],
        [req("w", storage={"vg0"})],
        "w",
        None,
        "its vg0 is on a, where it may not go",
    ),
    "new storage is made where its first user goes": (
        TWO,
        [req("w", storage={"img"}), req("x", storage={"img"})],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (14336M); its img is made there",
    ),
    "a later user of new storage follows the first": (
        TWO,
        [req("w", storage={"img"}), req("x", storage={"img"})],
        "x",
        "b",
        "b: where img is made (for w)",
    ),
    "new storage made by a pin is followed": (
        TWO,
        [req("p", pin="a", storage={"img"}), req("x", storage={"img"})],
        "x",
        "a",
        "a: where img is made (for p)",
    ),
    "a spread group takes a second host": (
        TWO,
        [req("w1", spread="web"), req("w2", spread="web")],
        "w2",
        "a",
        "a: fewest hosts in use, then most memory left (7168M)",
    ),
    "a spread group with no host left": (
        TWO,
        [req("w1", spread="web"), req("w2", spread="web"), req("w3", spread="web")],
        "w3",
        None,
        "no host is left for spread group web: each host it may use holds one of it",
    ),
    "too big for any host": (
        TWO,
        [req("w", 20000, 2, labels=())],
        "w",
        None,
        "no host has 20000M and 2 vCPUs free (most: b, 16384M and 16 vCPUs)",
    ),
    "too many vCPUs for the hosts with its label": (
        THREE,
        [req("w", 1024, 12, labels={"ssd"})],
        "w",
        None,
        "no host has 1024M and 12 vCPUs free with label ssd (most: a, 8192M and 8 vCPUs)",
    ),
    "it stays where it runs": (TWO, [req("w", current="a")], "w", "a", "stays on a, where it runs"),
    "it moves off a draining host": (
        [host("a", accepting=False), host("b")],
        [req("w", current="a")],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (7168M); leaves a, which is draining (it accepts nothing new)",
    ),
    "it moves when its host no longer has room": (
        TWO,
        [req("p", 8000, pin="a"), req("w", 1024, current="a")],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (15360M);"
        " leaves a, which has 192M and 7 vCPUs free (needs 1024M and 1 vCPUs)",
    ),
    "it moves when its host lost the label it needs": (
        TWO,
        [req("w", current="a", labels={"ssd"}), req("x")],
        "w",
        None,
        "no accepting host has label ssd; may not stay on a, which lacks label ssd",
    ),
    "no host accepts anything": (
        [host("a", accepting=False)],
        [req("w")],
        "w",
        None,
        "no host accepts new domains",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_placement_table(case: str) -> None:
    hosts, requests, name, expected_host, expected_reason = CASES[case]
    got = {p.name: p for p in place(hosts, requests)}[name]
    assert got == Placement(name, expected_host, expected_reason)
