"""Image files under the storage root, and NFS roots: from the profile's server or served by a domain."""

from __future__ import annotations

import pytest

from tests.helpers import domain
from xenctl.engine.api import DomainConfig, OnEvent, Owner, Phase
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import NotFoundError, XenError
from xenctl.units import GIB, MIB

ROOT = "/var/lib/xen/images"
BOOT = 8  # the default profile's boot duration, seconds
NFS_FAILURE = "VFS: Unable to mount root fs via NFS"


# -- image files ---------------------------------------------------------------------------------


def test_an_image_lands_under_the_storage_root_sparse_and_at_once(host: SimHost, clock: VirtualClock) -> None:
    start = clock.now()
    path = host.create_image("gtes11vm.img", 2 * GIB)
    assert path == f"{ROOT}/gtes11vm.img"
    (image,) = host.snapshot().images
    assert (image.path, image.size, image.sparse, image.filesystem) == (path, 2 * GIB, True, None)
    assert clock.now() == start


def test_a_non_sparse_image_takes_four_seconds_a_gib_to_write(host: SimHost, clock: VirtualClock) -> None:
    start = clock.now()
    host.create_image("full.img", 2 * GIB, sparse=False)
    assert clock.now() - start == pytest.approx(8.0)
    assert host.snapshot().images[0].sparse is False


def test_a_guest_whose_root_disk_is_a_blank_image_cannot_mount_root_and_crashes(
    host: SimHost, clock: VirtualClock
) -> None:
    path = host.create_image("blank.img", GIB)  # never formatted: no filesystem on it
    config = domain("blank", disks=[(path, "sda1", "w", "file")], root="/dev/sda1 ro", on_crash=OnEvent.PRESERVE)
    host.create_domain(config)
    clock.advance(BOOT)
    assert host.domain("blank").state == "----c-"
    texts = [line.text for line in host.console("blank")]
    assert "blank login:" not in texts
    assert texts[-3:] == [
        'VFS: Cannot open root device "sda1" or unknown-block(8,1)',
        'Please append a correct "root=" boot option',
        "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(8,1)",
    ]
    assert host.events()[-1].message.startswith('crashed (VFS: Cannot open root device "sda1"')


def test_the_same_image_once_formatted_boots_to_a_login(host: SimHost, clock: VirtualClock) -> None:
    path = host.create_image("root.img", GIB)
    host.format_volume(path, "ext3")
    host.create_domain(domain("formatted", disks=[(path, "sda1", "w", "file")], root="/dev/sda1 ro"))
    clock.advance(BOOT)
    assert host.domain("formatted").phase is Phase.RUNNING
    assert [line.text for line in host.console("formatted")][-1] == "formatted login:"


def test_an_image_in_a_subdirectory_of_the_storage_root_is_allowed(host: SimHost) -> None:
    assert host.create_image("guests/web/disk.img", GIB) == f"{ROOT}/guests/web/disk.img"


def test_an_absolute_path_inside_the_storage_root_is_allowed(host: SimHost) -> None:
    assert host.create_image(f"{ROOT}/abs.img", GIB) == f"{ROOT}/abs.img"


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "a/../../x",
        "..",
        "/var/lib/xen/images-evil/x.img",
        f"{ROOT}/../x.img",
    ],
)
def test_a_path_outside_the_storage_root_is_refused_and_nothing_is_made(host: SimHost, path: str) -> None:
    with pytest.raises(XenError, match="outside the storage root"):
        host.create_image(path, GIB)
    assert host.snapshot().images == ()


@pytest.mark.parametrize("path", ["x\0.img", "", ".", ROOT])
def test_a_path_that_is_not_a_file_under_the_storage_root_is_refused(host: SimHost, path: str) -> None:
    with pytest.raises(XenError, match="storage root"):
        host.create_image(path, GIB)
    assert host.snapshot().images == ()


def test_a_second_image_at_the_same_path_is_refused(host: SimHost) -> None:
    path = host.create_image("gtes11vm.img", 2 * GIB)
    with pytest.raises(XenError) as caught:
        host.create_image("gtes11vm.img", 4 * GIB)
    assert str(caught.value) == f"{path}: File exists"
    assert [i.size for i in host.snapshot().images] == [2 * GIB]


