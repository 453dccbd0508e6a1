"""The example specs: every directory validates, by the library and by the real command, and is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_xenctl
from xenctl.spec.checks import Capacity
from xenctl.spec.load import load_specs
from xenctl.spec.model import DesiredPower, VolumeKind

EXAMPLES = ROOT / "specs" / "examples"
BUILT_IN_HOST = Capacity(16124, "the built-in host profile")  # 16 GiB less Xen and Domain-0's minimum


def _example_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


def test_there_are_the_six_examples_of_the_xen_documentation_and_the_realistic_host() -> None:
    names = {p.name for p in _example_dirs()}
    assert names >= {"phy-partition", "image-file", "lvm-snapshot", "nfs-root", "xmexample2", "webfarm"}


@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_an_example_directory_loads_with_domains_and_no_problems(example: Path) -> None:
    desired = load_specs([str(example)], BUILT_IN_HOST)
    assert desired.domains, f"{example.name} declares no domain"
    assert len(desired.files) == len(list(example.glob("*.yaml")))


@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_xenctl_validate_accepts_an_example_directory(example: Path, tmp_path: Path) -> None:
    result = run_xenctl(tmp_path / "home", "validate", str(example))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    assert result.stderr == ""
    files = len(list(example.glob("*.yaml")))
    assert f"ok: {files} file{'s' if files != 1 else ''}: " in result.stdout


def test_the_examples_readme_lists_every_example_directory() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`/]+)/` \|", readme, flags=re.MULTILINE))
    assert listed == {p.name for p in _example_dirs()}


@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_every_example_directory_has_a_readme_saying_what_it_shows(example: Path) -> None:
    readme = example / "README.md"
    assert readme.is_file()
    assert len(readme.read_text(encoding="utf-8").strip()) > 40


def test_the_xmexample2_template_gives_every_vm_its_shared_fields_and_its_own_disk() -> None:
    desired = load_specs([str(EXAMPLES / "xmexample2")], BUILT_IN_HOST)
    assert [d.name for d in desired.domains] == ["VM1", "VM2", "VM3", "VM4"]
    for vmid, domain in enumerate(desired.domains, start=1):
        assert (domain.memory, domain.vcpus, domain.kernel) == (64, 4, "/boot/vmlinuz-2.6.10-xenU")
        assert domain.extra == f"4 VMID={vmid} usr=/dev/sda6"
        assert [(d.phy, d.vdev, d.mode) for d in domain.disks] == [
            (f"/dev/sda{7 + vmid}", "sda1", "w"),
            ("/dev/sda6", "sda6", "r"),
        ]


def test_the_lvm_snapshot_example_reads_sizes_in_bytes_and_the_clone_as_a_snapshot() -> None:
    desired = load_specs([str(EXAMPLES / "lvm-snapshot")], BUILT_IN_HOST)
    origin, clone = desired.volume("gtesvmdisk1"), desired.volume("gtesvmdisk1-clone")
    assert origin is not None and clone is not None
    assert (origin.kind, origin.size, origin.vg) == (VolumeKind.LVM, 4 * 1024**3, "vg")
    assert (clone.kind, clone.size, clone.snapshot_of) == (VolumeKind.SNAPSHOT, 512 * 1024**2, "gtesvmdisk1")
    assert [g.pvs for g in desired.volume_groups] == [("/dev/sda10",)]


def test_the_webfarm_example_reads_durations_in_seconds_and_memory_in_mib() -> None:
    desired = load_specs([str(EXAMPLES / "webfarm")], BUILT_IN_HOST)
    db = desired.domain("db")
    assert db is not None
    assert (db.memory, db.maxmem, db.vcpus, db.maxvcpus, db.on_crash) == (2048, 4096, 2, 4, "preserve")
    assert db.state is DesiredPower.RUNNING
    entries = {a.domain: a for a in desired.autostart}
    assert (entries["nfs1"].up, entries["db"].up, entries["db"].stop_timeout) == (5.0, 10.0, 120.0)
    assert entries["web1"].after == ("nfs1", "db")
