"""Placement of domains on a fleet, as data: small fleets, requests, the host each gets and the line the plan shows.

Then properties on random fleets: no placement breaks a rule, the answer is the same every time and
in the requests' order.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    "users of new storage that do not fit together: the first makes it, the next fails there": (
        [host("a", 4096, 4), host("b", 4096, 4)],
        [req("w", 3072, storage={"img"}), req("x", 3072, storage={"img"})],
        "x",
        None,
        "no host has 3072M and 1 vCPUs free holding its img (most: a, 1024M and 3 vCPUs)",
    ),
    "two of a spread group sharing new storage: the second may not follow the first": (
        TWO,
        [req("w1", storage={"img"}, spread="web"), req("w2", storage={"img"}, spread="web")],
        "w2",
        None,
        "no host is left for spread group web: each host it may use holds one of it",
    ),
    "no room on the host holding its storage": (
        THREE,
        [req("big", 15000, pin="b"), req("w", 2048, storage={"vg0"})],
        "w",
        None,
        "no host has 2048M and 1 vCPUs free holding its vg0 (most: b, 1384M and 15 vCPUs)",
    ),
    "what runs on a host that left the fleet moves": (
        TWO,
        [req("w", current="gone")],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (15360M); leaves gone, which is not in the fleet",
    ),
    "the bigger of two that no longer fit together stays": (
        [host("a", 4096, 4), host("b", 4096, 4)],
        [req("small", 1024, current="a"), req("large", 3584, current="a")],
        "small",
        "b",
        "b: fewest hosts in use, then most memory left (3072M);"
        " leaves a, which has 512M and 3 vCPUs free (needs 1024M and 1 vCPUs)",
    ),
    "a pin wins the room over one that runs there": (
        [host("a", 4096, 4), host("b", 4096, 4)],
        [req("runs", 2048, current="a"), req("pinned", 3072, pin="a")],
        "runs",
        "b",
        "b: fewest hosts in use, then most memory left (2048M);"
        " leaves a, which has 1024M and 3 vCPUs free (needs 2048M and 1 vCPUs)",
    ),
    "on the hosts in use, the one with most memory left": (
        [host("a", 8192, 8), host("b", 8192, 8)],
        [req("p", 6144, pin="a"), req("q", 1024, pin="b"), req("w", 1024)],
        "w",
        "b",
        "b: fewest hosts in use, then most memory left (6144M)",
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


# (fleet, requests, the fewest hosts that take them all)
FEWEST = {
    "what is pinned fills its host first": (
        [host("a", 8192), host("b", 8192), host("c", 8192)],
        [req("p", 1024, pin="c"), req("w", 7000)],
        1,
    ),
    "short of vCPUs rather than memory": (
        [host("a", 32768, 8), host("b", 32768, 8), host("c", 32768, 8)],
        [req(f"w{n}", 1024, 4) for n in range(4)],
        2,
    ),
    "the largest free host is opened first": (
        [host("a", 4096), host("b", 4096), host("c", 16384)],
        [req(f"w{n}", 2048) for n in range(6)],
        1,
    ),
    "a spread group and vCPUs together (two hosts, where packing biggest first takes three)": (
        [
            host("h0", 16384, 8, storage={"vg0"}),
            host("h1", 32768, 16),
            host("h2", 32768, 16),
            host("h3", 8192, 4),
            host("h4", 32768, 16),
            host("h5", 32768, 16, labels={"gpu", "ssd"}),
        ],
        [
            req("r0", 2048, 2),
            req("r1", 8192, 4, spread="db"),
            req("r2", 8192, 4),
            req("r3", 12288, 8),
            req("r4", 4096, 2, spread="db"),
            req("r5", 12288, 8),
        ],
        2,
    ),
    "four in one spread group on four hosts, short of vCPUs: the packings leave one out, the search does not": (
        [
            host("h0", 16384, 8, labels={"gpu", "ssd"}),
            host("h1", 16384, 8),
            host("h2", 24576, 12),
            host("h3", 16384, 8),
        ],
        [
            req("r0", 1024, 1, spread="db"),
            req("r1", 8192, 4),
            req("r2", 12288, 8, spread="web"),
            req("r3", 8192, 4, spread="web"),
            req("r4", 12288, 8),
            req("r5", 1024, 1, spread="web"),
            req("r6", 12288, 8, labels={"ssd"}, spread="web"),
        ],
        4,
    ),
}


@pytest.mark.parametrize("case", list(FEWEST), ids=list(FEWEST))
def test_placement_uses_the_fewest_hosts(case: str) -> None:
    hosts, requests, fewest = FEWEST[case]
    placed = place(hosts, requests)
    assert [p.host is not None for p in placed] == [True] * len(requests)
    assert len({p.host for p in placed}) == fewest


def test_the_answer_is_in_the_requests_order() -> None:
    requests = [req("small", 512), req("large", 6144), req("middle", 2048, pin="a")]
    assert [p.name for p in place(TWO, requests)] == ["small", "large", "middle"]


def test_more_requests_than_a_small_fleet_holds_are_placed_as_far_as_they_fit() -> None:
    hosts = [host(f"h{n}", 200_000, 10_000) for n in range(6)]
    placed = place(hosts, [req(f"r{n}", 512) for n in range(3000)])
    assert sum(p.host is not None for p in placed) == 6 * (200_000 // 512)
    assert placed[-1].reason == "no host has 512M and 1 vCPUs free (most: h0, 320M and 9610 vCPUs)"


def test_two_hosts_or_requests_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two hosts named 'a'"):
        place([host("a"), host("a")], [])
    with pytest.raises(ValueError, match="two requests named 'w'"):
        place(TWO, [req("w"), req("w")])


def test_ten_thousand_requests_on_fifty_hosts_are_all_placed() -> None:
    hosts = [host(f"h{n:02d}", 524288, 1024, labels={"ssd"} if n % 3 == 0 else ()) for n in range(50)]
    requests = [
        req(
            f"d{n:05d}",
            (512, 1024, 2048, 4096)[n % 4],
            1 + n % 3,
            labels={"ssd"} if n % 10 == 3 else (),
            spread=f"g{n % 400}" if n % 4 == 0 else None,
        )
        for n in range(10_000)
    ]
    placed = place(hosts, requests)
    assert broken_rules(hosts, requests, placed) == []
    assert sum(p.host is None for p in placed) == 0
    assert len({p.host for p in placed}) == -(-sum(r.memory for r in requests) // 524288)  # as few as memory allows


# -- properties on random fleets ------------------------------------------------------------------

LABELS = st.frozensets(st.sampled_from(["ssd", "gpu"]), max_size=2)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[HostRoom], list[Request]]:
    count = draw(st.integers(1, 6))
    names = [f"h{n}" for n in range(count)]
    hosts = [
        HostRoom(
            name,
            draw(st.integers(0, 8)) * 1024,
            draw(st.integers(0, 8)),
            draw(LABELS),
            draw(st.frozensets(st.sampled_from(["vg0", "vg1"]), max_size=1)),
            draw(st.booleans()) or draw(st.booleans()),
        )
        for name in names
    ]
    somewhere = st.none() | st.sampled_from([*names, "elsewhere"])
    requests = [
        Request(
            f"r{n}",
            draw(st.sampled_from([256, 512, 1024, 2048, 4096])),
            draw(st.integers(1, 4)),
            draw(LABELS),
            draw(st.none() | st.sampled_from(["web", "db"])),
            draw(st.none() | st.none() | somewhere),
            draw(st.frozensets(st.sampled_from(["vg0", "vg1", "img0", "img1"]), max_size=2)),
            draw(somewhere),
        )
        for n in range(draw(st.integers(0, 14)))
    ]
    return hosts, requests


def broken_rules(hosts: list[HostRoom], requests: list[Request], placed: tuple[Placement, ...]) -> list[str]:
    """Every rule a placement breaks, as text (empty: none)."""
    by_name = {h.name: h for h in hosts}
    broken = []
    memory = {h.name: 0 for h in hosts}
    vcpus = {h.name: 0 for h in hosts}
    groups: set[tuple[str, str]] = set()
    made: dict[str, str] = {}
    for r, p in zip(requests, placed, strict=True):
        if p.host is None:
            continue
        h = by_name[p.host]
        memory[h.name] += r.memory
        vcpus[h.name] += r.vcpus
        if not h.accepting:
            broken.append(f"{r.name} went to draining {h.name}")
        if not r.labels <= h.labels:
            broken.append(f"{r.name} lacks labels on {h.name}")
        if r.pin is not None and r.pin != h.name:
            broken.append(f"{r.name} pinned to {r.pin} went to {h.name}")
        if r.spread is not None:
            if (r.spread, h.name) in groups:
                broken.append(f"two of {r.spread} on {h.name}")
            groups.add((r.spread, h.name))
        for key in r.storage:
            if any(key in other.storage for other in hosts):
                if key not in h.storage:
                    broken.append(f"{r.name} went to {h.name} without its {key}")
            elif made.setdefault(key, h.name) != h.name:
                broken.append(f"{key} used on {made[key]} and {h.name}")
    broken += [f"{n} over memory" for n in memory if memory[n] > by_name[n].memory]
    broken += [f"{n} over vCPUs" for n in vcpus if vcpus[n] > by_name[n].vcpus]
    return broken


PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@PROPERTIES
@given(fleets())
def test_no_placement_breaks_a_rule(fleet: tuple[list[HostRoom], list[Request]]) -> None:
    hosts, requests = fleet
    placed = place(hosts, requests)
    assert [p.name for p in placed] == [r.name for r in requests]
    assert broken_rules(hosts, requests, placed) == []
    assert all(p.reason and "\n" not in p.reason for p in placed)


@PROPERTIES
@given(fleets())
def test_the_same_fleet_gets_the_same_answer(fleet: tuple[list[HostRoom], list[Request]]) -> None:
    hosts, requests = fleet
    assert place(hosts, requests) == place(list(hosts), list(requests))


@PROPERTIES
@given(fleets())
def test_what_may_stay_where_it_runs_stays(fleet: tuple[list[HostRoom], list[Request]]) -> None:
    """A request running on an accepting host, alone in asking for it, with room and nothing against it, stays."""
    hosts, requests = fleet
    for r, p in zip(requests, place(hosts, requests), strict=True):
        h = next((h for h in hosts if h.name == r.current), None)
        if h is None or r.pin is not None or not h.accepting or r.storage or r.spread:
            continue
        alone = [other for other in requests if other.current == h.name or other.pin == h.name] == [r]
        if alone and r.labels <= h.labels and r.memory <= h.memory and r.vcpus <= h.vcpus:
            assert (p.host, p.reason) == (h.name, f"stays on {h.name}, where it runs")


def running_where_placed(requests: list[Request], placed: tuple[Placement, ...]) -> list[Request]:
    return [dataclasses.replace(r, current=p.host) for r, p in zip(requests, placed, strict=True)]


@PROPERTIES
@given(fleets())
def test_placed_again_nothing_moves(fleet: tuple[list[HostRoom], list[Request]]) -> None:
    """Each domain running where the last placement put it: the next placement moves none of them."""
    hosts, requests = fleet
    first = place(hosts, requests)
    again = place(hosts, running_where_placed(requests, first))
    assert [p.host for p in again if p.host is not None] == [p.host for p in first if p.host is not None]


@PROPERTIES
@given(fleets(), st.integers(0, 5))
def test_draining_a_host_moves_only_what_runs_there(fleet: tuple[list[HostRoom], list[Request]], which: int) -> None:
    """Only what ran on the drained host moves, unless a pin refused before (its storage made there) now fits."""
    hosts, requests = fleet
    first = place(hosts, requests)
    running = running_where_placed(requests, first)
    drained = hosts[which % len(hosts)].name
    hosts = [dataclasses.replace(h, accepting=False) if h.name == drained else h for h in hosts]
    pins_refused = any(r.pin is not None and p.host is None for r, p in zip(requests, first, strict=True))
    for r, p in zip(running, place(hosts, running), strict=True):
        assert p.host != drained
        if r.current is not None and r.current != drained and r.pin is None and not pins_refused:
            assert (p.host, p.reason) == (r.current, f"stays on {r.current}, where it runs")
