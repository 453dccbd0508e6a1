"""A domain's config and libvirt's domain XML: every field the mapping covers goes there and back
unchanged, lands where libvirt reads it, and XML that nobody at xenctl wrote reads as a user expects."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, OnEvent, Owner, Vif
from xenctl.engine.libvirt.xml import NAMESPACE, domain_xml, metadata_text, parse, read_domain
from xenctl.errors import EngineError

OURS = Owner("xenctl", "specs/web.yaml")

CONFIGS = {
    "pv with kernel, initrd and command line": DomainConfig(
        name="web1",
        uuid="6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        memory=256,
        maxmem=512,
        vcpus=2,
        maxvcpus=4,
        kernel="/boot/vmlinuz-2.6.18-xen",
        ramdisk="/boot/initrd-2.6.18-xen.img",
        root="/dev/sda1 ro",
        extra="console=hvc0 4",
        on_poweroff=OnEvent.DESTROY,
        on_reboot=OnEvent.RENAME_RESTART,
        on_crash=OnEvent.COREDUMP_RESTART,
    ),
    "pv with pygrub": DomainConfig(name="db1", bootloader="/usr/bin/pygrub", on_crash=OnEvent.PRESERVE),
    "pv on an nfs root": DomainConfig(
        name="diskless",
        kernel="/boot/vmlinuz-2.6.18-xen",
        root="/dev/nfs",
        nfs_server="192.168.1.10",
        nfs_root="/export/diskless",
        ip="dhcp",
        shadow_memory=8,
    ),
    "every kind of disk": DomainConfig(
        name="disks",
        kernel="/boot/vmlinuz-2.6.18-xen",
        disks=(
            DomainDisk("/dev/hda3", "sda1", DiskMode.WRITE, "phy"),
            DomainDisk("/dev/vg/shared", "sda2", DiskMode.FORCE_WRITE, "phy"),
            DomainDisk("/srv/xen/root.img", "xvda", DiskMode.READ, "file"),
            DomainDisk("/srv/xen/swap.img", "xvdb", DiskMode.WRITE, "tap:aio"),
            DomainDisk("134.100.233.115 20004", "xvdc", DiskMode.WRITE, "nbd"),
        ),
    ),
    "interfaces on bridges": DomainConfig(
        name="net",
        kernel="/boot/vmlinuz-2.6.18-xen",
        vifs=(Vif("xenbr0", "00:16:3e:00:00:01"), Vif("xenbr1"), Vif("xenbr0", "00:16:3e:00:00:02", model="e1000")),
    ),
    "hvm": DomainConfig(
        name="win1",
        memory=512,
        kernel="/usr/lib/xen/boot/hvmloader",
        builder="hvm",
        disks=(
            DomainDisk("/dev/vg/win", "hda", DiskMode.WRITE, "phy"),
            DomainDisk("/srv/iso/w2k3.iso", "hdc", DiskMode.READ, "file", cdrom=True),
            DomainDisk("", "hdd", DiskMode.READ, "phy", cdrom=True),
        ),
        vifs=(Vif("xenbr0", "00:16:3e:00:00:09", type="ioemu", model="rtl8139"),),
        hvm=HvmConfig(boot="dc", acpi=True, apic=False, pae=True, vnc=True, vncdisplay=3, localtime=True),
    ),
}


@pytest.mark.parametrize("kind", ["xen", "test", "qemu", "kvm"])
@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_a_config_goes_to_xml_and_back_unchanged(case: str, kind: str) -> None:
    config = CONFIGS[case]
    back = read_domain(domain_xml(config, OURS, kind))
    assert back.config == config
    assert back.owner == OURS


def test_a_domain_without_an_owner_reads_back_without_one() -> None:
    assert read_domain(domain_xml(CONFIGS["pv with pygrub"])).owner is None


def test_memory_and_vcpus_are_libvirts_current_and_maximum() -> None:
    root = ET.fromstring(domain_xml(CONFIGS["pv with kernel, initrd and command line"], kind="xen"))
    assert (root.find("memory").get("unit"), root.findtext("memory")) == ("KiB", str(512 * 1024))  # type: ignore[union-attr]
    assert root.findtext("currentMemory") == str(256 * 1024)
    assert (root.find("vcpu").get("current"), root.findtext("vcpu")) == ("2", "4")  # type: ignore[union-attr]


def test_a_pv_guest_boots_its_kernel_with_xms_command_line() -> None:
    root = ET.fromstring(domain_xml(CONFIGS["pv with kernel, initrd and command line"], kind="xen"))
    assert root.get("type") == "xen"
    assert root.findtext("os/type") == "linux"
    assert root.findtext("os/kernel") == "/boot/vmlinuz-2.6.18-xen"
    assert root.findtext("os/initrd") == "/boot/initrd-2.6.18-xen.img"
    assert root.findtext("os/cmdline") == "root=/dev/sda1 ro console=hvc0 4"
    assert (root.findtext("on_reboot"), root.findtext("on_crash")) == ("rename-restart", "coredump-restart")


def test_an_hvm_guest_has_its_loader_boot_order_and_features() -> None:
    root = ET.fromstring(domain_xml(CONFIGS["hvm"], kind="xen"))
    assert root.findtext("os/type") == "hvm"
    assert root.findtext("os/loader") == "/usr/lib/xen/boot/hvmloader"
    assert [b.get("dev") for b in root.findall("os/boot")] == ["cdrom", "hd"]
    assert sorted(f.tag for f in root.find("features")) == ["acpi", "pae"]  # type: ignore[union-attr]
    assert root.findtext("devices/emulator") == "/usr/lib/xen/bin/qemu-dm"


def test_disks_are_block_or_file_with_their_target_and_mode() -> None:
    root = ET.fromstring(domain_xml(CONFIGS["every kind of disk"], kind="xen"))
    disks = root.findall("devices/disk")
    seen = [
        (d.get("type"), d.find("driver").get("name") if d.find("driver") is not None else None,  # type: ignore[union-attr]
         d.find("target").get("dev"), d.find("readonly") is not None, d.find("shareable") is not None)  # type: ignore[union-attr]
        for d in disks
    ]  # fmt: skip
    assert seen == [
        ("block", "phy", "sda1", False, False),
        ("block", "phy", "sda2", False, True),
        ("file", "file", "xvda", True, False),
        ("file", "tap", "xvdb", False, False),
        ("network", None, "xvdc", False, False),
    ]
    assert disks[0].find("source").get("dev") == "/dev/hda3"  # type: ignore[union-attr]
    assert disks[2].find("source").get("file") == "/srv/xen/root.img"  # type: ignore[union-attr]


def test_interfaces_are_on_their_bridge_with_their_mac() -> None:
    root = ET.fromstring(domain_xml(CONFIGS["interfaces on bridges"]))
    interfaces = root.findall("devices/interface")
    assert [i.get("type") for i in interfaces] == ["bridge", "bridge", "bridge"]
    assert [i.find("source").get("bridge") for i in interfaces] == ["xenbr0", "xenbr1", "xenbr0"]  # type: ignore[union-attr]
    macs = [i.find("mac") for i in interfaces]
    addresses = [m.get("address") if m is not None else None for m in macs]
    assert addresses == ["00:16:3e:00:00:01", None, "00:16:3e:00:00:02"]


def test_the_owner_is_in_xenctls_own_namespace_under_metadata() -> None:
    root = ET.fromstring(domain_xml(CONFIGS["pv with pygrub"], OURS))
    owner = root.find(f"metadata/{{{NAMESPACE}}}domain/{{{NAMESPACE}}}owner")
    assert owner is not None
    assert (owner.get("managed-by"), owner.get("source")) == ("xenctl", "specs/web.yaml")


def test_the_metadata_libvirt_is_given_to_set_carries_no_namespace_of_its_own() -> None:
    assert metadata_text(OURS, {}) == '<domain><owner managed-by="xenctl" source="specs/web.yaml" /></domain>'


def test_maxmem_and_maxvcpus_equal_to_the_boot_values_read_back_as_none_with_the_same_ceilings() -> None:
    config = DomainConfig(name="flat", memory=256, maxmem=256, vcpus=2, maxvcpus=2, kernel="/boot/vmlinuz")
    back = read_domain(domain_xml(config)).config
    assert (back.maxmem, back.maxvcpus) == (None, None)
    assert (back.memory_ceiling, back.vcpu_ceiling) == (256, 2)


# -- XML nobody at xenctl wrote ---------------------------------------------------------------

HAND_MADE = """<domain type='xen' id='3'>
  <name>legacy</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='GiB'>1</memory>
  <currentMemory unit='MiB'>512</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='xenpv'>linux</type><kernel>/boot/vmlinuz</kernel>
      <cmdline>root=/dev/xvda1 ro quiet</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='block' device='disk'><driver name='phy'/><source dev='/dev/vg0/legacy'/>
      <target dev='xvda' bus='xen'/></disk>
    <interface type='bridge'><mac address='00:16:3e:1b:f7:47'/><source bridge='br0'/>
      <script path='vif-bridge'/></interface>
    <console type='pty'><target type='xen' port='0'/></console>
  </devices>
