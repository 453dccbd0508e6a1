"""Creating domains on the simulated host: xend's name rules, domids, and config checks (XEN.md 2, 5)."""

from __future__ import annotations

import pytest

from tests.helpers import domain
from xenctl.engine.api import DOMAIN0, Phase, Vif
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.engine.sim.context import Ctx
from xenctl.engine.sim.lifecycle import DOMID_FIRST_RESERVED
from xenctl.engine.sim.store import write_txn
from xenctl.errors import XenError


def names(host: SimHost) -> list[str]:
    return [d.name for d in host.snapshot().domains]


def set_last_domid(host: SimHost, clock: VirtualClock, value: int) -> None:
    with write_txn(host.db):
        Ctx(host.db, clock.now(), host.profile, clock.scale).set_meta("last_domid", value)


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web1", "a", "Web_1-b.c:d+e", "x" * 64])
def test_names_made_of_xends_characters_up_to_64_long_are_accepted(host: SimHost, name: str) -> None:
    created = host.create_domain(domain(name))
    assert created.name == name
    assert host.domain(name).domid == created.domid


@pytest.mark.parametrize(
    "name",
    ["", "web 1", "web;rm", "caf\u00e9", "tab\tname", "quote'd", "web1/../etc", "a/b", "..", ".", "x" * 65],
)
def test_names_outside_the_rules_are_refused_as_invalid_vm_name(host: SimHost, name: str) -> None:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain(name))
    assert caught.value.message.startswith("Invalid VM Name")
    assert names(host) == [DOMAIN0]


def test_a_name_already_in_use_is_refused_with_the_domid_that_holds_it(host: SimHost) -> None:
    host.create_domain(domain("web1"))
    db = host.create_domain(domain("db1"))
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("db1", 512))
    assert caught.value.message == f"VM name 'db1' already exists as domain {db.domid}"
    assert names(host) == [DOMAIN0, "db1", "web1"]
    assert host.domain("db1").memory == 128


def test_domain0s_name_cannot_be_taken_by_a_guest(host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain(DOMAIN0))
    assert caught.value.message == "VM name 'Domain-0' already exists as domain 0"


def test_a_name_becomes_free_again_once_its_domain_is_destroyed(host: SimHost) -> None:
    first = host.create_domain(domain("web1"))
    host.destroy_domain("web1")
    again = host.create_domain(domain("web1"))
    assert again.name == "web1"
    assert again.domid > first.domid
    assert again.uuid != first.uuid


# -- Domain-0 and domids --------------------------------------------------------------------


def test_a_fresh_host_lists_only_domain0_with_domid_0_running(host: SimHost) -> None:
    (dom0,) = host.snapshot().domains
    assert (dom0.name, dom0.domid, dom0.state) == (DOMAIN0, 0, "r-----")
    assert dom0.memory == 1024
    assert host.domain("0").name == DOMAIN0
    assert host.domain(DOMAIN0).domid == 0


def test_domain0_stays_listed_with_domid_0_beside_guests(host: SimHost) -> None:
    for name in ("zeta", "Alpha", "web1"):
        host.create_domain(domain(name))
    listed = host.snapshot().domains
    assert [d.name for d in listed] == ["Alpha", DOMAIN0, "web1", "zeta"]  # by name, ASCII, not forced first
    assert [d.domid for d in listed if d.name == DOMAIN0] == [0]
    assert 0 not in [d.domid for d in listed if d.name != DOMAIN0]


def test_domids_start_at_1_and_grow_with_each_create(host: SimHost) -> None:
    created = [host.create_domain(domain(f"vm{i}")).domid for i in range(4)]
    assert created == [1, 2, 3, 4]


def test_a_destroyed_domains_domid_is_not_given_again(host: SimHost) -> None:
    host.create_domain(domain("a"))
    b = host.create_domain(domain("b"))
    host.destroy_domain("b")
    assert host.create_domain(domain("c")).domid == b.domid + 1
    host.destroy_domain("a")
    host.destroy_domain("c")
    assert host.create_domain(domain("d")).domid == b.domid + 2


