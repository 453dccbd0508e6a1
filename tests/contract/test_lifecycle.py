"""A domain's life through the driver: up, paused, shut down, rebooted, destroyed, saved and
restored; and what Xen refuses (Domain-0 is never destroyed, paused or saved; an unknown domain
is a NotFoundError naming it)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.contract.drivers import Subject
from tests.contract.support import OURS, booted, guest
from xenctl.engine.api import DOMAIN0, Driver, Phase
from xenctl.errors import EngineError, NotFoundError


def save_path(subject: Subject, name: str) -> str:
    return os.path.join(subject.driver.snapshot().host.save_dir, f"{name}.save")


def test_a_created_domain_comes_up(subject: Subject) -> None:
    subject.driver.create_domain(guest(subject, "web1"))
    waited = subject.driver.wait_domain("web1", "up", timeout=600)
    assert waited.reached
    assert subject.driver.domain("web1").is_up


def test_a_domain_created_paused_stays_paused_until_unpaused(subject: Subject) -> None:
    subject.can("pause")
    subject.driver.create_domain(guest(subject, "web1"), paused=True)
    assert subject.driver.domain("web1").phase is Phase.PAUSED
    subject.driver.unpause_domain("web1")
    assert subject.driver.wait_domain("web1", "up", timeout=600).reached


def test_pause_then_unpause(subject: Subject) -> None:
    subject.can("pause")
    domid = booted(subject).domid
    subject.driver.pause_domain("web1")
    assert subject.driver.domain("web1").phase is Phase.PAUSED
    assert not subject.driver.domain("web1").is_up
    subject.driver.unpause_domain("web1")
    assert subject.driver.domain("web1").is_up
    assert subject.driver.domain("web1").domid == domid


def test_a_shut_down_domain_is_gone(subject: Subject) -> None:
    booted(subject)
    subject.driver.shutdown_domain("web1")
    assert subject.driver.wait_domain("web1", "gone", timeout=600).reached
    assert subject.driver.snapshot().domain("web1") is None
    with pytest.raises(NotFoundError, match="web1"):
        subject.driver.domain("web1")


def test_a_rebooted_domain_comes_back_up_with_its_config(subject: Subject) -> None:
    before = booted(subject)
    subject.driver.reboot_domain("web1")
    assert subject.driver.wait_domain(str(before.domid), "gone", timeout=600).reached
    assert subject.driver.wait_domain("web1", "up", timeout=600).reached
    after = subject.driver.domain("web1")
    assert after.config == before.config
    assert after.owner == OURS


def test_a_destroyed_domain_is_gone_at_once(subject: Subject) -> None:
    booted(subject)
    subject.driver.destroy_domain("web1")
    assert subject.driver.snapshot().domain("web1") is None


def test_save_then_restore_gives_the_domain_back_under_a_new_domid(subject: Subject) -> None:
    subject.can("save_restore")
    before = booted(subject)
    path = save_path(subject, "web1")
    subject.driver.save_domain("web1", path)
    assert subject.driver.snapshot().domain("web1") is None
    assert subject.driver.saved_config(path).name == "web1"
    restored = subject.driver.restore_domain(path)
    assert restored.name == "web1"
    assert restored.domid != before.domid
    after = subject.driver.domain("web1")
    assert after.config == before.config
    assert after.owner == OURS
    assert subject.driver.wait_domain("web1", "up", timeout=600).reached


def test_restoring_a_domain_that_runs_again_is_refused(subject: Subject) -> None:
    subject.can("save_restore")
    booted(subject)
    path = save_path(subject, "web1")
    subject.driver.save_domain("web1", path)
    subject.driver.create_domain(guest(subject, "web1"))
    with pytest.raises(EngineError, match="web1"):
        subject.driver.restore_domain(path)


# -- what Xen refuses -------------------------------------------------------------------------

DOMAIN0_REFUSALS: dict[str, Callable[[Driver, str], object]] = {
    "destroy": lambda d, ref: d.destroy_domain(ref),
    "pause": lambda d, ref: d.pause_domain(ref),
    "save": lambda d, ref: d.save_domain(ref, os.path.join(d.snapshot().host.save_dir, "dom0.save")),
    "shutdown": lambda d, ref: d.shutdown_domain(ref),
}


@pytest.mark.parametrize("op", sorted(DOMAIN0_REFUSALS))
@pytest.mark.parametrize("ref", [DOMAIN0, "0"])
def test_domain_0_cannot_be_destroyed_paused_saved_or_shut_down(subject: Subject, op: str, ref: str) -> None:
    with pytest.raises(EngineError):
        DOMAIN0_REFUSALS[op](subject.driver, ref)
    dom0 = subject.driver.domain(DOMAIN0)
    assert dom0.is_up and dom0.phase is Phase.RUNNING


UNKNOWN_DOMAIN: dict[str, Callable[[Driver, str], object]] = {
    "domain": lambda d, ref: d.domain(ref),
    "shutdown": lambda d, ref: d.shutdown_domain(ref),
    "reboot": lambda d, ref: d.reboot_domain(ref),
    "destroy": lambda d, ref: d.destroy_domain(ref),
    "pause": lambda d, ref: d.pause_domain(ref),
    "unpause": lambda d, ref: d.unpause_domain(ref),
    "save": lambda d, ref: d.save_domain(ref, os.path.join(d.snapshot().host.save_dir, "x.save")),
    "mem-set": lambda d, ref: d.set_memory(ref, 64),
    "vcpu-set": lambda d, ref: d.set_vcpus(ref, 1),
    "set-owner": lambda d, ref: d.set_domain_owner(ref, OURS),
}


@pytest.mark.parametrize("op", sorted(UNKNOWN_DOMAIN))
def test_an_unknown_domain_is_not_found_and_named(subject: Subject, op: str) -> None:
    booted(subject, "web1")
    with pytest.raises(NotFoundError, match="nosuchguest"):
        UNKNOWN_DOMAIN[op](subject.driver, "nosuchguest")
    assert sorted(d.name for d in subject.driver.snapshot().domains) == sorted([DOMAIN0, "web1"])


def test_waiting_for_an_unknown_domain_to_be_gone_returns_at_once(subject: Subject) -> None:
    assert subject.driver.wait_domain("nosuchguest", "gone", timeout=600).reached
