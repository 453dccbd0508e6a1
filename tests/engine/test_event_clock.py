"""EventClock: virtual time that moves only while every piece of held work sleeps, so work side
by side takes the time of the longest, not the sum."""

from __future__ import annotations

import threading

import pytest

from xenctl.engine.sim import EventClock


def _held(clock: EventClock, *sleeps: float) -> list[float]:
    """Run one held worker per list of sleeps; return when (relative) each one finished."""
    origin = clock.now()
    finished: list[float] = [0.0] * len(sleeps)

    def work(i: int, seconds: float) -> None:
        with clock.working():
            clock.sleep(seconds)
            finished[i] = clock.now() - origin
        clock.release()

    threads = []
    for i, seconds in enumerate(sleeps):
        clock.hold()
        threads.append(threading.Thread(target=work, args=(i, seconds)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), "the clock stalled"
    return finished


def test_sleeps_side_by_side_take_the_longest_not_the_sum() -> None:
    clock = EventClock()
    assert _held(clock, 5.0, 3.0, 8.0) == [5.0, 3.0, 8.0]


def test_time_stands_still_while_held_work_is_awake() -> None:
    clock = EventClock()
    origin = clock.now()
    clock.hold()  # work in flight, busy, not sleeping
    woke = threading.Event()

    def sleeper() -> None:
        clock.sleep(2.0)
        woke.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    assert not woke.wait(0.05)
    assert clock.now() == origin
    clock.release()  # the busy work is done: time may move for the sleeper
    assert woke.wait(5)
    thread.join()
    assert clock.now() == origin + 2.0


def test_with_nothing_held_a_sleep_moves_time_at_once() -> None:
    clock = EventClock(start=100.0)
    clock.sleep(7.5)
    clock.sleep(0)
    assert clock.now() == 107.5


def test_releasing_what_was_not_held_is_a_bug_caught_at_once() -> None:
    with pytest.raises(RuntimeError, match="released more work than was held"):
        EventClock().release()


def test_a_sleeper_outside_held_work_that_wakes_first_does_not_stall_the_held_ones() -> None:
    clock = EventClock()
    origin = clock.now()
    clock.hold()  # held work, awake: the outside sleeper below has to wait its turn
    outside = threading.Thread(target=clock.sleep, args=(2.0,))
    outside.start()
    woke_at: list[float] = []

    def held() -> None:
        with clock.working():
            clock.sleep(8.0)
            woke_at.append(clock.now() - origin)
        clock.release()

    worker = threading.Thread(target=held)
    worker.start()
    for thread in (outside, worker):
        thread.join(timeout=5)
        assert not thread.is_alive(), "the clock stalled"
    assert woke_at == [8.0]
