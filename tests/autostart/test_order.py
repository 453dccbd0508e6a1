"""Boot and stop orders as graphs, without a host: who waits on whom, who is skipped when
something fails, what cannot start and why."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable

import networkx as nx

from tests.helpers import domain
from xenctl.autostart.order import (
    ORDERED,
    OTHERS,
    Order,
    boot_order,
    domain_node,
    is_barrier,
    order_node,
    stop_order,
)
from xenctl.engine.api import DOMAIN0, Domain, Phase
from xenctl.reconcile.walker import Outcome, walk
from xenctl.xmconfig.auto import Entry, Ordering


def entry(
    file: str,
    name: str | None = None,
    *,
    order: int | None = None,
    after: Iterable[str] = (),
    ip: str | None = None,
    nfs_server: str | None = None,
) -> Entry:
    fields: dict[str, object] = {"ip": ip}
    if nfs_server:
        fields.update(nfs_server=nfs_server, nfs_root="/export/root", root="/dev/nfs")
    ordering = Ordering(order=order, after=tuple(after))
    return Entry(file, f"/etc/xen/auto/{file}", domain(name or file, **fields), ordering, ordering.ordered)


def running(*names: str) -> list[Domain]:
    """Domains as a snapshot lists them (only the names matter to the order)."""
    return [
        Domain(
            domid=i,
            name=name,
            uuid=f"00000000-0000-0000-0000-{i:012d}",
            phase=Phase.RUNNING,
            memory=128,
            target=128,
            vcpus=1,
            cpu_time=0.0,
            config=domain(name),
        )
        for i, name in enumerate((DOMAIN0, *names))
    ]


def graph(order: Order) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(order.waits_on)
    g.add_edges_from((before, node) for node, befores in order.waits_on.items() for before in befores)
    return g


def comes_before(order: Order, first: str, then: str) -> bool:
    """``then`` waits (through any number of steps) until ``first`` is done."""
    return first in nx.ancestors(graph(order), then)


def unordered(order: Order, one: str, other: str) -> bool:
    return not comes_before(order, one, other) and not comes_before(order, other, one)


def simulate(order: Order, fails: Iterable[str] = ()) -> tuple[list[str], dict[str, str]]:
    """Walk the order one node at a time: the entries that ran, in order, and those skipped (with
    the failure behind each). An entry fails if ``order.failing`` or ``fails`` says so."""
    failing = set(order.failing) | set(fails)
    ran: list[str] = []
    skipped: dict[str, str] = {}

    def run(node: str) -> Outcome:
        if not is_barrier(node):
            ran.append(node)
        return Outcome(node, node not in failing)

    def skip(node: str, root: str) -> Outcome:
        skipped[node] = root
        return Outcome(node, False)

    walk(order.waits_on, run, skip, parallelism=1, needs=order.needs)
    return ran, skipped


def is_a_graph(order: Order) -> bool:
    try:
        graphlib.TopologicalSorter(order.waits_on).prepare()
    except graphlib.CycleError:
        return False
    return True


# -- boot -----------------------------------------------------------------------------------


def test_an_entry_starts_after_the_domains_it_names_and_needs_them() -> None:
    order = boot_order([entry("web", after=["db"]), entry("db", order=10)])
    assert order.waits_on["web"] == ("db",) and order.needs["web"] == ("db",)
    assert order.position() == {"db": 1, "web": 2}
    assert not order.failing
    ran, skipped = simulate(order, fails=["db"])
    assert ran == ["db"] and skipped == {"web": "db"}


def test_after_names_domains_and_finds_the_entry_that_starts_each() -> None:
    order = boot_order([entry("30-web", "web", after=["db"]), entry("20-db", "db", order=20)])
    assert comes_before(order, "20-db", "30-web")
    assert not order.failing


def test_entries_after_the_same_domain_are_independent_of_each_other() -> None:
    order = boot_order([entry("web1", after=["db"]), entry("web2", after=["db"]), entry("db", order=10)])
    assert comes_before(order, "db", "web1") and comes_before(order, "db", "web2")
    assert unordered(order, "web1", "web2")
    assert order.position() == {"db": 1, "web1": 2, "web2": 2}


def test_an_entry_after_a_domain_whose_entry_has_no_order_starts_after_it() -> None:
    order = boot_order([entry("web", after=["db"]), entry("db")])
    assert not order.failing
    assert comes_before(order, "db", "web")
    ran, skipped = simulate(order)
    assert ran == ["db", "web"] and not skipped


def test_order_groups_start_one_after_the_other_and_within_a_group_side_by_side() -> None:
    order = boot_order(
        [entry("a", order=10), entry("b", order=10), entry("c", order=20), entry("d", order=30), entry("e", order=20)]
    )
    for early in ("a", "b"):
        for late in ("c", "e"):
            assert comes_before(order, early, late)
        assert comes_before(order, early, "d")
    assert comes_before(order, "c", "d") and comes_before(order, "e", "d")
    assert unordered(order, "a", "b") and unordered(order, "c", "e")
    assert order.position() == {"a": 1, "b": 1, "c": 2, "e": 2, "d": 3}
    assert order_node(10) in order.waits_on  # one barrier a group: n entries make O(n) edges
    assert sum(len(w) for w in order.waits_on.values()) <= 2 * 5


def test_the_order_number_sorts_numerically_not_by_file_name() -> None:
    order = boot_order([entry("a", order=100), entry("b", order=9)])
    assert comes_before(order, "b", "a")


def test_a_failure_in_an_order_group_skips_nothing_in_the_next_group() -> None:
    order = boot_order([entry("a", order=10), entry("b", order=20), entry("c", order=30)])
    ran, skipped = simulate(order, fails=["a"])
    assert ran == ["a", "b", "c"] and not skipped


def test_entries_without_an_order_or_after_start_after_every_ordered_one() -> None:
    order = boot_order(
        [
            entry("zz-late", order=90),
            entry("web", after=["db"]),
            entry("db", order=10),
            entry("mail"),  # hand-placed, without metadata: as xendomains knew it
            entry("ftp"),
        ]
    )
    for ordered in ("zz-late", "web", "db"):
        assert comes_before(order, ordered, "mail") and comes_before(order, ordered, "ftp")
    assert unordered(order, "mail", "ftp")
    assert ORDERED in order.waits_on
    ran, skipped = simulate(order, fails=["db"])  # waiting is not needing: the unordered still start
    assert set(ran) == {"zz-late", "db", "mail", "ftp"} and skipped == {"web": "db"}


def test_with_no_ordered_entries_every_entry_starts_at_once() -> None:
    order = boot_order([entry("a"), entry("b"), entry("c")])
    assert order.position() == {"a": 1, "b": 1, "c": 1}
    assert ORDERED not in order.waits_on


def test_an_nfs_root_client_starts_after_the_entry_that_serves_its_root_and_needs_it() -> None:
    order = boot_order(
        [
            entry("web", nfs_server="10.0.0.2"),
            entry("nfs1", ip="10.0.0.2"),
            entry("mail"),
        ]
    )
    assert comes_before(order, "nfs1", "web")
    assert "nfs1" in order.needs["web"]
    assert unordered(order, "mail", "nfs1") and unordered(order, "mail", "web")
    _ran, skipped = simulate(order, fails=["nfs1"])
    assert skipped == {"web": "nfs1"}


def test_an_nfs_server_named_by_its_domain_name_orders_too() -> None:
    order = boot_order([entry("10-web", "web", nfs_server="nfs1"), entry("20-nfs", "nfs1")])
    assert comes_before(order, "20-nfs", "10-web")


def test_an_nfs_server_outside_the_host_orders_nothing() -> None:
    order = boot_order([entry("web", nfs_server="2.3.4.5"), entry("db")])
    assert order.waits_on["web"] == () and not order.failing


def test_a_cycle_fails_its_members_naming_it_and_the_rest_still_boot() -> None:
    order = boot_order(
        [
            entry("a", after=["b"]),
            entry("b", after=["a"]),
            entry("c", after=["a"]),
            entry("d", order=10),
            entry("e"),
        ]
    )
    assert set(order.failing) == {"a", "b"}
    for member in ("a", "b"):
        assert "cycle" in order.failing[member]
        assert "a" in order.failing[member] and "b" in order.failing[member]
    assert is_a_graph(order)
    ran, skipped = simulate(order)
    assert {"d", "e"} <= set(ran)
    assert skipped == {"c": "a"}  # it needed a member of the cycle


def test_a_cycle_through_order_groups_names_the_entries_not_the_barriers() -> None:
    order = boot_order([entry("a", order=10, after=["b"]), entry("b", order=20), entry("c", order=30)])
    assert {"a", "b"} <= set(order.failing)
    assert all("/order/" not in reason for reason in order.failing.values())
    assert is_a_graph(order)


def test_an_entry_after_its_own_domain_is_a_cycle() -> None:
    order = boot_order([entry("a", after=["a"]), entry("b")])
    assert "cycle" in order.failing["a"] and "b" not in order.failing
    assert is_a_graph(order)


def test_a_cycle_through_after_and_nfs_roots_both_is_still_broken() -> None:
    order = boot_order(
        [
            entry("a", ip="10.0.0.1", nfs_server="10.0.0.2", after=["b"]),
            entry("b", ip="10.0.0.2", nfs_server="10.0.0.1", after=["a"]),
            entry("c"),
        ]
    )
    assert set(order.failing) == {"a", "b"}
    assert is_a_graph(order)
    ran, _skipped = simulate(order)
    assert "c" in ran


def test_a_domain_in_two_entries_is_started_by_the_first_file_and_the_second_fails() -> None:
    order = boot_order([entry("db-copy", "db"), entry("db", order=10), entry("web", after=["db"])])
    assert list(order.failing) == ["db-copy"]
    assert "entry db already" in order.failing["db-copy"]
    assert order.waits_on["web"] == ("db",)
    ran, skipped = simulate(order)
    assert "web" in ran and not skipped  # the failing duplicate is nothing web needs


def test_after_a_domain_without_an_entry_is_fine_if_it_runs() -> None:
    order = boot_order([entry("web", after=["ldap"])], running=["ldap"])
    assert not order.failing
    assert order.waits_on["web"] == ()


def test_after_a_domain_without_an_entry_that_is_not_running_fails_and_skips_its_dependents() -> None:
    order = boot_order([entry("web", after=["ldap"]), entry("cache", after=["web"]), entry("db")])
    assert "ldap" in order.failing["web"]
    assert "no autostart entry and is not running" in order.failing["web"]
    ran, skipped = simulate(order)
    assert skipped == {"cache": "web"}
    assert "db" in ran


# -- stop -----------------------------------------------------------------------------------


FARM = [
    entry("nfs1", ip="10.0.0.2", order=10),
    entry("db", order=20),
    entry("web1", after=["db"], nfs_server="10.0.0.2"),
    entry("web2", after=["db"], nfs_server="10.0.0.2"),
]


def test_stop_is_boot_backwards() -> None:
    boot = boot_order(FARM)
    stop = stop_order(FARM, running("nfs1", "db", "web1", "web2"))
    for node, befores in boot.waits_on.items():
        for earlier in befores:
            assert comes_before(stop, node, earlier)
    assert comes_before(stop, "web1", "db") and comes_before(stop, "web2", "db")
    assert comes_before(stop, "db", "nfs1")
    assert unordered(stop, "web1", "web2")
    assert set(stop.entries) == {"nfs1", "db", "web1", "web2"}


def test_nothing_in_a_stop_needs_anything() -> None:
    stop = stop_order(FARM, running("nfs1", "db", "web1", "web2"))
    assert all(needs == () for needs in stop.needs.values())
    ran, skipped = simulate(stop, fails=["web1"])  # a guest that will not stop cancels no other stop
    assert not skipped and set(ran) == {"nfs1", "db", "web1", "web2"}


def test_domains_without_an_entry_stop_first() -> None:
    stop = stop_order(FARM, running("nfs1", "db", "web1", "web2", "scratch", "test"))
    for node in ("nfs1", "db", "web1", "web2"):
        assert comes_before(stop, domain_node("scratch"), node)
        assert comes_before(stop, domain_node("test"), node)
    assert unordered(stop, domain_node("scratch"), domain_node("test"))
    assert OTHERS in stop.waits_on
    assert domain_node(DOMAIN0) not in stop.waits_on


def test_entries_whose_domain_is_not_running_stop_nothing_but_keep_the_order() -> None:
    stop = stop_order(FARM, running("nfs1", "web1"))  # db is not running
    assert set(stop.entries) == {"nfs1", "web1"}
    assert comes_before(stop, "web1", "nfs1")
    chain = [entry("a", order=1), entry("b", order=2), entry("c", order=3)]
    stop = stop_order(chain, running("a", "c"))  # b is down: c still stops before a
    assert comes_before(stop, "c", "a")


def test_a_domain_in_two_entries_is_stopped_once_by_the_first() -> None:
    stop = stop_order([entry("db"), entry("db-copy", "db")], running("db"))
    assert list(stop.entries) == ["db"]


def test_with_no_guests_running_a_stop_stops_nothing() -> None:
    stop = stop_order(FARM, running())
    assert stop.entries == {}
    assert OTHERS not in stop.waits_on


def test_an_order_group_after_one_that_starts_after_an_unordered_entry_is_no_cycle() -> None:
    # u has no metadata; o (order 10) starts after u; p (order 20) comes after o's group.
    order = boot_order([entry("u"), entry("o", order=10, after=["u"]), entry("p", order=20)])
    assert order.failing == {}
    graphlib.TopologicalSorter(order.waits_on).prepare()  # acyclic
    assert "u" in order.waits_on["o"]
    assert order_node(10) in order.waits_on["p"]


def test_list_knows_what_a_failing_entry_takes_with_it() -> None:
    order = boot_order([entry("a", after=["b"]), entry("b", after=["a"]), entry("c", after=["a"]), entry("d")])
    assert set(order.failing) == {"a", "b"}
    assert order.blocked() == {"c": "a"}
