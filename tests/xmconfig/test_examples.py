"""Xen's own example configs (tests/xmconfig/examples) read, and create guests on the simulated host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import run_xenctl
from xenctl.engine.api import DiskMode, DomainDisk
from xenctl.engine.sim import SimHost, SystemClock, open_host
from xenctl.errors import ConfigError
from xenctl.units import GIB
from xenctl.xmconfig.domain import to_domain_config
from xenctl.xmconfig.reader import parse_config, read_config

EXAMPLES = Path(__file__).resolve().parent / "examples"


@pytest.mark.parametrize(("machine", "libdir"), [("x86_64", "lib64"), ("i686", "lib"), ("ia64", "lib64")])
def test_the_stock_architecture_test_is_answered_with_the_machine_given(machine: str, libdir: str) -> None:
    config = to_domain_config(read_config(str(EXAMPLES / "xmexample.vmx"), machine=machine)).config
    assert config.hvm is not None
    assert config.hvm.device_model == f"/usr/{libdir}/xen/bin/qemu-dm"


def test_the_host_is_asked_the_same_way_on_every_machine_by_default() -> None:
    parsed = parse_config("import os\narch = os.uname()[4]\n")
    assert parsed.options["arch"] == "x86_64"  # the simulated host's, not the machine running the tests


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("import os\nx = os.uname()\n", "calling 'os.uname'"),
        ("import os\nx = os.uname()[0]\n", "subscript"),
        ("import os as o\nx = o.uname()[4]\n", "subscript"),
        ("x = os.uname()[4]\n", "subscript"),  # os never imported
        ("import os\nos = 'x'\ny = os.uname()[4]\n", "subscript"),  # os rebound
        ("import re\nif re.search('(a+)+$', 'aaaa'):\n    x = 1\n", "re.search of other than plain text"),
        ("import re\nif re.search('64', 64):\n    x = 1\n", "re.search of other than plain text"),
        ("import re\nif re.search('64', 'x86_64'):\n    import subprocess\n    subprocess.call(['x'])\n", "subprocess"),
        ("if 'a' == 'a':\n    x = 1\n", "if statement"),
    ],
)
def test_only_the_stock_ways_of_asking_the_host_are_allowed(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_config(text, "cfg")


def _write_profile(tmp_path: Path, **fields: object) -> Path:
    import yaml

    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(fields))
    return path


def test_xm_create_on_the_hvm_example_boots_it_through_hvmloader_and_the_device_model(
    tmp_path: Path, make_host: Callable[..., SimHost]
) -> None:
    # The example's disk, /var/images/min-el3-i386.img, on a host that keeps its images there.
    host = make_host(storage_root="/var/images")
    host.create_image("min-el3-i386.img", 2 * GIB)
    home = Path(host.home)
    loops_before = host.snapshot().host.loops_used
    host.close()
    made = run_xenctl(home, "create", str(EXAMPLES / "xmexample.hvm"))
    assert made.returncode == 0, made.stderr
    listed = run_xenctl(home, "list").stdout
    assert "ExampleHVMDomain" in listed
    console = run_xenctl(home, "console", "ExampleHVMDomain").stdout
    assert "Device model /usr/lib/xen/bin/qemu-dm started for domain 1" in console
    assert "HVM Loader (/usr/lib/xen/boot/hvmloader)" in console
    assert "Booting from Hard Disk..." in console
    assert "Registering removable drive hdc (no disc, mode r)" in console
    with open_host(str(home), clock=SystemClock(0)) as sim:
        state = sim.snapshot()
    guest = next(d for d in state.domains if d.name == "ExampleHVMDomain")
    assert guest.config.builder == "hvm" and guest.config.hvm is not None
    assert DomainDisk("", "hdc", DiskMode.READ, "phy", cdrom=True) in guest.config.disks
    assert state.host.loops_used == loops_before + 1  # the image's; the empty drive holds none


def test_a_host_without_hvm_support_refuses_an_hvm_guest_with_xends_words(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init = run_xenctl(home, "host", "init", "--profile", str(_write_profile(tmp_path, hvm=False)))
    assert init.returncode == 0, init.stderr
    made = run_xenctl(home, "create", str(EXAMPLES / "xmexample.hvm-stubdom"))
    assert made.returncode == 1
    assert made.stderr == (
        "Error: HVM guest support is unavailable: is VT/AMD-V supported by your CPU and enabled in your BIOS?\n"
    )
    assert "xmexample.hvm" not in run_xenctl(home, "list").stdout


def test_a_network_block_device_and_empty_drives_connect_holding_no_device_of_the_host(tmp_path: Path) -> None:
    config = tmp_path / "nbdguest"
    config.write_text(
        "name = 'nbdguest'\nkernel = '/boot/vmlinuz-2.6.18-xen'\n"
        "disk = [ 'nbd:134.100.233.115 20004,xvda,w', ',hdc:cdrom,r', 'format=empty, vdev=hdd, devtype=cdrom' ]\n"
    )
    home = tmp_path / "home"
    made = run_xenctl(home, "create", str(config))
    assert made.returncode == 0, made.stderr
    console = run_xenctl(home, "console", "nbdguest").stdout
    assert "Registering block device xvda (nbd:134.100.233.115 20004, mode w)" in console
    assert "Registering removable drive hdd (no disc, mode r)" in console
    # the same server in a second guest is not Domain-0's device: xend's sharing check has no say
    again = tmp_path / "second"
    again.write_text(config.read_text().replace("nbdguest", "second"))
    assert run_xenctl(home, "create", str(again)).returncode == 0


def test_a_pv_grub_guest_reads_the_menu_lst_its_extra_names(tmp_path: Path) -> None:
    config = tmp_path / "grub"
    config.write_text((EXAMPLES / "xmexample.pv-grub").read_text().replace("phy:hda1,hda1,w", "phy:hda3,xvda,w"))
    home = tmp_path / "home"
    made = run_xenctl(home, "create", str(config))
    assert made.returncode == 0, made.stderr
    console = run_xenctl(home, "console", "ExampleDomain").stdout
    assert "GNU GRUB  version 0.97 (pv-grub)" in console
    assert "Reading the menu from (hd0,0)/boot/grub/menu.lst" in console
