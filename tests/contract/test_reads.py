"""Reading a host: ``change_token`` moves with every change and only then, and ``snapshot_of``
reads the named objects exactly as ``snapshot`` does, with Domain-0 and unmanaged guests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.contract.drivers import Subject
from tests.contract.support import GIB, OURS, booted, comparable, guest, steady, still_image, still_lv
from xenctl.engine.api import DOMAIN0, Owner, Selection
from xenctl.errors import EngineError

VG = "vgreads"


def furnished(subject: Subject) -> str:
    """A host with two managed guests and a hand-made one, and what storage the driver can hold:
    a volume group with two volumes, an image file (its path is returned, or "")."""
    booted(subject, "web1")
    booted(subject, "web2")
    booted(subject, "handmade", owner=None)
    caps = subject.capabilities
    if caps.volume_groups and caps.logical_volumes:
        subject.driver.create_volume_group(VG, subject.case.pvs, owner=OURS)
        subject.driver.create_logical_volume(VG, "data", GIB, owner=OURS)
        subject.driver.create_logical_volume(VG, "other", GIB, owner=OURS)
    return subject.driver.create_image("reads.img", GIB, owner=OURS) if caps.images else ""


# -- the change token ---------------------------------------------------------------------------


def test_the_change_token_is_stable_while_nothing_changes(subject: Subject) -> None:
    subject.need("change_token")
    furnished(subject)
    first = subject.driver.change_token()
    assert first is not None
    subject.driver.snapshot()
    subject.driver.snapshot_of(Selection(domains=frozenset({"web1"})))
    subject.driver.domain("web1")
    assert subject.driver.change_token() == first
    assert subject.reconnect().driver.change_token() == first


# Each mutation, with the capability it needs (None: every driver can).
MUTATIONS: dict[str, tuple[str | None, Callable[[Subject, str], object]]] = {
    "create": (None, lambda s, img: s.driver.create_domain(guest(s, "web3"))),
    "destroy": (None, lambda s, img: s.driver.destroy_domain("web2")),
    "shutdown": (None, lambda s, img: s.driver.shutdown_domain("web2")),
    "domain owner": (None, lambda s, img: s.driver.set_domain_owner("handmade", OURS)),
    "pause": ("pause", lambda s, img: s.driver.pause_domain("web1")),
    "mem-set": ("live_memory", lambda s, img: s.driver.set_memory("web1", 200)),
    "vcpu-set": ("live_vcpus", lambda s, img: s.driver.set_vcpus("web1", 1)),
    "lv-create": ("logical_volumes", lambda s, img: s.driver.create_logical_volume(VG, "more", GIB)),
    "lv-grow": ("grow:lvm", lambda s, img: s.driver.grow_logical_volume(VG, "data", 2 * GIB)),
    "lv-remove": ("logical_volumes", lambda s, img: s.driver.remove_logical_volume(VG, "other")),
    "lv format": ("logical_volumes", lambda s, img: s.driver.format_volume(f"/dev/{VG}/data", "ext3")),
    "image-create": ("images", lambda s, img: s.driver.create_image("more.img", GIB)),
    "image-grow": ("grow:file", lambda s, img: s.driver.grow_image(img, 2 * GIB)),
    "image format": ("images", lambda s, img: s.driver.format_volume(img, "ext3")),
    "volume owner": ("images", lambda s, img: s.driver.set_volume_owner(img, Owner("xenctl", "elsewhere.yaml"))),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_change_token_changes_after_every_mutation(subject: Subject, mutation: str) -> None:
    subject.need("change_token")
    needs, mutate = MUTATIONS[mutation]
    if needs is not None:
        subject.can(needs)
    image = furnished(subject)
    before = subject.driver.change_token()
    mutate(subject, image)
    after = subject.driver.change_token()
    assert after is not None and after != before
    assert subject.reconnect().driver.change_token() == after


def test_a_refused_mutation_leaves_the_change_token_as_it_was(subject: Subject) -> None:
    subject.need("change_token")
    furnished(subject)
    before = subject.driver.change_token()
    with pytest.raises(EngineError, match="nosuchguest"):
        subject.driver.destroy_domain("nosuchguest")
    with pytest.raises(EngineError):
        subject.driver.create_domain(guest(subject, "web1"))
    assert subject.driver.change_token() == before


# -- snapshot_of --------------------------------------------------------------------------------


def test_a_selection_reads_the_named_guests_exactly_as_a_snapshot_does(subject: Subject) -> None:
    furnished(subject)
    token, part = subject.driver.snapshot_of(Selection(domains=frozenset({"web1"})))
    whole = subject.driver.snapshot()
    assert token == subject.driver.change_token()
    names = {d.name for d in part.domains}
    assert names == {DOMAIN0, "web1", "handmade"}  # Domain-0 and the unmanaged guest come whole
    for domain in part.domains:
        listed = whole.domain(domain.name)
        assert listed is not None and steady(domain) == steady(listed)


def test_a_selection_reads_the_host_facts_whole(subject: Subject) -> None:
    furnished(subject)
    _token, part = subject.driver.snapshot_of(Selection())
    whole = subject.driver.snapshot()
    assert comparable(part)[0] == comparable(whole)[0]  # HostInfo: totals over every guest
    assert part.partitions == whole.partitions
    assert part.volume_groups == whole.volume_groups
    assert part.nfs_exports == whole.nfs_exports
    assert {d.name for d in part.domains} == {DOMAIN0, "handmade"}


def test_a_selection_reads_the_named_volumes_exactly_as_a_snapshot_does(subject: Subject) -> None:
    subject.can("logical_volumes")
    subject.can("images")
    image = furnished(subject)
    selection = Selection(volumes=frozenset({"data"}), paths=frozenset({image}))
    _token, part = subject.driver.snapshot_of(selection)
    whole = subject.driver.snapshot()
    assert [lv.name for lv in part.logical_volumes] == ["data"]
    assert [still_lv(lv) for lv in part.logical_volumes] == [
        still_lv(lv) for lv in whole.logical_volumes if lv.name == "data"
    ]
    assert [still_image(i) for i in part.images] == [still_image(i) for i in whole.images if i.path == image]


def test_an_empty_selection_of_a_host_with_nothing_on_it_is_the_whole_snapshot(subject: Subject) -> None:
    _token, part = subject.driver.snapshot_of(Selection())
    assert comparable(part) == comparable(subject.driver.snapshot())


def test_a_selection_of_an_origin_reads_its_snapshots_and_a_path_reads_its_volume(subject: Subject) -> None:
    subject.can("snapshots")
    furnished(subject)
    subject.driver.create_snapshot(VG, "data-snap", "data", GIB // 4, owner=OURS)
    _token, by_origin = subject.driver.snapshot_of(Selection(volumes=frozenset({"data"})))
    assert sorted(lv.name for lv in by_origin.logical_volumes) == ["data", "data-snap"]
    _token, by_path = subject.driver.snapshot_of(Selection(paths=frozenset({f"/dev/{VG}/other"})))
    assert [lv.path for lv in by_path.logical_volumes] == [f"/dev/{VG}/other"]
    assert by_path.images == ()
