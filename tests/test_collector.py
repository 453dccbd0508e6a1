"""The collector paused while large reads build their values: what a caller keeps skips the young
passes, and nothing of the caller's is lost or kept alive by it."""

from __future__ import annotations

import gc
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from xenctl import collector
from xenctl.collector import collector_paused
from xenctl.engine.api import DomainConfig
from xenctl.engine.sim import VirtualClock, open_host


class Node:
    """An object that can hold a cycle and be watched for collection."""

    def __init__(self) -> None:
        self.other: object = None


def garbage_cycle() -> weakref.ref[Node]:
    """A cycle nobody refers to: only the cyclic collector frees it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def in_generation(generation: int, obj: object) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """The collector on, as in a process that keeps running, and nothing frozen (an in-process
    command of an earlier test may have frozen its objects and left the collector off)."""
    was = gc.isenabled()
    gc.unfreeze()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_what_a_kept_block_makes_goes_to_the_oldest_generation() -> None:
    with collector_paused(kept=True):
        kept = [Node() for _ in range(50)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 50  # no young pass is owed over them
    assert in_generation(2, kept[0]) and in_generation(2, kept[-1])


def test_a_cycle_the_caller_dropped_before_the_block_is_still_collected() -> None:
    gc.collect()
    cycle = garbage_cycle()
    with collector_paused(kept=True):
        kept = [Node() for _ in range(10)]
    assert cycle() is None  # collected on the way in, not moved to the oldest generation alive
    assert kept


def test_cycles_moved_unexamined_are_collected_once_the_bound_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.collect()
    monkeypatch.setattr(collector, "_promoted", 0)
    monkeypatch.setattr(collector, "PROMOTED_BOUND", 10**9)
    with collector_paused(kept=True):
        moved = garbage_cycle()  # made while paused (another thread's, say): moved with the rest
    assert moved() is not None and in_generation(2, moved())
    monkeypatch.setattr(collector, "PROMOTED_BOUND", 100)
    with collector_paused(kept=True):
        kept = [Node() for _ in range(200)]
    assert moved() is None  # the bound passed: a full pass ran
    assert kept and collector._promoted == 0


def test_a_caller_that_froze_its_objects_keeps_them_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused(kept=True):
            kept = [Node() for _ in range(10)]
        assert gc.get_freeze_count() == frozen
        assert kept
    finally:
        gc.unfreeze()


def test_a_caller_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    with collector_paused(kept=True):
        pass
    assert not gc.isenabled()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_snapshot_leaves_no_young_pass_over_its_values(tmp_path: Path) -> None:
    host = open_host(str(tmp_path / "home"), clock=VirtualClock())
    for i in range(40):
        host.create_domain(DomainConfig(name=f"guest{i:02d}", memory=32))
    gc.collect()
    state = host.snapshot()
    host.close()
    assert len(state.domains) == 41
    assert gc.get_count()[0] < 200  # the 40 domains and their configs are old already
    assert in_generation(2, state.domains[-1])


def test_threads_that_pause_the_collector_at_once_never_leave_it_off() -> None:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as can be: in and out of each other's blocks
    try:

        def pause_often() -> None:
            for i in range(3000):
                with collector_paused(kept=i % 2 == 0):
                    pass

        threads = [threading.Thread(target=pause_often) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert gc.isenabled()
    assert collector._open == 0


def test_nothing_is_moved_while_another_thread_runs() -> None:
    gc.collect()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with collector_paused(kept=True):
            kept = [Node() for _ in range(50)]
            dropped = garbage_cycle()  # as another thread's could be: left to the young pass
    finally:
        stop.set()
        other.join()
    assert not in_generation(2, kept[0])
    gc.collect(0)
    assert dropped() is None


def test_nothing_is_moved_when_the_block_ends_in_an_exception() -> None:
    gc.collect()
    with pytest.raises(ValueError), collector_paused(kept=True):
        made = [Node() for _ in range(50)]
        raise ValueError("the read failed")
    assert gc.isenabled()
    assert not in_generation(2, made[0])