def test_an_image_a_domain_uses_cannot_be_removed_until_the_domain_is_gone(host: SimHost) -> None:
    path = host.create_image("gtes11vm.img", 2 * GIB)
    host.create_domain(domain("gtes11vm", disks=[(path, "sda1", "w", "file")]))
    with pytest.raises(XenError, match="in use by domain gtes11vm"):
        host.remove_image(path)
    assert len(host.snapshot().images) == 1
    host.destroy_domain("gtes11vm")
    host.remove_image(path)
    assert host.snapshot().images == ()


def test_removing_a_missing_image_is_not_found(host: SimHost) -> None:
    with pytest.raises(NotFoundError, match="No such file or directory"):
        host.remove_image("nothere.img")


def test_an_image_can_grow(host: SimHost) -> None:
    path = host.create_image("gtes11vm.img", 2 * GIB)
    host.grow_image(path, 3 * GIB)
    assert host.snapshot().images[0].size == 3 * GIB


def test_growing_a_non_sparse_image_writes_only_the_new_part(host: SimHost, clock: VirtualClock) -> None:
    path = host.create_image("full.img", GIB, sparse=False)
    start = clock.now()
    host.grow_image(path, 3 * GIB)
    assert clock.now() - start == pytest.approx(8.0)


@pytest.mark.parametrize("size", [GIB, 2 * GIB])
def test_an_image_cannot_shrink_or_stay_the_same(host: SimHost, size: int) -> None:
    path = host.create_image("gtes11vm.img", 2 * GIB)
    with pytest.raises(XenError, match="not larger"):
        host.grow_image(path, size)
    assert host.snapshot().images[0].size == 2 * GIB


def test_an_image_of_size_zero_is_refused(host: SimHost) -> None:
    with pytest.raises(XenError):
        host.create_image("empty.img", 0)
    assert host.snapshot().images == ()


def test_an_owned_image_shows_its_owner(host: SimHost) -> None:
    host.create_image("gtes11vm.img", 512 * MIB, owner=Owner("xenctl", "specs/gtes11.yaml"))
    assert host.snapshot().images[0].owner == Owner("xenctl", "specs/gtes11.yaml")


# -- NFS roots -------------------------------------------------------------------------------------


def nfs_guest(name: str, server: str, root: str, **fields: object) -> DomainConfig:
    return domain(name, nfs_server=server, nfs_root=root, root="/dev/nfs", **fields)


def test_the_profile_exports_path_to_root_from_2_3_4_5(host: SimHost) -> None:
    exports = {e.address: e.served_by_domain for e in host.snapshot().nfs_exports}
    assert exports["2.3.4.5:/path/to/root"] is False


