"""The collector paused while many small objects are built: they are not walked again after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from xenctl.collector import PROMOTED, collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_a_large_batch_leaves_the_young_generations_after_the_pause(collector_on: None) -> None:
    """Else the next young collection would walk it all, and the one after that again."""
    with collector_paused():
        kept = [[i, str(i)] for i in range(PROMOTED * 2)]
    assert gc.isenabled()
    young = {id(o) for o in gc.get_objects(generation=0)} | {id(o) for o in gc.get_objects(generation=1)}
    assert not any(id(item) in young for item in kept)
    assert id(kept[0]) in {id(o) for o in gc.get_objects(generation=2)}


def test_a_small_batch_is_left_to_the_young_collections(collector_on: None) -> None:
    gc.collect()
    with collector_paused():
        kept = [[i] for i in range(100)]
    assert id(kept[0]) in {id(o) for o in gc.get_objects(generation=0)}


def test_a_cycle_made_during_the_pause_is_still_collected(collector_on: None) -> None:
    gc.collect()
    with collector_paused():
        batch = [[i] for i in range(PROMOTED * 2)]
        a, b = Node(), Node()
        a.other, b.other = b, a
    del a, b, batch
    assert gc.collect() >= 2  # the full collection finds the two nodes


def test_a_caller_that_turned_the_collector_off_keeps_it_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            _batch = [[i] for i in range(PROMOTED * 2)]
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
