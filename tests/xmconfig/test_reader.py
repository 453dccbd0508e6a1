"""Reading xm and xl config files (shared/XEN.md, section 5) to what xm would have computed, and to a domain."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from xenctl.engine.api import DiskMode, DomainDisk, HvmConfig, OnEvent, Vif
from xenctl.errors import ConfigError
from xenctl.xmconfig.domain import to_domain_config
from xenctl.xmconfig.reader import parse_config, read_config

XMEXAMPLE1 = """\
#  -*- mode: python; -*-
#============================================================================
# Python configuration setup for 'xm create'.
# This script sets the parameters used when a domain is created using 'xm create'.
# You use a separate script for each domain you want to create, or
# you can set the parameters for the domain on the xm command line.
#============================================================================

#----------------------------------------------------------------------------
# Kernel image file.
kernel = "/boot/vmlinuz-2.6.10-xenU"

# Optional ramdisk.
#ramdisk = "/boot/initrd.gz"

# The domain build function. Default is 'linux'.
#builder='linux'

# Initial memory allocation (in megabytes) for the new domain.
memory = 64

# A name for your domain. All domains must have different names.
name = "ExampleDomain"

# Number of Virtual CPUS to use, default is 1
#vcpus = 1

# Define network interfaces.
vif = [ '' ]

# Define the disk devices you want the domain to have access to, and
# what you want them accessible as.
disk = [ 'phy:hda1,hda1,w' ]

# Set root device.
root = "/dev/hda1 ro"

# Sets runlevel 4.
extra = "4"

#on_poweroff = 'destroy'
#on_reboot   = 'restart'
#on_crash    = 'restart'
"""

XMEXAMPLE2 = """\
#  -*- mode: python; -*-
#============================================================================
# Example Python setup script for 'xm create'.
# This is a relatively advanced script that uses a parameter, vmid, to control
# the settings. So this script can be used to start a set of domains by
# setting the vmid parameter on the 'xm create' command line. For example:
#
# xm create vmid=1
# xm create vmid=2
# xm create vmid=3
#
# The vmid is purely a script variable, and has no effect on the the domain
# id assigned to the new domain.
#============================================================================

# Define script variables here.
# xm_vars is defined automatically, use xm_vars.var() to define a variable.

# This function checks that 'vmid' has been given a valid value.
# It is called automatically by 'xm create'.
def vmid_check(var, val):
    val = int(val)
    if val <= 0:
        raise ValueError
    return val

# Define the 'vmid' variable so that 'xm create' knows about it.
xm_vars.var('vmid',
            use="Virtual machine id. Integer greater than 0.",
            check=vmid_check)

# Check the defined variables have valid values..
xm_vars.check()

#----------------------------------------------------------------------------
# Kernel image file.
kernel = "/boot/vmlinuz-2.6.10-xenU"

# Initial memory allocation (in megabytes) for the new domain.
memory = 64

# A name for the new domain. All domains have to have different names,
# so we use the vmid to create a name.
name = "VM%d" % vmid

# Number of Virtual CPUS to use, default is 1
vcpus = 4

# Define network interfaces.
vif = [ '' ]

# Define the disk devices you want the domain to have access to, and
# what you want them accessible as.
# Append the vmid to the device name so that each domain has its own
# partition.
disk = [ 'phy:sda%d,sda1,w' % (7+vmid),
         'phy:sda6,sda6,r' ]

# Set root device.
root = "/dev/sda1 ro"

