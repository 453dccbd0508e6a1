"""xenctl import: the seed scenarios' config files, and a live host, become specs that validate."""

from __future__ import annotations

from pathlib import Path

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
    (root / "again").write_text("name = 'vm'\nkernel = '/boot/vmlinuz'\n")
    result = run_xenctl(tmp_path / "home", "--xen-root", str(root), "import", "vm", "again")
    assert result.returncode == 0, result.stderr
    assert "the empty cdrom hdc is not carried over" in result.stderr
    assert "xvdb's format qcow2 is not carried over" in result.stderr
    assert "two configs name this domain" in result.stderr
