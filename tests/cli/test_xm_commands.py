"""The xm command set, run as an administrator runs it: the real command on a fresh host."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import run_xenctl

XMEXAMPLE2 = """\
#  -*- mode: python; -*-
def vmid_check(var, val):
    val = int(val)
    if val <= 0:
        raise ValueError
    return val

xm_vars.var('vmid', use="Virtual machine id. Integer greater than 0.", check=vmid_check)
xm_vars.check()

kernel = "/boot/vmlinuz-2.6.10-xenU"
memory = 64
maxmem = 128
name = "VM%d" % vmid
vcpus = 4
vif = [ '' ]
disk = [ 'phy:sda%d,sda1,w' % (7+vmid), 'phy:sda6,sda6,r' ]
root = "/dev/sda1 ro"
extra = "4 VMID=%d usr=/dev/sda6" % vmid
"""


@pytest.fixture
def xen(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh home and a xen root holding myvmconf (xmexample2's shape)."""
    root = tmp_path / "etc-xen"
    root.mkdir()
    (root / "myvmconf").write_text(XMEXAMPLE2)
    return tmp_path / "home", root


def xm(xen: tuple[Path, Path], *args: str) -> tuple[int, str, str]:
    home, root = xen
    result = run_xenctl(home, "--xen-root", str(root), *args)
    return result.returncode, result.stdout, result.stderr


def row(xen: tuple[Path, Path], name: str) -> list[str]:
    code, out, err = xm(xen, "list", name)
    assert code == 0, err
    return out.splitlines()[1].split()


def test_the_xm_day_from_create_to_shutdown(xen: tuple[Path, Path]) -> None:
    code, out, err = xm(xen, "create", "-c", "myvmconf", "vmid=1")
    assert code == 0, err
    assert 'Using config file "' in out and "myvmconf" in out
    assert "Started domain VM1 (id=1)" in out
    assert "Kernel command line: root=/dev/sda1 ro 4 VMID=1 usr=/dev/sda6" in out
    assert out.rstrip().endswith("VM1 login:")  # -c without a terminal returns after the boot
    assert row(xen, "VM1")[:5] == ["VM1", "1", "64", "4", "-b----"]

    assert xm(xen, "pause", "VM1")[0] == 0
    assert row(xen, "VM1")[4] == "--p---"
    assert xm(xen, "unpause", "1")[0] == 0  # by domid too
    assert row(xen, "VM1")[4] == "-b----"

    save_file = xen[0].parent / "VM1.save"
    assert xm(xen, "save", "VM1", str(save_file))[0] == 0
    assert save_file.read_bytes().startswith(b"LinuxGuestRecord")
    code, out, _ = xm(xen, "list")
    assert "VM1" not in out
    assert xm(xen, "restore", str(save_file))[0] == 0
    restored = row(xen, "VM1")
    assert int(restored[1]) > 1  # a new domid

    assert xm(xen, "mem-set", "VM1", "128")[0] == 0
    assert row(xen, "VM1")[2] == "128"
    assert xm(xen, "vcpu-set", "VM1", "2")[0] == 0
    assert row(xen, "VM1")[3] == "2"

    code, out, err = xm(xen, "shutdown", "-w", "VM1")
    assert (code, out.strip()) == (0, "Domain VM1 terminated"), err
    assert "VM1" not in xm(xen, "list")[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pause", "Domain-0"), "Error: Cannot pause privileged domain"),
        (("unpause", "0"), "Error: Cannot unpause privileged domain"),
        (("destroy", "0"), "Error: Cannot destroy privileged domain"),
        (("shutdown", "Domain-0"), "Error: Domain 0 cannot be shutdown"),
        (("save", "0", "/tmp/never-written.save"), "Error: Cannot save privileged domain"),
        (("pause", "web1"), "Error: Domain 'web1' does not exist."),
        (
            ("mem-set", "VM1", "512"),
            "Error: Invalid Configuration: memory_dynamic_max must be less than or equal to memory_static_max",
        ),
        (("vcpu-set", "VM1", "8"), "Error: Cannot set vcpus greater than max vcpus on running domain"),
        (("vcpu-set", "VM1", "0"), "Error: Zero or less VCPUs is invalid"),
        (("shutdown", "-H", "-R", "VM1"), "Error: Can't specify halt and reboot"),
        (("create", "nosuchconf"), "Error: Unable to open config file: nosuchconf"),
        (("create", "myvmconf", "vmid=1"), "Error: VM name 'VM1' already exists as domain 1"),
    ],
)
def test_each_command_refuses_as_xm_did(xen: tuple[Path, Path], args: tuple[str, ...], message: str) -> None:
    assert xm(xen, "create", "myvmconf", "vmid=1")[0] == 0
    code, _out, err = xm(xen, *args)
    assert code == 1
    assert err.strip() == message
    assert "Traceback" not in err


