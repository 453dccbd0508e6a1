"""Every refusal of a migration between simulated hosts: one line naming the host, and the file
and value where a file decides; nothing changes on either host."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.migrate.conftest import Pair, make_host, web
from xenctl.app.migrate import migrate, migration_refusal
from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, OnEvent
from xenctl.errors import XenError


def refused(pair: Pair, domain: str = "web1") -> str:
    said = migration_refusal(pair.a, pair.b, domain, live=True)
    assert said is not None
    before = (pair.names(pair.a), pair.names(pair.b))
    with pytest.raises(XenError) as caught:
        migrate(pair.a, pair.b, domain, live=True)
    assert caught.value.message == said
    assert (pair.names(pair.a), pair.names(pair.b)) == before
    return said


def test_a_guest_on_a_shared_disk_can_move(pair: Pair) -> None:
    pair.a.driver.create_domain(web())
    assert migration_refusal(pair.a, pair.b, "web1", live=True) is None


def test_a_target_without_the_relocation_server_refuses_naming_its_file(pair: Pair) -> None:
    (pair.tmp / "b" / "etc" / "xen" / "xend-config.sxp").unlink()
    pair.b = make_host(pair.tmp, "c", xend=None)
    pair.a.driver.create_domain(web())
    said = refused(pair)
    assert said.startswith("host c does not take migrations:")
    assert "xend-config.sxp has no (xend-relocation-server yes): xend's default is no" in said


def test_relocation_server_no_is_named_with_its_line(pair: Pair) -> None:
    pair.b = make_host(pair.tmp, "c", xend="# xend\n(xend-relocation-server no)\n")
    pair.a.driver.create_domain(web())
    assert refused(pair).endswith(
        "says (xend-relocation-server no) at " + str(pair.tmp / "c/etc/xen/xend-config.sxp:2")
    )


def test_hosts_allow_must_match_the_source_host_name(pair: Pair) -> None:
    pair.b = make_host(pair.tmp, "c", xend="(xend-relocation-server yes)\n(xend-relocation-hosts-allow '^x$ ^db')\n")
    pair.a.driver.create_domain(web())
    said = refused(pair)
    assert said.startswith("host c does not take migrations from a: (xend-relocation-hosts-allow '^x$ ^db')")
    pair.b = make_host(pair.tmp, "d", xend="(xend-relocation-server yes)\n(xend-relocation-hosts-allow '^x$ ^a')\n")
    assert migration_refusal(pair.a, pair.b, "web1", live=True) is None


def test_domain0_a_missing_and_a_stopped_domain_are_refused(pair: Pair) -> None:
    assert refused(pair, "Domain-0") == "host a: Cannot migrate privileged domain"
    assert refused(pair, "nope") == "host a: Domain 'nope' does not exist."
    pair.a.driver.create_domain(replace(web(), on_poweroff=OnEvent.PRESERVE))
    pair.a.driver.shutdown_domain("web1")  # kept, shut down: ---s--
    assert refused(pair) == "host a: Domain is not running"


def test_a_name_or_uuid_already_on_the_target_is_refused(pair: Pair) -> None:
    pair.a.driver.create_domain(web())
    pair.b.driver.create_domain(web(disks=()))
    assert refused(pair).startswith("host b already has a domain of that name: Domain 'web1' already exists")
    pair.b.driver.destroy_domain("web1")
    uuid = pair.a.driver.domain("web1").uuid
    pair.b.driver.create_domain(replace(web("other", disks=()), uuid=uuid))
    assert refused(pair).startswith(f"host b already has a domain of that UUID {uuid}: Domain 'other'")


def test_a_target_without_the_memory_refuses_with_xends_words(pair: Pair) -> None:
    pair.b = make_host(pair.tmp, "c", memory="2G")
    pair.a.driver.create_domain(web(memory=4096))
    said = refused(pair)
    # xend-config.sxp without dom0-min-mem: xend's default 0, so no ballooning
    assert said.startswith("host c cannot take web1: Not enough free memory and enable-dom0-ballooning is False")
    assert said.endswith("I need 4196352 KiB but only have 983040.")


def disked(name: str, disk: DomainDisk) -> DomainConfig:
    return replace(web(name, disks=(disk,)), root=None)  # blank: no root to mount, no crash at boot


def test_local_storage_is_refused_by_kind(pair: Pair) -> None:
    a = pair.a.driver
    a.create_volume_group("vg0", ("/dev/sda2",))
    a.create_logical_volume("vg0", "web1", 1 << 30)
    a.create_domain(disked("web1", DomainDisk("/dev/vg0/web1", "xvda1", DiskMode.WRITE)))
    assert refused(pair) == "disk xvda1 of web1 is logical volume vg0/web1 on host a, which b cannot reach"
    image = a.create_image("web2.img", 1 << 30)
    a.create_domain(disked("web2", DomainDisk(image, "xvda1", DiskMode.WRITE, backend="file")))
    assert refused(pair, "web2") == f"disk xvda1 of web2 is image file {image} on host a, which b cannot reach"
    a.create_domain(disked("web3", DomainDisk("/dev/sda1", "xvda1", DiskMode.WRITE)))
    assert refused(pair, "web3") == (
        "disk xvda1 of web3 is /dev/sda1, a local device on host a, which b cannot reach"
        " (not on a disk declared shared)"
    )


def test_a_shared_disk_the_target_lacks_is_refused(pair: Pair) -> None:
    local = {"sdb": {"size": "100G", "partitions": {"sdb1": {"size": "10G"}}}}
    pair.b = make_host(pair.tmp, "c", disks=local)
    pair.a.driver.create_domain(web())
    assert refused(pair) == (
        "disk xvda1 of web1 is /dev/sdb1 on shared disk sdb, which host c's profile does not declare shared"
    )


def test_an_nfs_root_the_target_cannot_reach_is_refused(pair: Pair) -> None:
    pair.b = make_host(pair.tmp, "c", nfs_servers={})
    pair.a.driver.create_domain(replace(web(disks=()), root="/dev/nfs", nfs_server="2.3.4.5", nfs_root="/path/to/root"))
    assert refused(pair).startswith("the NFS root 2.3.4.5:/path/to/root of web1 is not reachable from host c")
    pair.b = make_host(pair.tmp, "d")
    assert migration_refusal(pair.a, pair.b, "web1", live=True) is None


def test_the_same_host_is_refused(pair: Pair) -> None:
    pair.a.driver.create_domain(web())
    pair.b = pair.a
    assert "are the same host" in refused(pair)
