"""xenctl import: the seed scenarios' config files, and a live host, become specs that validate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import disk, domain, run_xenctl
from xenctl.engine.sim import SystemClock, open_host
from xenctl.units import GIB, MIB

SEEDS = {
    "phy": "kernel = '/boot/vmlinuz-2.6.18-xen'\nmemory = 512\nname = 'gtes11vm'\n"
    "disk = [ 'phy:hda3,sda1,w' ]\nroot = '/dev/sda1 ro'\nvif = [ 'bridge=xenbr0' ]\n",
    "image": "kernel = '/boot/vmlinuz-2.6.18-xen'\nmemory = 256\nname = 'imagevm'\n"
    "disk = [ 'file:/var/lib/xen/images/gtes11vm.img,sda1,w' ]\nroot = '/dev/sda1 ro'\n",
    "lvm": "kernel = '/boot/vmlinuz-2.6.18-xen'\nmemory = 512\nname = 'lvmvm'\n"
    "disk = [ 'phy:vg/gtesvmdisk1,sda1,w' ]\nroot = '/dev/sda1 ro'\nvfb = [ 'type=vnc' ]\n",
    "nfs": "kernel = '/boot/vmlinuz-2.6.18-xen'\nmemory = 256\nname = 'nfsvm'\nroot = '/dev/nfs'\n"
    "nfs_server = '2.3.4.5'\nnfs_root = '/path/to/root'\n",
}


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    root = tmp_path / "etc-xen"
    root.mkdir()
    for name, text in SEEDS.items():
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_each_seed_scenario_imports_to_a_spec_that_validates(seeds: Path, tmp_path: Path, seed: str) -> None:
    out = tmp_path / "specs" / f"{seed}.yaml"
    made = run_xenctl(tmp_path / "home", "import", str(seeds / seed), "-o", str(out))
    assert made.returncode == 0, made.stderr
    checked = run_xenctl(tmp_path / "home", "validate", str(out))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: 1 file: 1 domain")


def test_an_import_declares_what_the_configs_say_and_notes_the_rest(seeds: Path, tmp_path: Path) -> None:
    result = run_xenctl(tmp_path / "home", "import", *(str(seeds / s) for s in sorted(SEEDS)))
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(result.stdout)
    domains = {d["name"]: d for d in spec["domains"]}
    assert domains["gtes11vm"]["disks"] == [{"volume": "hda3", "vdev": "sda1"}]
    assert spec["storage"]["volumes"] == [{"name": "hda3", "partition": "/dev/hda3"}]
    assert domains["nfsvm"]["nfs_root"] == "nfsvm-root"
    assert spec["storage"]["nfs_exports"] == [{"name": "nfsvm-root", "server": "2.3.4.5", "path": "/path/to/root"}]
    assert domains["imagevm"]["disks"] == [{"file": "/var/lib/xen/images/gtes11vm.img", "vdev": "sda1"}]
    # What a config file cannot say is said, on stderr and in the spec's header.
    assert "its size is not in the config" in result.stderr
    assert "config key 'vfb' is not carried over" in result.stderr
    assert "# Note: lvmvm: config key 'vfb' is not carried over" in result.stdout


def test_variables_reach_an_imported_template(tmp_path: Path) -> None:
    root = tmp_path / "etc-xen"
    root.mkdir()
    (root / "vm").write_text(
        "xm_vars.var('vmid', use='id', check=None)\nxm_vars.check()\nname = 'VM%d' % vmid\n"
        "kernel = '/boot/vmlinuz'\ndisk = [ 'phy:sda%d,sda1,w' % (7+vmid) ]\n"
    )
    result = run_xenctl(tmp_path / "home", "--xen-root", str(root), "import", "vm", "vmid=3")
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(result.stdout)
    assert spec["domains"][0]["name"] == "VM3"
    assert spec["storage"]["volumes"] == [{"name": "sda10", "partition": "/dev/sda10"}]


def test_import_from_the_host_declares_its_domains_and_all_their_storage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_host(str(home), clock=SystemClock(0)) as host:
        host.create_volume_group("vg", ("/dev/sda10",))
        host.create_logical_volume("vg", "root1", 4 * GIB)
        host.create_snapshot("vg", "clone1", "root1", 512 * MIB)
        image = host.create_image("web.img", 2 * GIB)
        host.create_domain(domain("web1", 256, disks=[disk("/dev/vg/root1", "sda1"), disk(image, "sdb", "w", "file")]))
        host.create_domain(domain("web2", 256, disks=[disk("vg/clone1", "sda1"), disk("hda3", "sda2", "r")]))
        host.pause_domain("web2")
    out = tmp_path / "host.yaml"
    made = run_xenctl(home, "import", "--from-host", "-o", str(out))
    assert made.returncode == 0, made.stderr
    spec = yaml.safe_load(out.read_text())
    assert spec["storage"]["volume_groups"] == [{"name": "vg", "pvs": ["/dev/sda10"]}]
    volumes = {v["name"]: v for v in spec["storage"]["volumes"]}
    assert volumes["root1"]["lvm"] == {"vg": "vg", "size": "4G"}
    assert volumes["clone1"]["lvm"] == {"vg": "vg", "size": "512M", "snapshot_of": "root1"}
    assert volumes["web"]["file"] == {"path": "/var/lib/xen/images/web.img", "size": "2G"}
    states = {d["name"]: d.get("state", "running") for d in spec["domains"]}
    assert states == {"web1": "running", "web2": "paused"}
    assert run_xenctl(home, "validate", str(out)).returncode == 0


def test_import_refuses_to_guess_what_to_read_or_to_overwrite(tmp_path: Path, seeds: Path) -> None:
    neither = run_xenctl(tmp_path / "home", "import")
    assert neither.returncode == 1 and "--from-host" in neither.stderr
    out = tmp_path / "exists.yaml"
    out.write_text("keep me\n")
    again = run_xenctl(tmp_path / "home", "import", str(seeds / "phy"), "-o", str(out))
    assert again.returncode == 1 and "--force" in again.stderr
    assert out.read_text() == "keep me\n"


def test_import_says_what_of_a_disk_entry_it_cannot_carry(tmp_path: Path) -> None:
    root = tmp_path / "etc-xen"
    root.mkdir()
    (root / "vm").write_text(
        "name = 'vm'\nkernel = '/boot/vmlinuz'\n"
        "disk = [ 'phy:hda3,sda1,w', ',hdc:cdrom,r', '/var/lib/xen/images/x.qcow2,qcow2,xvdb,w' ]\n"
    )
    result = run_xenctl(tmp_path / "home", "--xen-root", str(root), "import", "vm")
    assert result.returncode == 0, result.stderr
    assert "xvdb's format qcow2 is not carried over" in result.stderr
    assert {"vdev": "hdc", "cdrom": True} in yaml.safe_load(result.stdout)["domains"][0]["disks"]


def test_an_import_that_would_not_validate_is_refused_with_the_reason_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "etc-xen"
    root.mkdir()
    (root / "vm").write_text("name = 'vm'\nkernel = '/boot/vmlinuz'\n")
    (root / "again").write_text("name = 'vm'\nkernel = '/boot/vmlinuz'\n")
    (root / "relative").write_text("name = 'rel'\nkernel = 'vmlinuz-2.6.18-xen'\n")
    out = tmp_path / "specs" / "vm.yaml"
    for configs, reason in (
        (["vm", "again"], "domain vm is declared twice"),
        (["relative"], "domains[rel].kernel: 'vmlinuz-2.6.18-xen' is not an absolute path"),
    ):
        result = run_xenctl(tmp_path / "home", "--xen-root", str(root), "import", *configs, "-o", str(out))
        assert result.returncode == 1
        assert result.stderr.startswith("Error: cannot import ") and reason in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert not out.exists()


EXAMPLES = Path(__file__).resolve().parent.parent / "xmconfig" / "examples"
XEN_EXAMPLES = ["xmexample.hvm", "xmexample.hvm-stubdom", "xmexample.nbd", "xmexample.pv-grub"]


@pytest.mark.parametrize("example", [*XEN_EXAMPLES, "xmexample.vmx", "xmexample.vti"])
def test_xens_own_examples_import_to_specs_that_validate(tmp_path: Path, example: str) -> None:
    out = tmp_path / "specs" / f"{example}.yaml"
    made = run_xenctl(tmp_path / "home", "import", str(EXAMPLES / example), "-o", str(out))
    assert made.returncode == 0, made.stderr
    checked = run_xenctl(tmp_path / "home", "validate", str(out))
    assert checked.returncode == 0, checked.stderr


def _imported(tmp_path: Path, example: str) -> dict[str, Any]:
    result = run_xenctl(tmp_path / "home", "import", str(EXAMPLES / example))
    assert result.returncode == 0, result.stderr
    domains: list[dict[str, Any]] = yaml.safe_load(result.stdout)["domains"]
    return domains[0]


def test_an_hvm_example_imports_as_an_hvm_guest_not_a_pv_one_with_hvmloader_for_kernel(tmp_path: Path) -> None:
    guest = _imported(tmp_path, "xmexample.hvm")
    assert "kernel" not in guest
    # xm's bare hvmloader and qemu-dm are xend's own, which are the spec's defaults
    hardware = {"vnc": True, "vncpasswd": "", "sdl": False, "opengl": True, "stdvga": False, "serial": "pty"}
    assert guest["hvm"] == hardware
    assert guest["disks"] == [{"file": "/var/images/min-el3-i386.img", "vdev": "hda"}, {"vdev": "hdc", "cdrom": True}]
    assert guest["vifs"] == [{"bridge": "xenbr0", "type": "ioemu"}]
    stubdom = _imported(tmp_path, "xmexample.hvm-stubdom")
    assert stubdom["hvm"]["device_model"] == "/usr/lib/xen/bin/stubdom-dm"


def test_the_architecture_test_of_the_oldest_examples_is_answered_with_the_hosts_machine(tmp_path: Path) -> None:
    vmx = _imported(tmp_path, "xmexample.vmx")  # builder 'vmx': Xen 3.0's word for hvm
    assert vmx["hvm"]["loader"] == "/usr/lib/xen/boot/vmxloader"
    assert vmx["hvm"]["device_model"] == "/usr/lib64/xen/bin/qemu-dm"  # re.search('64', 'x86_64')
    assert vmx["disks"] == [{"file": "/var/images/min-el3-i386.img", "vdev": "hda"}]  # ioemu:hda
    vti = _imported(tmp_path, "xmexample.vti")
    assert vti["hvm"] == {"loader": "/usr/lib/xen/boot/guest_firmware.bin", "vnc": False, "sdl": True,
                          "stdvga": False, "serial": "pty"}  # fmt: skip


def test_a_network_block_device_and_a_pv_grub_kernel_import_as_themselves(tmp_path: Path) -> None:
    nbd = _imported(tmp_path, "xmexample.nbd")
    assert nbd["disks"] == [{"nbd": {"host": "134.100.233.115", "port": 20004}, "vdev": "hda1"}]
    grub = _imported(tmp_path, "xmexample.pv-grub")
    assert grub["kernel"] == "/usr/lib/xen/boot/pv-grub.gz"  # xend's boot directory, where pv-grub lives
    assert grub["extra"] == "(hd0,0)/boot/grub/menu.lst"


def test_imported_hvm_and_nbd_guests_plan_apply_list_and_then_plan_no_changes(tmp_path: Path) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    for example in ("xmexample.hvm-stubdom", "xmexample.nbd"):
        made = run_xenctl(home, "import", str(EXAMPLES / example), "-o", str(specs / f"{example}.yaml"))
        assert made.returncode == 0, made.stderr
    planned = run_xenctl(home, "plan", str(specs))
    assert planned.returncode == 0, planned.stderr
    assert "+ domain.xmexample.hvm" in planned.stdout and "+ domain.nbd4" in planned.stdout
    applied = run_xenctl(home, "apply", "--auto-approve", str(specs))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    listed = run_xenctl(home, "list").stdout
    assert "xmexample.hvm" in listed and "nbd4" in listed
    console = run_xenctl(home, "console", "xmexample.hvm").stdout
    assert "Device model /usr/lib/xen/bin/stubdom-dm started" in console and "HVM Loader" in console
    again = run_xenctl(home, "plan", str(specs))
    assert again.returncode == 0 and "No changes" in again.stdout, again.stdout
    # the device model is fixed when the domain is built: changing it restarts the guest
    spec = specs / "xmexample.hvm-stubdom.yaml"
    spec.write_text(spec.read_text().replace("/usr/lib/xen/bin/stubdom-dm", "/usr/lib/xen/bin/qemu-dm"))
    changed = run_xenctl(home, "plan", str(specs))
    assert "restart (hvm.device_model forces it)" in changed.stdout, changed.stdout
