"""Names that try to escape: refused by name, and nothing written outside the storage root or
the xen root; a symlink out of the xen root is not followed; a config file runs nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import domain
from tests.reconcile.support import connect, write_spec, xenctl
from xenctl.errors import XenctlError
from xenctl.xmconfig.auto import AutoDir, Broken, EntryError

ESCAPES = ["../../etc/passwd", "/etc/passwd", "a\x00b", "x" * 300, "..", ".", "a/b", "web1;rm -rf /"]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize("name", ESCAPES)
def test_a_domain_volume_or_entry_name_that_escapes_is_refused_with_its_place(name: str, tmp_path: Path) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0")
    spec = write_spec(
        tmp_path / "specs",
        f'domains:\n  - {{name: "{quoted}", kernel: /boot/vmlinuz}}\n'
        f'storage:\n  volumes:\n    - {{name: "{quoted}", file: {{path: "{quoted}.img", size: 1M}}}}\n'
        f'autostart:\n  - {{domain: "{quoted}", file: "{quoted}"}}\n',
    )
    result = xenctl(tmp_path / "home", "validate", str(spec))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "domains" in result.stderr and "storage.volumes" in result.stderr and "autostart" in result.stderr


def test_apply_of_an_image_outside_the_storage_root_is_refused_before_anything_is_made(
    tmp_path: Path, xen_root: Path
) -> None:
    spec = write_spec(
        tmp_path / "specs", "storage:\n  volumes:\n    - {name: evil, file: {path: /etc/evil.img, size: 1M}}\n"
    )
    home = tmp_path / "home"
    result = xenctl(home, "apply", "--auto-approve", str(spec))
    assert result.returncode == 1 and "outside the storage root" in result.stderr
    with connect(home) as host:
        assert host.snapshot().images == ()
    assert not Path("/etc/evil.img").exists()


def test_xm_create_refuses_a_name_or_a_disk_that_escapes(tmp_path: Path, xen_root: Path) -> None:
    home = tmp_path / "home"
    xen_root.mkdir(parents=True, exist_ok=True)
    (xen_root / "bad-name").write_text('name = "../../etc/x"\nkernel = "/boot/vmlinuz"\n')
    (xen_root / "bad-disk").write_text(
        'name = "ok"\nkernel = "/boot/vmlinuz"\ndisk = ["file:../../../etc/shadow,xvda,w"]\n'
    )
    for config in ("bad-name", "bad-disk"):
        result = xenctl(home, "create", config)
        assert result.returncode == 1 and result.stderr.startswith("Error: "), result.stderr
    with connect(home) as host:
        assert [d.name for d in host.snapshot().domains] == ["Domain-0"]


def test_a_domain_named_like_an_option_is_refused_by_the_spec_create_and_new(tmp_path: Path, xen_root: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", "domains:\n  - {name: -rf, kernel: /boot/vmlinuz}\n")
    validated = xenctl(home, "validate", str(spec))
    assert validated.returncode == 1 and "domains[-rf].name" in validated.stderr
    assert "not starting with -" in validated.stderr
    xen_root.mkdir(parents=True, exist_ok=True)
    (xen_root / "rf").write_text('name = "-rf"\nkernel = "/boot/vmlinuz"\n')
    created = xenctl(home, "create", "rf")
    assert created.returncode == 1
    assert created.stderr == "Error: Invalid VM Name: '-rf' starts with '-'; xenctl would read it as an option\n"
    asked = xenctl(home, "new", "--name=-rf", "--ram", "256", "--disk", "rf.img", "--disk-size", "1",
                   "--graphics", "no", "--location", "ftp://mirror/rf", "--out", str(tmp_path / "rf.yaml"))  # fmt: skip
    assert asked.returncode == 1 and "'-rf' starts with '-'" in asked.stderr
    assert not (tmp_path / "rf.yaml").exists()
    with connect(home) as host:
        assert [d.name for d in host.snapshot().domains] == ["Domain-0"]


def test_destroy_after_a_double_dash_reaches_a_hand_made_domain_named_like_an_option(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with connect(home) as host:
        host.create_domain(domain("-rf", 64))  # Xen's own rule allows it: made by hand, not by xenctl
    assert xenctl(home, "destroy", "-rf").returncode != 0
    with connect(home) as host:
        assert host.snapshot().domain("-rf") is not None
    destroyed = xenctl(home, "destroy", "--", "-rf")
    assert destroyed.returncode == 0, destroyed.stderr
    with connect(home) as host:
        assert host.snapshot().domain("-rf") is None


@pytest.mark.parametrize("name", ["../evil", "/etc/cron.d/evil", "a/b", "", ".", "..", "x\x00y", ".hidden", "x~"])
def test_the_auto_directory_writes_and_removes_only_its_own_files(name: str, tmp_path: Path) -> None:
    auto = AutoDir(str(tmp_path / "xen"))
    before = _files(tmp_path)
    with pytest.raises(EntryError):
        auto.write(name, 'name = "x"\n')
    with pytest.raises(EntryError):
        auto.remove(name)
    assert _files(tmp_path) - before <= {tmp_path / "xen", tmp_path / "xen" / "auto"}
    assert isinstance(EntryError("x"), XenctlError)


def test_a_symlink_out_of_the_xen_root_is_not_followed_unless_allowed(tmp_path: Path) -> None:
    outside = tmp_path / "home-of-someone" / "vm.cfg"
    outside.parent.mkdir()
    outside.write_text('name = "sneaky"\nkernel = "/boot/vmlinuz"\n')
    auto = tmp_path / "xen" / "auto"
    auto.mkdir(parents=True)
    (auto / "sneaky").symlink_to(outside)
    refused = AutoDir(str(tmp_path / "xen")).read_one("sneaky")
    assert isinstance(refused, Broken) and "outside" in refused.reason
    allowed = AutoDir(str(tmp_path / "xen"), outside_links=True).read_one("sneaky")
    assert not isinstance(allowed, Broken) and allowed.domain == "sneaky"


def test_a_config_file_that_tries_to_run_code_runs_nothing(tmp_path: Path, xen_root: Path) -> None:
    marker = tmp_path / "ran"
    xen_root.mkdir(parents=True, exist_ok=True)
    attempts = [
        f"import os\nos.system('touch {marker}')\n",
        f"__import__('os').system('touch {marker}')\n",
        f"name = open('{marker}', 'w').name\n",
        f"exec(\"open('{marker}', 'w')\")\n",
        f"name = (lambda: open('{marker}', 'w'))()\n",
    ]
    for i, text in enumerate(attempts):
        (xen_root / f"evil{i}").write_text(text + 'kernel = "/boot/vmlinuz"\n')
        result = xenctl(tmp_path / "home", "create", f"evil{i}")
        assert result.returncode == 1 and "Traceback" not in result.stderr
        auto = xen_root / "auto"
        auto.mkdir(exist_ok=True)
        (auto / f"evil{i}").write_text(text)
        assert isinstance(AutoDir(str(xen_root)).read_one(f"evil{i}"), Broken)
    assert not marker.exists()
    assert not os.path.exists("ran")
