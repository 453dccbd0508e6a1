"""Creating domains and the ownership marks on them, as every driver must show them."""

from __future__ import annotations

import pytest

from tests.contract.drivers import Subject
from tests.contract.support import OURS, guest
from xenctl.engine.api import DOMAIN0, DiskMode, DomainDisk, Owner
from xenctl.errors import EngineError, NotFoundError


def test_a_created_domain_is_listed_by_name_and_domid(subject: Subject) -> None:
    made = subject.driver.create_domain(guest(subject, "web1"))
    listed = subject.driver.snapshot().domain("web1")
    assert listed is not None
    assert made.domid > 0
    assert (listed.name, listed.domid) == ("web1", made.domid)
    assert subject.driver.domain("web1").domid == made.domid
    assert subject.driver.domain(str(made.domid)).name == "web1"


def test_a_created_domain_reads_back_the_config_it_was_made_from(subject: Subject) -> None:
    disks = (DomainDisk(subject.case.guest_disk, "sda1", DiskMode.WRITE, "phy"),)
    config = guest(subject, "db1", memory=192, maxmem=384, vcpus=2, disks=disks, root="/dev/sda1 ro")
    subject.driver.create_domain(config)
    for read in (subject.driver.domain("db1"), subject.driver.snapshot().domain("db1")):
        assert read is not None
        back = read.config
        assert (back.memory, back.memory_ceiling, back.vcpus) == (192, 384, 2)
        assert back.kernel == subject.case.kernel
        assert back.disks == disks
        assert [v.bridge for v in back.vifs] == [subject.case.bridge]
        assert [v.mac for v in back.vifs] == ["00:16:3e:00:00:01"]
        assert read.target == 192


def test_domain_0_is_always_listed_with_domid_0(subject: Subject) -> None:
    dom0 = subject.driver.snapshot().domain(DOMAIN0)
    assert dom0 is not None and dom0.domid == 0
    assert subject.driver.domain(DOMAIN0).domid == 0


def test_two_domains_get_different_domids(subject: Subject) -> None:
    first = subject.driver.create_domain(guest(subject, "web1"))
    second = subject.driver.create_domain(guest(subject, "web2"))
    assert first.domid != second.domid


def test_a_second_domain_of_the_same_name_is_refused_and_the_first_stays(subject: Subject) -> None:
    first = subject.driver.create_domain(guest(subject, "web1"))
    with pytest.raises(EngineError, match="web1"):
        subject.driver.create_domain(guest(subject, "web1", memory=64))
    names = [d.name for d in subject.driver.snapshot().domains]
    assert names.count("web1") == 1
    assert subject.driver.domain("web1").domid == first.domid
    assert subject.driver.domain("web1").config.memory == 128


# -- ownership ------------------------------------------------------------------------------


def test_the_owner_given_at_create_is_read_back(subject: Subject) -> None:
    subject.driver.create_domain(guest(subject, "web1"), owner=OURS)
    assert subject.driver.domain("web1").owner == OURS
    listed = subject.driver.snapshot().domain("web1")
    assert listed is not None and listed.owner == OURS


def test_a_hand_made_domain_has_no_owner(subject: Subject) -> None:
    subject.driver.create_domain(guest(subject, "handmade"))
    assert subject.driver.domain("handmade").owner is None
    assert subject.driver.domain(DOMAIN0).owner is None


def test_set_domain_owner_marks_and_unmarks_a_domain(subject: Subject) -> None:
    subject.driver.create_domain(guest(subject, "web1"))
    adopted = Owner("xenctl", "specs/adopted.yaml")
    subject.driver.set_domain_owner("web1", adopted)
    assert subject.driver.domain("web1").owner == adopted
    subject.driver.set_domain_owner("web1", None)
    assert subject.driver.domain("web1").owner is None


@pytest.mark.parametrize("ref", [DOMAIN0, "0"])
def test_domain_0_cannot_be_marked_owned_and_the_refusal_does_not_say_it_is_missing(subject: Subject, ref: str) -> None:
    with pytest.raises(EngineError) as refused:
        subject.driver.set_domain_owner(ref, OURS)
    assert not isinstance(refused.value, NotFoundError), refused.value.message
    assert "does not exist" not in refused.value.message
    assert subject.driver.domain(DOMAIN0).owner is None