def test_a_refused_create_does_not_change_the_listing(host: SimHost) -> None:
    host.create_domain(domain("a"))
    before = host.snapshot().domains
    with pytest.raises(XenError):
        host.create_domain(domain("b", vifs=(Vif(bridge="xenbr9"),)))
    assert host.snapshot().domains == before


def test_domids_wrap_to_1_below_the_reserved_range_skipping_ids_in_use(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("a"))  # 1
    host.create_domain(domain("b"))  # 2
    set_last_domid(host, clock, DOMID_FIRST_RESERVED - 2)
    last = host.create_domain(domain("c"))
    assert last.domid == DOMID_FIRST_RESERVED - 1 == 0x7FEF
    wrapped = host.create_domain(domain("d"))
    assert wrapped.domid == 3  # 0x7FF0 is reserved; 1 and 2 are taken
    assert host.create_domain(domain("e")).domid == 4


def test_domids_never_reach_the_reserved_range(host: SimHost, clock: VirtualClock) -> None:
    set_last_domid(host, clock, DOMID_FIRST_RESERVED - 1)
    assert host.create_domain(domain("a")).domid == 1


# -- the configuration ------------------------------------------------------------------------


def test_a_new_domain_carries_its_configuration(host: SimHost) -> None:
    created = host.create_domain(domain("web1", 384, vcpus=2, maxmem=512, disks=[("hda3", "sda1", "w")]))
    assert (created.memory, created.target, created.vcpus) == (384, 384, 2)
    assert created.config.maxmem == 512
    assert [(d.target, d.vdev, d.mode.value) for d in created.config.disks] == [("/dev/hda3", "sda1", "w")]
    assert created.uuid and created.config.uuid == created.uuid
    assert created.config.vifs[0].bridge == "xenbr0"
    assert created.config.vifs[0].mac is not None and created.config.vifs[0].mac.startswith("00:16:3e:")


def test_a_vif_on_a_missing_bridge_is_refused(host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("web1", vifs=(Vif(), Vif(bridge="xenbr7"))))
    assert "Could not find bridge device xenbr7" in caught.value.message
    assert names(host) == [DOMAIN0]


def test_a_vif_on_any_bridge_of_the_profile_is_accepted(host: SimHost) -> None:
    created = host.create_domain(domain("web1", vifs=(Vif(bridge="xenbr1"),)))
    assert [v.bridge for v in created.config.vifs] == ["xenbr1"]


def test_maxmem_below_memory_is_refused(host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("web1", 512, maxmem=256))
    assert "memory_dynamic_max must be less than or equal to memory_static_max" in caught.value.message
    assert names(host) == [DOMAIN0]


def test_maxmem_equal_to_memory_is_accepted(host: SimHost) -> None:
    assert host.create_domain(domain("web1", 512, maxmem=512)).memory == 512


def test_more_vcpus_than_maxvcpus_is_refused(host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("web1", vcpus=4, maxvcpus=2))
    assert "vcpus" in caught.value.message
    assert names(host) == [DOMAIN0]


def test_fewer_vcpus_than_maxvcpus_boots_with_the_vcpus_online(host: SimHost) -> None:
    assert host.create_domain(domain("web1", vcpus=2, maxvcpus=4)).vcpus == 2


@pytest.mark.parametrize(("server", "root"), [("2.3.4.5", None), (None, "/path/to/root")])
def test_nfs_server_and_nfs_root_must_come_together(host: SimHost, server: str | None, root: str | None) -> None:
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("web1", nfs_server=server, nfs_root=root))
    assert caught.value.message == "Must set nfs root and nfs server"
    assert names(host) == [DOMAIN0]


def test_a_new_domain_is_listed_booting_at_once(host: SimHost) -> None:
    host.create_domain(domain("web1"))
    listed = host.snapshot().domain("web1")
    assert listed is not None
    assert listed.phase is Phase.BOOTING
    assert listed.state == "r-----"
