"""The host's lock: one mutating command at a time, the holder named to whoever is refused, and
a lock whose process is gone taken over."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.contract.drivers import Subject
from tests.helpers import ROOT
from xenctl.errors import LockError


def test_a_second_connection_is_refused_naming_the_holders_command_and_pid(subject: Subject) -> None:
    held = subject.driver.acquire_lock("xenctl apply specs/")
    other = subject.host.open_driver()
    try:
        with pytest.raises(LockError) as refused:
            other.acquire_lock("xenctl apply other/")
        assert "xenctl apply specs/" in refused.value.message
        assert str(os.getpid()) in refused.value.message
    finally:
        other.close()
    assert held.pid == os.getpid()


def test_the_lock_holder_is_named_to_every_connection(subject: Subject) -> None:
    assert subject.driver.lock_holder() is None
    held = subject.driver.acquire_lock("xenctl apply specs/")
    holder = subject.reconnect().driver.lock_holder()
    assert holder is not None
    assert (holder.id, holder.command, holder.pid) == (held.id, "xenctl apply specs/", os.getpid())


def test_a_released_lock_can_be_taken_by_the_next_command(subject: Subject) -> None:
    held = subject.driver.acquire_lock("xenctl apply specs/")
    subject.driver.release_lock(held)
    assert subject.driver.lock_holder() is None
    other = subject.reconnect().driver
    mine = other.acquire_lock("xenctl apply other/")
    holder = subject.driver.lock_holder()
    assert holder is not None and (holder.id, holder.command) == (mine.id, "xenctl apply other/")


def test_force_unlock_removes_the_lock_by_its_id(subject: Subject) -> None:
    held = subject.driver.acquire_lock("xenctl apply specs/")
    other = subject.reconnect().driver
    removed = other.force_unlock(held.id)
    assert (removed.id, removed.command) == (held.id, "xenctl apply specs/")
    assert other.lock_holder() is None
    assert other.acquire_lock("xenctl apply other/").command == "xenctl apply other/"


def test_force_unlock_of_a_lock_that_is_not_there_is_refused_and_keeps_the_holder(subject: Subject) -> None:
    held = subject.driver.acquire_lock("xenctl apply specs/")
    with pytest.raises(LockError, match=str(held.id + 1)):
        subject.reconnect().driver.force_unlock(held.id + 1)
    holder = subject.driver.lock_holder()
    assert holder is not None and holder.id == held.id


def test_host_locked_holds_the_lock_for_the_block_only(subject: Subject) -> None:
    with subject.host.locked("xenctl apply specs/") as held:
        holder = subject.reconnect().driver.lock_holder()
        assert holder is not None and holder.id == held.id
    assert subject.driver.lock_holder() is None


def test_a_lock_whose_holder_process_is_gone_is_taken_over(subject: Subject) -> None:
    subject.need("stale_lock_takeover")
    # A command that takes the lock and dies without a word (as kill -9 leaves it).
    dies_holding = textwrap.dedent(
        f"""
        import os
        from xenctl.app.host import Settings, connect
        held = connect({subject.url!r}, Settings(time_scale=0)).driver.acquire_lock("xenctl apply crashed/")
        print(held.pid, flush=True)
        os._exit(0)
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", dies_holding], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    dead_pid = int(ran.stdout)
    stale = subject.driver.lock_holder()
    assert stale is not None and (stale.pid, stale.command) == (dead_pid, "xenctl apply crashed/")
    mine = subject.driver.acquire_lock("xenctl apply specs/")
    holder = subject.driver.lock_holder()
    assert holder is not None and (holder.id, holder.pid, holder.command) == (mine.id, os.getpid(), mine.command)
