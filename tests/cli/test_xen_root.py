"""The simulated host's xen root lives with the host (<home>/etc/xen): the machine's own /etc/xen is
never read or written unless the user points there (--xen-root, XENCTL_XEN_ROOT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_xenctl

SPEC = (
    "domains:\n  - {name: rootcheck, memory: 64M, kernel: /boot/vmlinuz-2.6.18-xen}\n"
    "autostart:\n  - {domain: rootcheck}\n"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("XENCTL_XEN_ROOT", raising=False)  # as on a fresh machine
    return tmp_path / "home"


def test_create_reads_configs_from_the_xen_root_inside_the_home(home: Path, tmp_path: Path) -> None:
    (home / "etc" / "xen").mkdir(parents=True)
    (home / "etc" / "xen" / "myvm").write_text('name = "myvm"\nkernel = "/boot/vmlinuz-2.6.18-xen"\nmemory = 64\n')
    created = run_xenctl(tmp_path / "elsewhere", "--home", str(home), "create", "myvm")
    assert created.returncode == 0, created.stderr
    assert f'Using config file "{home}/etc/xen/myvm".' in created.stdout


def test_apply_writes_its_autostart_entries_into_the_home_not_the_machine_s_etc_xen(home: Path, tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "rootcheck.yaml"
    spec.parent.mkdir()
    spec.write_text(SPEC)
    applied = run_xenctl(home, "apply", "--auto-approve", str(spec))
    assert applied.returncode == 0, applied.stderr
    assert (home / "etc" / "xen" / "auto" / "rootcheck").is_file()
    assert not Path("/etc/xen/auto/rootcheck").exists()
    listed = run_xenctl(home, "autostart", "list")
    assert "rootcheck" in listed.stdout


def test_the_xen_root_can_still_be_pointed_elsewhere(home: Path, tmp_path: Path) -> None:
    root = tmp_path / "xen-elsewhere"
    spec = tmp_path / "rootcheck.yaml"
    spec.write_text(SPEC)
    by_flag = run_xenctl(home, "--xen-root", str(root), "apply", "--auto-approve", str(spec))
    assert by_flag.returncode == 0, by_flag.stderr
    assert (root / "auto" / "rootcheck").is_file()
    assert not (home / "etc" / "xen" / "auto" / "rootcheck").exists()