</domain>"""


def test_a_hand_made_domain_reads_with_no_owner_and_its_command_line_as_extra() -> None:
    read = read_domain(HAND_MADE)
    assert read.owner is None
    config = read.config
    assert (config.memory, config.memory_ceiling, config.vcpus) == (512, 1024, 2)
    assert (config.root, config.extra) == (None, "root=/dev/xvda1 ro quiet")
    assert config.disks == (DomainDisk("/dev/vg0/legacy", "xvda", DiskMode.WRITE, "phy"),)
    assert config.vifs == (Vif("br0", "00:16:3e:1b:f7:47"),)
    assert config.on_crash is OnEvent.DESTROY


def test_a_command_line_edited_by_hand_wins_over_xenctls_record_of_it() -> None:
    text = domain_xml(CONFIGS["pv with kernel, initrd and command line"], OURS, "xen")
    edited = text.replace("root=/dev/sda1 ro console=hvc0 4", "root=/dev/sda2 ro")
    config = read_domain(edited).config
    assert (config.root, config.extra) == (None, "root=/dev/sda2 ro")


def test_xml_declaring_a_doctype_is_refused_before_any_entity_is_expanded() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><domain>&b;</domain>'
    )
    with pytest.raises(EngineError, match="DOCTYPE"):
        read_domain(laughs)
    with pytest.raises(EngineError, match="DOCTYPE"):
        parse('<!DOCTYPE d SYSTEM "file:///etc/passwd"><d/>')


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("<domain><name>x</name>", "not XML"),
        ("<node/>", "no <domain> with a <name>"),
        ("<domain><name>x</name><memory unit='parsecs'>3</memory></domain>", "is not a size"),
        ("<domain><name>x</name><on_crash>explode</on_crash></domain>", "explode"),
        ("<domain><name>x</name><os><type>exe</type></os></domain>", "neither PV nor HVM"),
    ],
)
def test_xml_that_cannot_be_read_is_one_line_saying_why(text: str, says: str) -> None:
    with pytest.raises(EngineError, match=says) as refused:
        read_domain(text)
    assert "\n" not in refused.value.message