# Sets runlevel 4.
extra = "4 VMID=%d usr=/dev/sda6" % vmid
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def line_of(text: str, start: str) -> int:
    """The line number of the first line of ``text`` that starts with ``start``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


# -- xmexample1 and xmexample2 -------------------------------------------------------------------


def test_xmexample1_reads_to_what_xm_computed(tmp_path: Path) -> None:
    path = write(tmp_path, "xmexample1", XMEXAMPLE1)
    config = read_config(path)
    assert config.options == {
        "kernel": "/boot/vmlinuz-2.6.10-xenU",
        "memory": 64,
        "name": "ExampleDomain",
        "vif": [""],
        "disk": ["phy:hda1,hda1,w"],
        "root": "/dev/hda1 ro",
        "extra": "4",
    }
    assert config.lines["disk"] == line_of(XMEXAMPLE1, "disk =")
    assert config.variables == {}


def test_xmexample1_describes_a_64_mib_domain_with_one_disk_and_one_vif(tmp_path: Path) -> None:
    described = to_domain_config(read_config(write(tmp_path, "xmexample1", XMEXAMPLE1)))
    domain = described.config
    assert domain.name == "ExampleDomain"
    assert (domain.memory, domain.maxmem, domain.vcpus) == (64, None, 1)
    assert domain.kernel == "/boot/vmlinuz-2.6.10-xenU"
    assert domain.disks == (DomainDisk("/dev/hda1", "hda1", DiskMode.WRITE, "phy"),)
    assert domain.vifs == (Vif(),)
    assert (domain.root, domain.extra) == ("/dev/hda1 ro", "4")
    assert (domain.on_poweroff, domain.on_reboot, domain.on_crash) == (
        OnEvent.DESTROY,
        OnEvent.RESTART,
        OnEvent.RESTART,
    )
    assert described.ignored == ()


@pytest.mark.parametrize(
    ("vmid", "name", "first_disk", "extra"),
    [
        ("1", "VM1", "phy:sda8,sda1,w", "4 VMID=1 usr=/dev/sda6"),
        ("3", "VM3", "phy:sda10,sda1,w", "4 VMID=3 usr=/dev/sda6"),
    ],
)
def test_xmexample2_with_vmid_reads_to_what_xm_computed(
    tmp_path: Path, vmid: str, name: str, first_disk: str, extra: str
) -> None:
    path = write(tmp_path, "xmexample2", XMEXAMPLE2)
    config = read_config(path, {"vmid": vmid})
    assert config.options == {
        "kernel": "/boot/vmlinuz-2.6.10-xenU",
        "memory": 64,
        "name": name,
        "vcpus": 4,
        "vif": [""],
        "disk": [first_disk, "phy:sda6,sda6,r"],
        "root": "/dev/sda1 ro",
        "extra": extra,
    }
    assert list(config.variables) == ["vmid"]
    assert config.variables["vmid"].use == "Virtual machine id. Integer greater than 0."
    assert config.variables["vmid"].checked


@pytest.mark.parametrize(("vmid", "partition"), [("1", "/dev/sda8"), ("3", "/dev/sda10")])
def test_xmexample2_describes_a_domain_with_its_own_partition_and_the_shared_usr(
    tmp_path: Path, vmid: str, partition: str
) -> None:
    described = to_domain_config(read_config(write(tmp_path, "xmexample2", XMEXAMPLE2), {"vmid": vmid}))
    domain = described.config
    assert domain.name == f"VM{vmid}"
    assert (domain.memory, domain.vcpus) == (64, 4)
    assert domain.disks == (
        DomainDisk(partition, "sda1", DiskMode.WRITE, "phy"),
        DomainDisk("/dev/sda6", "sda6", DiskMode.READ, "phy"),
    )
    assert [d.to_json()["target"] for d in described.disks] == [partition, "/dev/sda6"]
    # xm hands root= and extra to the kernel: "root=/dev/sda1 ro 4 VMID=1 usr=/dev/sda6"
    assert f"root={domain.root} {domain.extra}" == f"root=/dev/sda1 ro 4 VMID={vmid} usr=/dev/sda6"
    assert described.ignored == ()


def test_xmexample2_without_vmid_fails_the_check_naming_the_variable_and_its_use(tmp_path: Path) -> None:
    path = write(tmp_path, "xmexample2", XMEXAMPLE2)
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    assert str(caught.value).startswith(f"{path}:{line_of(XMEXAMPLE2, 'xm_vars.check()')}: ")
    assert "variable vmid is not set" in caught.value.reason
    assert "vmid=VALUE (Virtual machine id. Integer greater than 0.)" in caught.value.reason


def test_xmexample2_with_a_vmid_that_is_not_a_number_is_refused_naming_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "xmexample2", XMEXAMPLE2)
    with pytest.raises(ConfigError) as caught:
        read_config(path, {"vmid": "abc"})
    assert str(caught.value).startswith(f"{path}:{line_of(XMEXAMPLE2, 'xm_vars.var')}: ")
    assert "variable vmid='abc' is not an integer (Virtual machine id. Integer greater than 0.)" in str(caught.value)


@pytest.mark.parametrize("vmid", ["0", "-1"])
def test_xmexample2_refuses_a_vmid_that_is_not_greater_than_0_as_its_check_did(tmp_path: Path, vmid: str) -> None:
    path = write(tmp_path, "xmexample2", XMEXAMPLE2)
    with pytest.raises(ConfigError, match=f"variable vmid={vmid} is not greater than 0"):
        read_config(path, {"vmid": vmid})


def test_a_command_line_variable_that_no_check_converts_stays_a_string_as_in_xm() -> None:
    config = parse_config(
        'xm_vars.var("tag", use="a label")\nxm_vars.check()\nname = "web-" + tag\nextra = "TAG=%s" % tag\n',
        "/etc/xen/web",
        {"tag": "7"},
    )
    assert config.options == {"name": "web-7", "extra": "TAG=7"}
    assert not config.variables["tag"].checked


def test_percent_d_takes_a_number_given_as_a_string_on_the_command_line() -> None:
    config = parse_config('name = "VM%d" % vmid\n', "/etc/xen/vm", {"vmid": "5"})
    assert config.options == {"name": "VM5"}


# -- xl configs --------------------------------------------------------------------------------

XL_CONFIG = """\
# An xl config: KEY = VALUE, no Python.
name = "xlguest"
builder = "hvm"
memory = 512; maxmem = 1024 # two settings on one line
vcpus = 2
maxvcpus = 4
pae = 1
acpi=1
disk = [
    'format=raw, vdev=xvda, access=rw, target=/dev/vg/xlguest',   # the system disk
    "/var/lib/xen/images/data.img,,xvdb",
    '/root/image.iso,,hdc,cdrom',
    'vdev=hdd, devtype=cdrom',
]
vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr1', ]
on_poweroff = "destroy"
on_crash = 'preserve'
uuid = "3d0b6f7e-8f6d-4c51-9a8b-0d2a4c6b3e21"
shadow_memory = 8
cpus = "0-3,^1"
vfb = [ 'type=vnc,vnclisten=0.0.0.0' ]
"""


def test_an_xl_config_reads_with_the_same_reader(tmp_path: Path) -> None:
    path = write(tmp_path, "xlguest.cfg", XL_CONFIG)
    config = read_config(path)
    assert config.options["memory"] == 512
    assert config.options["maxmem"] == 1024
    assert config.lines["memory"] == config.lines["maxmem"] == line_of(XL_CONFIG, "memory =")
    assert config.options["acpi"] == 1
    assert config.options["disk"] == [
        "format=raw, vdev=xvda, access=rw, target=/dev/vg/xlguest",
        "/var/lib/xen/images/data.img,,xvdb",
        "/root/image.iso,,hdc,cdrom",
        "vdev=hdd, devtype=cdrom",
    ]
    assert config.options["vif"] == ["mac=00:16:3e:00:00:01,bridge=xenbr1"]


def test_an_xl_config_describes_its_domain_and_lists_what_it_leaves_behind(tmp_path: Path) -> None:
    described = to_domain_config(read_config(write(tmp_path, "xlguest.cfg", XL_CONFIG)))
    domain = described.config
    assert domain.name == "xlguest"
    assert domain.builder == "hvm"
    assert (domain.memory, domain.maxmem, domain.vcpus, domain.maxvcpus) == (512, 1024, 2, 4)
    assert domain.disks == (
        DomainDisk("/dev/vg/xlguest", "xvda", DiskMode.WRITE, "phy"),
        DomainDisk("/var/lib/xen/images/data.img", "xvdb", DiskMode.WRITE, "file"),
        DomainDisk("/root/image.iso", "hdc", DiskMode.READ, "file", cdrom=True),
        DomainDisk("", "hdd", DiskMode.READ, "phy", cdrom=True),  # an empty drive, as xl reads it
    )
    assert domain.hvm == HvmConfig(pae=True, acpi=True)
    assert domain.kernel == "/usr/lib/xen/boot/hvmloader"
    assert [d.vdev for d in described.disks] == ["xvda", "xvdb", "hdc", "hdd"]
    assert described.disks[3].to_json()["format"] == "empty"
    assert domain.vifs == (Vif(bridge="xenbr1", mac="00:16:3e:00:00:01"),)
    assert (domain.on_poweroff, domain.on_reboot, domain.on_crash) == (
        OnEvent.DESTROY,
        OnEvent.RESTART,
        OnEvent.PRESERVE,
    )
    assert domain.uuid == "3d0b6f7e-8f6d-4c51-9a8b-0d2a4c6b3e21"
    assert domain.shadow_memory == 8
    assert described.ignored == ("cpus", "vfb")


# -- the reader itself ---------------------------------------------------------------------------


def test_a_missing_config_file_is_unable_to_open_as_xm_says(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="Unable to open config file: ") as caught:
        read_config(path)
    assert caught.value.file == path


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken", 'name = "ok"\nmemory = 64 64\n')
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    assert str(caught.value).startswith(f"{path}:2: not a config file")


def test_a_name_used_before_it_is_set_names_the_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('memory = 64\nname = "VM%d" % vmid\n', "/etc/xen/vm")
    assert str(caught.value) == "/etc/xen/vm:2: name 'vmid' is not defined"


def test_a_config_with_latin1_comments_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old"
    path.write_bytes(b"# Gr\xfc\xdfe aus M\xfcnchen\nname = 'old'\n")
    assert read_config(str(path)).options == {"name": "old"}


def test_later_lines_see_earlier_names_and_plus_equals_appends() -> None:
    config = parse_config(
        textwrap.dedent(
            '''\
            """A docstring is fine."""
            base = "/var/lib/xen/images/"
            size = 2 * 256 - 0
            disk = [ 'file:' + base + 'root.img,xvda,w' ]
            disk += [ 'file:%sswap.img,xvdb,w' % base ]
            memory = int("%d" % size)
            extra = str(size) + " console=%(tty)s" % {"tty": "xvc0"}
            maxmem = -(-1024)
            pass
            '''
        ),
        "/etc/xen/web",
    )
    assert config.options["disk"] == [
        "file:/var/lib/xen/images/root.img,xvda,w",
        "file:/var/lib/xen/images/swap.img,xvdb,w",
    ]
    assert config.options["memory"] == 512
    assert config.options["extra"] == "512 console=xvc0"
    assert config.options["maxmem"] == 1024
    assert config.lines["disk"] == 5


# -- to_domain_config ----------------------------------------------------------------------------


def test_a_config_without_a_name_names_the_domain_after_the_file(tmp_path: Path) -> None:
    described = to_domain_config(read_config(write(tmp_path, "webserver", "memory = 256\n")))
    assert described.config.name == "webserver"


def test_a_config_without_memory_gets_128_mib_and_one_vcpu() -> None:
    domain = to_domain_config(parse_config('name = "small"\n', "/etc/xen/small")).config
    assert (domain.memory, domain.maxmem, domain.vcpus, domain.builder) == (128, None, 1, "linux")


def test_numbers_given_as_strings_on_the_command_line_are_numbers() -> None:
    parsed = parse_config('name = "web"\nmemory = "256"\nvcpus = "2"\n', "/etc/xen/web")
    domain = to_domain_config(parsed).config
    assert (domain.memory, domain.vcpus) == (256, 2)


def test_keys_xenctl_does_not_carry_are_listed_as_ignored_in_file_order() -> None:
    parsed = parse_config(
        'name = "web"\ncpus = "0-3,^1"\nvfb = [ "type=vnc" ]\nmemory = 64\npci = [ "0000:00:1d.0" ]\n',
        "/etc/xen/web",
    )
    assert to_domain_config(parsed).ignored == ("cpus", "vfb", "pci")


def test_nfs_root_and_ip_are_carried() -> None:
    parsed = parse_config(
        'name = "nfs"\nnfs_server = "192.168.1.1"\nnfs_root = "/export/nfs"\nip = "192.168.1.20"\nroot = "/dev/nfs"\n',
        "/etc/xen/nfs",
    )
    domain = to_domain_config(parsed).config
    assert (domain.nfs_server, domain.nfs_root, domain.ip, domain.root) == (
        "192.168.1.1",
        "/export/nfs",
        "192.168.1.20",
        "/dev/nfs",
    )


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ('name = "web"\nmemory = "lots"\n', 2, ["memory", "'lots'", "not a whole number"]),
        ('name = "web"\nmemory = 64.5\n', 2, ["memory", "64.5"]),
        ('name = "web"\nvcpus = True\n', 2, ["vcpus", "True"]),
        ('name = "web"\n\non_crash = "explode"\n', 3, ["on_crash", "'explode'"]),
        ('name = "web"\non_reboot = "reboot"\n', 2, ["on_reboot", "'reboot'"]),
        ("name = 5\n", 1, ["name", "not a string"]),
        ('name = "web"\ndisk = "phy:hda1,hda1,x"\n', 2, ["disk", "Invalid mode"]),
        ('name = "web"\ndisk = [ 3 ]\n', 2, ["disk", "list of strings"]),
        ('name = "web"\ndisk = [ "phy:hda1,hda1,w",\n  "vdev=xvdb" ]\n', 2, ["disk", "no target specified"]),
        ('name = "web"\nvif = [ "bridge" ]\n', 2, ["vif", "not key=value"]),
        ('name = "web"\nkernel = [ "/boot/vmlinuz" ]\n', 2, ["kernel", "not a string"]),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_key_and_line(source: str, line: int, words: list[str]) -> None:
    parsed = parse_config(source, "/etc/xen/web")
    with pytest.raises(ConfigError) as caught:
        to_domain_config(parsed)
    assert str(caught.value).startswith(f"/etc/xen/web:{line}: ")
    for word in words:
        assert word in caught.value.reason


@pytest.mark.parametrize("value", ["²", "--5"])
def test_a_memory_string_that_only_looks_numeric_is_a_config_error_not_a_traceback(value: str) -> None:
    parsed = parse_config(f'name = "web"\nmemory = "{value}"\n', "/etc/xen/web")
    with pytest.raises(ConfigError) as caught:
        to_domain_config(parsed)
    assert str(caught.value).startswith("/etc/xen/web:2: memory: ")


@pytest.mark.parametrize("value", ["coredump-destroy", "coredump-restart", "rename-restart", "preserve"])
def test_on_crash_takes_coredump_and_the_other_actions(value: str) -> None:
    parsed = parse_config(f'name = "web"\non_crash = "{value}"\n', "/etc/xen/web")
    assert to_domain_config(parsed).config.on_crash == OnEvent(value)


@pytest.mark.parametrize(
    ("setting", "line"),
    [('nfs_root = "/export/nfs"', 3), ('nfs_server = "192.168.1.1"', 3)],
    ids=["nfs_root alone", "nfs_server alone"],
)
def test_nfs_root_and_nfs_server_are_required_together_as_xm_requires(setting: str, line: int) -> None:
    parsed = parse_config(f'name = "nfs"\nroot = "/dev/nfs"\n{setting}\n', "/etc/xen/nfs")
    with pytest.raises(ConfigError, match="Must set nfs root and nfs server") as caught:
        to_domain_config(parsed)
    assert str(caught.value).startswith(f"/etc/xen/nfs:{line}: ")