def test_restore_is_refused_while_the_domain_exists(xen: tuple[Path, Path]) -> None:
    assert xm(xen, "create", "myvmconf", "vmid=1")[0] == 0
    save_file = xen[0].parent / "VM1.save"
    assert xm(xen, "save", "VM1", str(save_file))[0] == 0
    assert xm(xen, "restore", str(save_file))[0] == 0
    code, _, err = xm(xen, "restore", str(save_file))
    assert code == 1
    assert re.fullmatch(r"Error: Domain 'VM1' already exists with ID '\d+'\n", err)


def test_a_config_that_runs_code_runs_nothing(xen: tuple[Path, Path], tmp_path: Path) -> None:
    victim = tmp_path / "created-by-config"
    config = xen[1] / "evil"
    config.write_text(f'import os\nos.system("touch {victim}")\nname = "evil"\n')
    code, _, err = xm(xen, "create", "evil")
    assert code == 1
    assert "evil:2" in err and "not allowed in a config file" in err
    assert not victim.exists()
    assert "evil" not in xm(xen, "list")[1]


def test_dry_run_json_has_the_configs_own_keys_and_the_disk_shape(xen: tuple[Path, Path]) -> None:
    code, out, err = xm(xen, "create", "--dry-run", "--json", "myvmconf", "vmid=3", "memory=96")
    assert code == 0, err
    data = json.loads(out)
    assert data["name"] == "VM3"
    assert data["memory"] == 96  # a known option on the command line replaces the file's
    assert data["extra"] == "4 VMID=3 usr=/dev/sda6"
    assert data["disk"][0] == {
        "target": "/dev/sda10",
        "vdev": "sda1",
        "format": "raw",
        "access": "w",
        "devtype": "disk",
        "backendtype": None,
        "script": None,
    }
    assert "VM3" not in xm(xen, "list")[1]  # a dry run creates nothing


def test_shutdown_all_waits_for_every_domain(xen: tuple[Path, Path]) -> None:
    for vmid in ("1", "2"):
        assert xm(xen, "create", "myvmconf", f"vmid={vmid}")[0] == 0
    code, out, err = xm(xen, "shutdown", "-a", "-w")
    assert (code, out.strip()) == (0, "All domains terminated"), err
    assert xm(xen, "list")[1].count("\n") == 2  # the header and Domain-0


def test_top_prints_xentops_columns_for_every_domain(xen: tuple[Path, Path]) -> None:
    assert xm(xen, "create", "myvmconf", "vmid=1")[0] == 0
    code, out, err = xm(xen, "top", "--iterations", "2", "--delay", "0")
    assert code == 0, err
    lines = out.splitlines()
    headers = [line for line in lines if line.split()[:2] == ["NAME", "STATE"]]
    assert len(headers) == 2
    assert headers[0].split() == [
        "NAME",
        "STATE",
        "CPU(sec)",
        "CPU(%)",
        "MEM(k)",
        "MEM(%)",
        "MAXMEM(k)",
        "MAXMEM(%)",
        "VCPUS",
        "NETS",
        "NETTX(k)",
        "NETRX(k)",
        "VBDS",
        "VBD_OO",
        "VBD_RD",
        "VBD_WR",
        "SSID",
    ]
    vm1 = [line.split() for line in lines if line.split()[0] == "VM1"]
    assert len(vm1) == 2
    assert vm1[0][4] == str(64 * 1024) and vm1[0][6] == str(128 * 1024) and vm1[0][12] == "2"


def test_top_shows_domain0_s_maxmem_as_the_ceiling_mem_set_keeps(xen: tuple[Path, Path]) -> None:
    code, out, err = xm(xen, "top")
    assert code == 0, err
    dom0 = next(line.split() for line in out.splitlines() if line.split()[0] == "Domain-0")
    assert dom0[6] == str(1024 * 1024)  # booted with 1024 MiB (dom0_mem): its memory_static_max
    assert xm(xen, "mem-set", "0", "1024")[0] == 0
    code, _out, err = xm(xen, "mem-set", "0", "1025")
    assert code == 1 and "memory_static_max" in err


