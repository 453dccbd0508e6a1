"""write_config writes a domain as plain literals that xm and xl both read, and xenctl reads back to the same domain."""

from __future__ import annotations

import ast
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, OnEvent, Vif
from xenctl.xmconfig.domain import to_domain_config, write_config
from xenctl.xmconfig.reader import parse_config

PATH = "/etc/xen/roundtrip"
KEY_VALUE = re.compile(r"^([a-z_]+) = (.*)$")

names = st.from_regex(r"[A-Za-z0-9_.:+-]{1,64}", fullmatch=True).filter(lambda name: not name.isdigit())
# Text with quotes, backslashes, % and newlines among ordinary and non-ASCII characters.
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\"'\\%\n\t ")),
        st.characters(blacklist_categories=("Cs", "Cc")),
    ),
    max_size=40,
)
optional_texts = st.none() | texts
words = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)

targets = st.one_of(
    st.integers(1, 16).map(lambda n: f"/dev/hda{n}"),
    st.tuples(words, words).map(lambda vg_lv: f"/dev/{vg_lv[0]}/{vg_lv[1]}"),
    words.map(lambda name: f"/var/lib/xen/images/{name}.img"),
)
vdevs = st.sampled_from(["hda", "hda1", "hdb", "sda1", "sda6", "xvda", "xvdb", "xvdc1"])
disks = st.builds(
    DomainDisk,
    target=targets,
    vdev=vdevs,
    mode=st.sampled_from(list(DiskMode)),
    backend=st.sampled_from(["phy", "file", "tap:aio"]),
)
cdroms = st.builds(DomainDisk, target=targets, vdev=vdevs, mode=st.just(DiskMode.READ), cdrom=st.just(True))
empty_drives = st.builds(DomainDisk, target=st.just(""), vdev=vdevs, mode=st.just(DiskMode.READ), cdrom=st.just(True))
nbd_disks = st.builds(
    DomainDisk,
    target=st.ip_addresses(v=4).map(lambda ip: f"{ip} 20004"),
    vdev=vdevs,
    mode=st.sampled_from([DiskMode.READ, DiskMode.WRITE]),
    backend=st.just("nbd"),
)
macs = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
    lambda b: "00:16:3e:%02x:%02x:%02x" % b
)
vifs = st.builds(
    Vif,
    bridge=st.sampled_from(["xenbr0", "xenbr1", "br-lan", "eth0"]),
    mac=st.none() | macs,
    type=st.sampled_from([None, "ioemu", "netfront"]),
    model=st.sampled_from([None, "rtl8139", "ne2k_pci", "e1000"]),
)
flags = st.none() | st.booleans()
hvms = st.builds(
    HvmConfig,
    device_model=st.sampled_from(["/usr/lib/xen/bin/qemu-dm", "/usr/lib/xen/bin/stubdom-dm"]),
    boot=st.none() | st.sampled_from(["c", "cda", "dc", "n"]),
    acpi=flags,
    apic=flags,
    pae=flags,
    vnc=flags,
    vncdisplay=st.none() | st.integers(0, 99),
    vnclisten=st.none() | st.ip_addresses(v=4).map(str),
    vncpasswd=optional_texts,
    sdl=flags,
    serial=st.none() | st.sampled_from(["pty", "/dev/ttyS0", "null"]),
    usb=flags,
    usbdevice=st.none() | st.sampled_from(["mouse", "tablet"]),
)
not_crash = st.sampled_from([OnEvent.DESTROY, OnEvent.RESTART, OnEvent.PRESERVE, OnEvent.RENAME_RESTART])


@st.composite
def domain_configs(draw: st.DrawFn) -> DomainConfig:
    memory = draw(st.integers(1, 65536))
    vcpus = draw(st.integers(1, 32))
    nfs = draw(st.none() | st.tuples(texts.filter(bool), texts.filter(bool)))
    hvm = draw(st.none() | hvms)
    # An HVM guest's kernel is its firmware loader; a bare pv-grub name means Xen's boot directory.
    kernel = draw(st.just("/usr/lib/xen/boot/hvmloader") if hvm else optional_texts.filter(_not_pv_grub))
    return DomainConfig(
        name=draw(names),
        memory=memory,
        maxmem=draw(st.none() | st.integers(memory, 65536)),
        vcpus=vcpus,
        maxvcpus=draw(st.none() | st.integers(vcpus, 64)),
        kernel=kernel,
        ramdisk=draw(optional_texts),
        bootloader=draw(optional_texts),
        builder="hvm" if hvm else "linux",
        root=draw(optional_texts),
        extra=draw(optional_texts),
        disks=tuple(draw(st.lists(st.one_of(disks, cdroms, empty_drives, nbd_disks), max_size=4))),
        vifs=tuple(draw(st.lists(vifs, max_size=3))),
        on_poweroff=draw(not_crash),
        on_reboot=draw(not_crash),
        on_crash=draw(st.sampled_from(list(OnEvent))),
        nfs_server=nfs[0] if nfs else None,
        nfs_root=nfs[1] if nfs else None,
        ip=draw(st.none() | st.ip_addresses(v=4).map(str)),
        uuid=draw(st.none() | st.uuids().map(str)),
        shadow_memory=draw(st.integers(0, 1024)),
        hvm=hvm,
    )


def _not_pv_grub(kernel: str | None) -> bool:
    return kernel is None or not kernel.startswith("pv-grub")


@settings(max_examples=150, deadline=None)
@given(config=domain_configs(), header=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_a_written_config_reads_back_to_the_same_domain(config: DomainConfig, header: str) -> None:
    written = write_config(config, header=header)
    described = to_domain_config(parse_config(written, PATH))
    assert described.config == config
    assert described.ignored == ()


@settings(max_examples=150, deadline=None)
@given(config=domain_configs())
def test_a_written_config_is_only_comments_and_key_equals_literal_lines_as_xl_needs(config: DomainConfig) -> None:
    for line in write_config(config, header="made by xenctl\nfor xl and xm").splitlines():
        if line.startswith("#"):
            continue
        match = KEY_VALUE.match(line)
        assert match, line
        ast.literal_eval(match.group(2))


def test_a_written_config_looks_like_xmexample1() -> None:
    config = DomainConfig(
        name="ExampleDomain",
        memory=64,
        kernel="/boot/vmlinuz-2.6.10-xenU",
        root="/dev/hda1 ro",
        extra="4",
        disks=(DomainDisk("/dev/hda1", "hda1"),),
        vifs=(Vif(),),
    )
    assert write_config(config, header="ExampleDomain\nwritten by xenctl") == (
        "# ExampleDomain\n"
        "# written by xenctl\n"
        'kernel = "/boot/vmlinuz-2.6.10-xenU"\n'
        "memory = 64\n"
        'name = "ExampleDomain"\n'
        "vcpus = 1\n"
        'vif = [ "bridge=xenbr0" ]\n'
        'disk = [ "phy:/dev/hda1,hda1,w" ]\n'
        'root = "/dev/hda1 ro"\n'
        'extra = "4"\n'
    )


def test_a_carriage_return_in_the_kernel_arguments_reads_back_the_same() -> None:
    config = DomainConfig(name="serial", extra="console=ttyS0\r")
    assert to_domain_config(parse_config(write_config(config), PATH)).config == config
