"""Closing a host and connecting again to the same URL finds it as it was left."""

from __future__ import annotations

from tests.contract.drivers import Subject
from tests.contract.support import GIB, OURS, booted, comparable

VG = "vgkept"


def test_a_new_connection_after_close_sees_the_same_host(subject: Subject) -> None:
    subject.need("persistence")
    booted(subject, "web1")
    booted(subject, "handmade", owner=None)
    caps = subject.capabilities
    if caps.volume_groups and caps.logical_volumes:
        subject.driver.create_volume_group(VG, subject.case.pvs, owner=OURS)
        subject.driver.create_logical_volume(VG, "data", GIB, owner=OURS)
    if caps.images:
        subject.driver.create_image("kept.img", GIB, owner=OURS)
    left = subject.driver.snapshot()
    subject.host.close()
    again = subject.reconnect()
    found = again.driver.snapshot()
    assert comparable(found) == comparable(left)
    web1 = found.domain("web1")
    assert web1 is not None and web1.owner == OURS
    assert len(found.domains) == 3


def test_a_lock_outlives_the_connection_that_took_it_while_its_process_lives(subject: Subject) -> None:
    subject.need("persistence")
    held = subject.driver.acquire_lock("xenctl apply specs/")
    subject.host.close()
    holder = subject.reconnect().driver.lock_holder()
    assert holder is not None and holder.id == held.id