def test_a_domain_with_an_nfs_root_from_the_profile_server_boots(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(nfs_guest("nfsguest", "2.3.4.5", "/path/to/root"))
    clock.advance(BOOT)
    assert host.domain("nfsguest").phase is Phase.RUNNING
    assert any("VFS: Mounted root (nfs filesystem)" in line.text for line in host.console("nfsguest"))


def test_a_domain_whose_nfs_export_does_not_exist_crashes_at_the_end_of_its_boot(
    host: SimHost, clock: VirtualClock
) -> None:
    config = nfs_guest("nfsguest", "2.3.4.5", "/no/such/root", on_crash=OnEvent.PRESERVE)
    host.create_domain(config)
    clock.advance(BOOT - 1)
    assert host.domain("nfsguest").phase is Phase.BOOTING
    clock.advance(1)
    assert host.domain("nfsguest").phase is Phase.CRASHED
    assert host.domain("nfsguest").state == "----c-"
    assert any(NFS_FAILURE in line.text for line in host.console("nfsguest"))
    clock.advance(100)
    assert host.domain("nfsguest").phase is Phase.CRASHED


def test_an_nfs_guest_crashing_at_boot_is_restarted_once_then_refused_as_too_fast(
    host: SimHost, clock: VirtualClock
) -> None:
    # on_crash=restart (the default): xend restarts it; the second crash comes within 20 s of that
    # restart, so xend refuses to restart it again and it is gone.
    first = host.create_domain(nfs_guest("nfsguest", "2.3.4.5", "/no/such/root"))
    clock.advance(BOOT)
    again = host.snapshot().domain("nfsguest")
    assert again is not None and again.domid > first.domid
    clock.advance(BOOT)
    assert host.snapshot().domain("nfsguest") is None
    last = host.events()[-1]
    assert last.op == "exit" and "restarting too fast (8.000000 seconds since the last restart)." in last.message


def test_an_nfs_root_needs_both_server_and_path(host: SimHost) -> None:
    with pytest.raises(XenError, match="Must set nfs root and nfs server"):
        host.create_domain(domain("nfsguest", nfs_server="2.3.4.5"))
    assert host.snapshot().domain("nfsguest") is None


@pytest.fixture
def served(host: SimHost, clock: VirtualClock) -> SimHost:
    """A domain nfssrv, booted, exporting /srv/roots/client."""
    host.create_domain(domain("nfssrv", disks=[("hda3", "sda1", "w")]))
    clock.advance(BOOT)
    host.create_nfs_export("nfssrv", "/srv/roots/client")
    return host


def test_an_export_served_by_a_domain_is_listed_as_such(served: SimHost) -> None:
    export = next(e for e in served.snapshot().nfs_exports if e.server == "nfssrv")
    assert (export.address, export.served_by_domain) == ("nfssrv:/srv/roots/client", True)


def test_a_client_of_a_running_server_domain_boots(served: SimHost, clock: VirtualClock) -> None:
    served.create_domain(nfs_guest("client", "nfssrv", "/srv/roots/client"))
    clock.advance(BOOT)
    assert served.domain("client").phase is Phase.RUNNING


def test_a_client_whose_server_is_not_up_by_its_boot_end_crashes(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("nfssrv", disks=[("hda3", "sda1", "w")]), paused=True)
    host.create_nfs_export("nfssrv", "/srv/roots/client")
    config = nfs_guest("client", "nfssrv", "/srv/roots/client", on_crash=OnEvent.PRESERVE)
    host.create_domain(config)
    clock.advance(BOOT)
    assert host.domain("client").phase is Phase.CRASHED
    assert any(NFS_FAILURE in line.text for line in host.console("client"))


def test_a_client_whose_server_domain_is_gone_crashes(served: SimHost, clock: VirtualClock) -> None:
    served.destroy_domain("nfssrv")
    config = nfs_guest("client", "nfssrv", "/srv/roots/client", on_crash=OnEvent.PRESERVE)
    served.create_domain(config)
    clock.advance(BOOT)
    assert served.domain("client").phase is Phase.CRASHED


def test_an_export_cannot_be_served_by_a_domain_that_does_not_exist(host: SimHost) -> None:
    with pytest.raises(NotFoundError, match=r"Domain 'ghost' does not exist\."):
        host.create_nfs_export("ghost", "/srv/root")
    assert [e.server for e in host.snapshot().nfs_exports] == ["2.3.4.5", "2.3.4.5"]


def test_the_same_export_twice_is_refused(served: SimHost) -> None:
    with pytest.raises(XenError, match="already exported"):
        served.create_nfs_export("nfssrv", "/srv/roots/client")


def test_exports_of_the_profile_server_cannot_be_created(host: SimHost) -> None:
    before = host.snapshot().nfs_exports
    with pytest.raises(XenError, match="outside this host"):
        host.create_nfs_export("2.3.4.5", "/export/new")
    assert host.snapshot().nfs_exports == before


def test_exports_of_the_profile_server_cannot_be_removed(host: SimHost) -> None:
    before = host.snapshot().nfs_exports
    with pytest.raises(XenError, match="outside this host"):
        host.remove_nfs_export("2.3.4.5", "/path/to/root")
    assert host.snapshot().nfs_exports == before


def test_an_export_that_is_a_domain_root_cannot_be_removed_until_the_domain_is_gone(served: SimHost) -> None:
    served.create_domain(nfs_guest("client", "nfssrv", "/srv/roots/client"))
    with pytest.raises(XenError, match="is the root filesystem of domain client"):
        served.remove_nfs_export("nfssrv", "/srv/roots/client")
    assert any(e.server == "nfssrv" for e in served.snapshot().nfs_exports)
    served.destroy_domain("client")
    served.remove_nfs_export("nfssrv", "/srv/roots/client")
    assert all(e.server != "nfssrv" for e in served.snapshot().nfs_exports)


def test_removing_an_export_that_does_not_exist_is_not_found(host: SimHost) -> None:
    with pytest.raises(NotFoundError, match="is not exported"):
        host.remove_nfs_export("2.3.4.5", "/not/exported")
