"""The disk and vif grammar (shared/XEN.md, section 6): the forms xl's disk documentation gives, and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from xenctl.engine.api import DiskMode, DomainDisk, Vif
from xenctl.errors import ConfigError
from xenctl.xmconfig.disks import DiskSpecError, format_disk, format_vif, parse_disk, parse_vif


def disk(
    target: str | None,
    vdev: str,
    *,
    format: str = "raw",
    access: str = "w",
    devtype: str = "disk",
    backendtype: str | None = None,
    script: str | None = None,
) -> dict[str, Any]:
    """The ``to_json`` of a parsed disk entry."""
    return {
        "target": target,
        "vdev": vdev,
        "format": format,
        "access": access,
        "devtype": devtype,
        "backendtype": backendtype,
        "script": script,
    }


GUEST_VOLUME = disk("/dev/vg/guest-volume", "hda")
ISO_CDROM = disk("/root/image.iso", "hdc", access="r", devtype="cdrom")
EMPTY_CDROM = disk("", "hdc", format="empty", access="r", devtype="cdrom")

PARSED: list[tuple[str, dict[str, Any]]] = [
    # xl-disk-configuration's own examples
    ("/dev/vg/guest-volume,,hda", GUEST_VOLUME),
    ("/dev/vg/guest-volume,raw,hda,rw", GUEST_VOLUME),
    ("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume", GUEST_VOLUME),
    ("/root/image.iso,,hdc,cdrom", ISO_CDROM),
    ("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso", ISO_CDROM),
    # positional values in order, empty ones keeping the default, keys and positions mixed
    ("/dev/vg/guest-volume,,hda,", GUEST_VOLUME),
    ("  /dev/vg/guest-volume,,hda", GUEST_VOLUME),
    ("format=raw,/dev/vg/guest-volume,,hda", GUEST_VOLUME),
    ("/dev/vg/guest-volume,,hda,access=rw", GUEST_VOLUME),
    ("/x.qcow2,qcow2,xvda", disk("/x.qcow2", "xvda", format="qcow2")),
    ("/x.qcow,qcow,xvda", disk("/x.qcow", "xvda", format="qcow")),
    ("/x.vhd,vhd,xvda", disk("/x.vhd", "xvda", format="vhd")),
    ("/x.qed,qed,xvda", disk("/x.qed", "xvda", format="qed")),
    ("vdev=xvda, format=qcow2, target=/x.qcow2", disk("/x.qcow2", "xvda", format="qcow2")),
    # access spellings
    ("/x,raw,xvda,r", disk("/x", "xvda", access="r")),
    ("/x,raw,xvda,ro", disk("/x", "xvda", access="r")),
    ("/x,raw,xvda,w", disk("/x", "xvda")),
    ("/x,raw,xvda,rw", disk("/x", "xvda")),
    ("vdev=xvda, access=r, target=/x", disk("/x", "xvda", access="r")),
    # cdroms: with an image, and empty
    ("vdev=hdc, cdrom, target=/root/image.iso", ISO_CDROM),
    ("/root/image.iso,,hdc,ro,cdrom", ISO_CDROM),
    (",,hdc,cdrom", EMPTY_CDROM),
    ("vdev=hdc,cdrom", EMPTY_CDROM),
    ("vdev=hdc, devtype=cdrom", EMPTY_CDROM),
    (",hdc:cdrom,r", EMPTY_CDROM),
    ("format=empty, vdev=hdc, devtype=cdrom", EMPTY_CDROM),  # xl's own word for it
    (",empty,hdc,cdrom", EMPTY_CDROM),
    # old HVM configs' emulated-only vdevs, and network block devices
    ("file:/var/images/min-el3-i386.img,ioemu:hda,w", disk("/var/images/min-el3-i386.img", "hda")),
    ("nbd:134.100.233.115 20004,hda1,w", disk("134.100.233.115 20004", "hda1", script="block-nbd")),
    ("/root/image.iso,hdc:cdrom,r", ISO_CDROM),
    ("phy:/dev/cdrom,hdc:cdrom,r", disk("/dev/cdrom", "hdc", access="r", devtype="cdrom")),
    # target= must be last and takes the rest of the string, commas and all
    ("vdev=xvda, target=/images/a,b,c.img", disk("/images/a,b,c.img", "xvda")),
    ("format=raw, vdev=xvda, target=/images/vdev=x,access=ro", disk("/images/vdev=x,access=ro", "xvda")),
    # no leading / gets /dev/
    ("hda3,,xvda", disk("/dev/hda3", "xvda")),
    ("vdev=xvda, target=vg/lv", disk("/dev/vg/lv", "xvda")),
    ("phy:hda3,sda1,w", disk("/dev/hda3", "sda1")),
    # the legacy xm form and its prefixes
    ("phy:/dev/hda3,sda1,w", disk("/dev/hda3", "sda1")),
    ("phy:sda6,sda6,r", disk("/dev/sda6", "sda6", access="r")),
    ("phy:hda3,sda1,w!", disk("/dev/hda3", "sda1", access="w!")),
    ("phy:hda3,sda1,ro", disk("/dev/hda3", "sda1", access="r")),
    ("phy:hda3,sda1,rw", disk("/dev/hda3", "sda1")),
    ("file:/x.img,sda1,w", disk("/x.img", "sda1")),
    ("file:/x.img,sda1:disk,r", disk("/x.img", "sda1", access="r")),
    ("tap:aio:/x.img,xvda,w", disk("/x.img", "xvda")),
    ("tap2:tapdisk:aio:/x.img,xvda,w", disk("/x.img", "xvda")),
    ("ioemu:/x.img,hda,w", disk("/x.img", "hda")),
    ("raw:/x.img,xvda,w", disk("/x.img", "xvda")),
    ("qcow2:/x.qcow2,xvda,w", disk("/x.qcow2", "xvda", format="qcow2")),
    ("qcow:/x.qcow,xvda,r", disk("/x.qcow", "xvda", format="qcow", access="r")),
    ("vhd:/x.vhd,xvda,w", disk("/x.vhd", "xvda", format="vhd")),
    ("tap:qcow2:/x.qcow2,xvda,w", disk("/x.qcow2", "xvda", format="qcow2")),
    # script prefixes: the target is the script's, not a path
    (
        "iscsi:iqn.2001-05.com.example:disk1,xvda,w",
        disk("iqn.2001-05.com.example:disk1", "xvda", script="block-iscsi"),
    ),
    ("nbd:192.168.0.1 20004,xvda,w", disk("192.168.0.1 20004", "xvda", script="block-nbd")),
    ("enbd:server 20004,xvda,w", disk("server 20004", "xvda", script="block-enbd")),
    ("drbd:r0,xvda,w", disk("r0", "xvda", script="block-drbd")),
    ("vdev=xvda, script=block-drbd, target=r0", disk("r0", "xvda", script="block-drbd")),
    # other keys and flags
    ("backendtype=phy, vdev=xvda, target=/dev/vg/lv", disk("/dev/vg/lv", "xvda", backendtype="phy")),
    ("backendtype=qdisk, vdev=xvda, target=/x.img", disk("/x.img", "xvda", backendtype="qdisk")),
    ("backendtype=tap, vdev=xvda, target=/x.img", disk("/x.img", "xvda", backendtype="tap")),
    ("backend=driverdom, vdev=xvda, target=/dev/vg/lv", disk("/dev/vg/lv", "xvda")),
    (
        "discard, no-discard, trusted, untrusted, direct-io-safe, vdev=xvda, target=/x",
        disk("/x", "xvda"),
    ),
]

REFUSED: list[tuple[str, str]] = [
    # w! is xm's, only in xm's form
    ("/dev/hda3,raw,sda1,w!", "unknown value for access"),
    ("vdev=sda1, access=w!, target=/dev/hda3", "unknown value for access"),
    ("/x,raw,xvda,rx", "unknown value for access"),
    ("vdev=xvda, access=readwrite, target=/x", "unknown value for access"),
    ("phy:/x,xvda,x", "Invalid mode"),
    # each parameter at most once
    ("vdev=xvda, vdev=xvdb, target=/x", "vdev is given twice"),
    ("/x,,xvda,vdev=xvdb", "vdev is given twice"),
    ("/x,raw,xvda,r,access=w", "access is given twice"),
    ("format=raw, format=qcow2, vdev=xvda, target=/x", "format is given twice"),
    ("/x,qcow2,xvda,format=raw", "format is given twice"),
    ("/y,,xvda,target=/x", "target is given twice"),
    ("devtype=disk, devtype=cdrom, vdev=hdc, target=/x", "devtype is given twice"),
    ("/x,raw,xvda,rw,extra", "too many positional parameters"),
    # unknown things
    ("vdev=xvda, colour=blue, target=/x", "unknown parameter"),
    ("foo:/x.img,xvda,w", "unknown deprecated disk prefix"),
    ("vmdk:/x.vmdk,xvda,w", "unknown deprecated disk prefix"),
    ("/x,vmdk,xvda,w", "unknown value for format"),
    ("format=vmdk, vdev=xvda, target=/x", "unknown value for format"),
    ("devtype=floppy, vdev=xvda, target=/x", "unknown value for type"),
    ("phy:/x,xvda:floppy,w", "unknown value for type"),
    ("backendtype=nfs, vdev=xvda, target=/x", "unknown value for backendtype"),
    # missing parts
    ("/x,raw", "no vdev specified"),
    ("target=/x", "no vdev specified"),
    ("", "no vdev specified"),
    (",,xvda", "no target specified (and device not removable)"),
    ("vdev=xvda", "no target specified (and device not removable)"),
    (",raw,xvda,w", "no target specified (and device not removable)"),
    # a cdrom is read-only
    ("/root/image.iso,,hdc,rw,cdrom", "read-only"),
    ("format=raw, vdev=hdc, access=rw, devtype=cdrom, target=/root/image.iso", "read-only"),
    ("phy:/dev/cdrom,hdc:cdrom,w", "read-only"),
    # only a removable drive is ever empty, and then it has no target
    ("format=empty, vdev=hda", "only a removable drive (cdrom) may be empty"),
    ("format=empty, vdev=hdc, devtype=cdrom, target=/x.iso", "an empty drive (format=empty) takes no target"),
]


@pytest.mark.parametrize(("spec", "expected"), PARSED, ids=[spec for spec, _ in PARSED])
def test_a_disk_entry_reads_as_xl_documents_it(spec: str, expected: dict[str, Any]) -> None:
    assert parse_disk(spec).to_json() == expected


@pytest.mark.parametrize(("spec", "reason"), REFUSED, ids=[spec or "<empty>" for spec, _ in REFUSED])
def test_a_bad_disk_entry_is_refused_saying_what_is_wrong(spec: str, reason: str) -> None:
    with pytest.raises(DiskSpecError) as caught:
        parse_disk(spec)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_a_prefix_with_digits_that_xl_does_not_know_is_refused_not_taken_for_a_device_name() -> None:
    # xl's lexer refuses any [a-z][a-z0-9]*: followed by a non-alphanumeric as an unknown prefix
    with pytest.raises(DiskSpecError, match="unknown deprecated disk prefix"):
        parse_disk("foo3:/x.img,xvda,w")


def test_a_disk_entry_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(DiskSpecError, match="not int"):
        parse_disk(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("phy:hda3,sda1,w", DomainDisk("/dev/hda3", "sda1", DiskMode.WRITE, "phy")),
        ("phy:sda6,sda6,r", DomainDisk("/dev/sda6", "sda6", DiskMode.READ, "phy")),
        ("phy:/dev/hda3,sda1,w!", DomainDisk("/dev/hda3", "sda1", DiskMode.FORCE_WRITE, "phy")),
        (
            "file:/var/lib/xen/images/x.img,xvda,w",
            DomainDisk("/var/lib/xen/images/x.img", "xvda", DiskMode.WRITE, "file"),
        ),
        (
            "tap:aio:/var/lib/xen/images/x.img,xvda,r",
            DomainDisk("/var/lib/xen/images/x.img", "xvda", DiskMode.READ, "tap:aio"),
        ),
        ("/dev/vg/lv,,xvda", DomainDisk("/dev/vg/lv", "xvda", DiskMode.WRITE, "phy")),
        ("/var/lib/xen/images/x.img,,xvda", DomainDisk("/var/lib/xen/images/x.img", "xvda", DiskMode.WRITE, "file")),
        ("vdev=xvda, backendtype=tap, target=/x.img", DomainDisk("/x.img", "xvda", DiskMode.WRITE, "tap:aio")),
    ],
)
def test_a_disk_entry_connects_as_a_device_a_loop_file_or_tap(spec: str, expected: DomainDisk) -> None:
    assert parse_disk(spec).to_domain_disk() == expected


@pytest.mark.parametrize("spec", [",,hdc,cdrom", ",hdc:cdrom,r", "format=empty, vdev=hdc, devtype=cdrom"])
def test_an_empty_removable_drive_connects_holding_no_device(spec: str) -> None:
    drive = parse_disk(spec).to_domain_disk()
    assert drive == DomainDisk("", "hdc", DiskMode.READ, "phy", cdrom=True)
    assert drive.empty and not drive.needs_loop and not drive.local
    assert format_disk(drive) == ",hdc:cdrom,r"


def test_a_network_block_device_connects_by_its_server_and_port() -> None:
    nbd = parse_disk("nbd:134.100.233.115 20004,hda1,w").to_domain_disk()
    assert nbd == DomainDisk("134.100.233.115 20004", "hda1", DiskMode.WRITE, "nbd")
    assert not nbd.needs_loop and not nbd.local
    assert parse_disk(format_disk(nbd)).to_domain_disk() == nbd


def test_a_disk_a_script_of_xend_connects_is_refused_by_name() -> None:
    with pytest.raises(DiskSpecError, match="xenctl connects no block-iscsi disks"):
        parse_disk("iscsi:iqn.2001-04.com.example:storage,xvda,w").to_domain_disk()


@pytest.mark.parametrize(
    "disk_",
    [
        DomainDisk("/dev/hda3", "sda1", DiskMode.WRITE, "phy"),
        DomainDisk("/dev/vg/lv", "xvda", DiskMode.FORCE_WRITE, "phy"),
        DomainDisk("/var/lib/xen/images/x.img", "xvdb", DiskMode.READ, "file"),
        DomainDisk("/var/lib/xen/images/x.img", "xvdc", DiskMode.WRITE, "tap:aio"),
        DomainDisk("/dev/cdrom", "hdc", DiskMode.READ, "phy", cdrom=True),
    ],
)
def test_a_disk_is_written_in_xm_form_and_reads_back_the_same(disk_: DomainDisk) -> None:
    written = format_disk(disk_)
    vdev = f"{disk_.vdev}:cdrom" if disk_.cdrom else disk_.vdev
    assert written == f"{disk_.backend}:{disk_.target},{vdev},{disk_.mode.value}"
    assert parse_disk(written).to_domain_disk() == disk_


# -- vif entries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", Vif()),
        ("mac=00:16:3e:01:02:03, bridge=xenbr1", Vif(bridge="xenbr1", mac="00:16:3e:01:02:03")),
        ("bridge=xenbr1,mac=00:16:3e:01:02:03", Vif(bridge="xenbr1", mac="00:16:3e:01:02:03")),
        ("mac=00:16:3e:01:02:03", Vif(mac="00:16:3e:01:02:03")),
        ("bridge=br-lan", Vif(bridge="br-lan")),
        ("type=ioemu, bridge=xenbr1", Vif(bridge="xenbr1", type="ioemu")),
        ("type=ioemu, model=ne2k_pci", Vif(type="ioemu", model="ne2k_pci")),
    ],
)
def test_a_vif_entry_gives_its_bridge_and_mac_with_xenbr0_by_default(spec: str, expected: Vif) -> None:
    assert parse_vif(spec) == expected


@pytest.mark.parametrize("spec", ["bridge", "mac=00:16:3e:01:02:03, xenbr1"])
def test_a_vif_setting_that_is_not_key_equals_value_is_refused(spec: str) -> None:
    with pytest.raises(DiskSpecError, match="is not key=value"):
        parse_vif(spec)


@pytest.mark.parametrize("vif", [Vif(), Vif(bridge="xenbr1", mac="00:16:3e:01:02:03")])
def test_a_vif_is_written_so_that_it_reads_back_the_same(vif: Vif) -> None:
    assert parse_vif(format_vif(vif)) == vif


def test_xms_four_and_five_part_form_names_a_backend_domain() -> None:
    disk = parse_disk("phy:hda3,sda1,w,driverdom")
    assert (disk.target, disk.vdev, disk.access, disk.backend) == ("/dev/hda3", "sda1", "w", "driverdom")
    assert parse_disk("phy:hda3,sda1,r,driverdom,x86_64-abi").backend == "driverdom"


def test_a_disk_without_its_mode_is_xms_invalid_disk_specifier() -> None:
    with pytest.raises(DiskSpecError, match="Invalid disk specifier 'phy:hda3,sda1'"):
        parse_disk("phy:hda3,sda1")