def test_a_hung_guest_keeps_shutdown_w_waiting_until_its_timeout(xen: tuple[Path, Path]) -> None:
    assert xm(xen, "create", "myvmconf", "vmid=1")[0] == 0
    assert xm(xen, "host", "fault", "add", "shutdown", "VM1", "--kind", "ignore-shutdown")[0] == 0
    code, _, err = xm(xen, "shutdown", "-w", "--timeout", "0.5", "VM1")
    assert code == 1 and "did not shut down within 0.5 seconds" in err
    assert xm(xen, "destroy", "VM1")[0] == 0


def test_create_with_only_variables_reads_xms_default_config(xen: tuple[Path, Path]) -> None:
    (xen[1] / "xmdefconfig").write_text(XMEXAMPLE2)
    code, out, err = xm(xen, "create", "vmid=2")
    assert code == 0, err
    assert "xmdefconfig" in out and "Started domain VM2" in out


def test_a_bad_option_on_the_command_line_is_blamed_on_the_command_line(xen: tuple[Path, Path]) -> None:
    code, _out, err = xm(xen, "create", "myvmconf", "vmid=1", "memory=abc")
    assert code == 1
    assert err.strip() == "Error: memory=abc on the command line: 'abc' is not a whole number"


def test_json_without_a_dry_run_is_refused_rather_than_ignored(xen: tuple[Path, Path]) -> None:
    code, _out, err = xm(xen, "create", "--json", "myvmconf", "vmid=1")
    assert code == 1 and "--json goes with --dry-run" in err
    assert "VM1" not in xm(xen, "list")[1]


def test_the_guest_kernel_is_given_ip_and_nfsroot_as_xm_built_them(xen: tuple[Path, Path]) -> None:
    (xen[1] / "nfsvm").write_text(
        'kernel = "/boot/vmlinuz"\nname = "nfsvm"\nroot = "/dev/nfs"\nip = "2.3.4.10"\n'
        'nfs_server = "2.3.4.5"\nnfs_root = "/path/to/root"\n'
    )
    code, out, err = xm(xen, "create", "-c", "nfsvm")
    assert code == 0, err
    assert "Kernel command line: root=/dev/nfs ip=2.3.4.10 nfsroot=2.3.4.5:/path/to/root" in out


def test_create_c_of_a_guest_that_dies_at_boot_says_so_and_fails(xen: tuple[Path, Path]) -> None:
    # An NFS root whose server does not answer: the guest panics at the end of its boot.
    (xen[1] / "lostroot").write_text(
        'kernel = "/boot/vmlinuz"\nname = "lostroot"\nroot = "/dev/nfs"\n'
        'nfs_server = "10.9.9.9"\nnfs_root = "/nowhere"\non_crash = "destroy"\n'
    )
    code, out, err = xm(xen, "create", "-c", "lostroot")
    assert code == 1
    assert "Started domain lostroot (id=1)" in out
    assert err == (
        "Error: Domain lostroot crashed (VFS: Unable to mount root fs via NFS, trying floppy.); "
        "on_crash=destroy: destroyed\n"
    )
    assert "lostroot" not in xm(xen, "list")[1]


def test_create_c_of_a_guest_restarted_after_its_crash_still_fails(xen: tuple[Path, Path]) -> None:
    (xen[1] / "lostroot").write_text(
        'kernel = "/boot/vmlinuz"\nname = "lostroot"\nroot = "/dev/nfs"\nnfs_server = "10.9.9.9"\nnfs_root = "/x"\n'
    )
    code, _out, err = xm(xen, "create", "-c", "lostroot")  # on_crash=restart, xm's default
    assert code == 1
    assert err.startswith("Error: Domain lostroot crashed (VFS: Unable to mount root fs via NFS")
    assert "Refusing to restart to avoid loops." in err


def test_the_console_replays_only_what_the_guest_printed(xen: tuple[Path, Path]) -> None:
    code, created, err = xm(xen, "create", "myvmconf", "vmid=1")
    assert code == 0, err
    assert created.splitlines()[-1] == "Started domain VM1 (id=1)"  # xm create's own line
    code, out, err = xm(xen, "console", "VM1")
    assert code == 0, err
    assert "Started domain" not in out
    assert out.splitlines()[0] == "Linux version 2.6.18-xen (/boot/vmlinuz-2.6.10-xenU) #1 SMP"
    assert out.splitlines()[-1] == "VM1 login:"
