"""Memory and vCPU limits: a running guest changes within its ceilings, is refused above them
with the limit named, and the next snapshot shows the change."""

from __future__ import annotations

import pytest

from tests.contract.drivers import Subject
from tests.contract.support import booted
from xenctl.errors import EngineError


def test_set_memory_within_maxmem_is_seen_in_the_next_snapshot(subject: Subject) -> None:
    subject.can("live_memory")
    booted(subject, memory=128, maxmem=256)
    subject.driver.set_memory("web1", 256)
    listed = subject.driver.snapshot().domain("web1")
    assert listed is not None and listed.target == 256
    subject.driver.set_memory("web1", 96)
    assert subject.driver.domain("web1").target == 96


def test_set_memory_above_maxmem_is_refused_naming_the_limit(subject: Subject) -> None:
    subject.can("live_memory")
    booted(subject, memory=128, maxmem=256)
    with pytest.raises(EngineError, match="max") as refused:
        subject.driver.set_memory("web1", 257)
    assert refused.value.obj == "web1"
    assert subject.driver.domain("web1").target == 128


def test_set_vcpus_within_the_boot_vcpus_is_seen_in_the_next_snapshot(subject: Subject) -> None:
    subject.can("live_vcpus")
    booted(subject, vcpus=2)
    subject.driver.set_vcpus("web1", 1)
    listed = subject.driver.snapshot().domain("web1")
    assert listed is not None and listed.vcpus == 1
    subject.driver.set_vcpus("web1", 2)
    assert subject.driver.domain("web1").vcpus == 2


def test_set_vcpus_above_the_boot_vcpus_is_refused_naming_the_limit(subject: Subject) -> None:
    subject.can("live_vcpus")
    booted(subject, vcpus=2)
    with pytest.raises(EngineError, match="max") as refused:
        subject.driver.set_vcpus("web1", 3)
    assert refused.value.obj == "web1"
    assert subject.driver.domain("web1").vcpus == 2


@pytest.mark.parametrize("mib", [0, -64])
def test_memory_of_nothing_is_refused(subject: Subject, mib: int) -> None:
    subject.can("live_memory")
    booted(subject)
    with pytest.raises(EngineError):
        subject.driver.set_memory("web1", mib)
    assert subject.driver.domain("web1").target == 128


@pytest.mark.parametrize("count", [0, -1])
def test_no_vcpus_at_all_is_refused(subject: Subject, count: int) -> None:
    subject.can("live_vcpus")
    booted(subject)
    with pytest.raises(EngineError):
        subject.driver.set_vcpus("web1", count)
    assert subject.driver.domain("web1").vcpus == 2
