"""scripts/setup-system: silent when the system packages (libvirt's, chromium, etcd) are there; for a user who
is not root and lacks some, one line naming what to install, and a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts" / "setup-system"


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_with_everything_there_it_says_nothing_and_succeeds() -> None:
    ran = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")


def test_a_user_without_libvirts_headers_is_told_in_one_line_what_to_install(tmp_path: Path) -> None:
    fake(tmp_path, "id", "echo 1000")  # not root
    fake(tmp_path, "pkg-config", "exit 1")  # libvirt.pc is not there
    fake(tmp_path, "apt-get", "echo apt-get ran; exit 1")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    ran = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ran.returncode == 1
    assert ran.stdout == ""
    assert ran.stderr.count("\n") == 1, ran.stderr
    assert "as root, run apt-get install -y --no-install-recommends libvirt-dev" in ran.stderr


def test_a_user_without_chromium_is_told_to_install_it_for_the_browser_tests(tmp_path: Path) -> None:
    fake(tmp_path, "id", "echo 1000")  # not root
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "CHROMIUM": str(tmp_path / "no-chromium")}
    ran = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1, ran.stderr
    assert ran.stderr.rstrip().endswith("apt-get install -y --no-install-recommends chromium"), ran.stderr


def test_a_user_without_etcd_is_told_to_install_etcd_server(tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # a PATH with every command the script looks for but etcd
    bare.mkdir()
    for directory in os.environ["PATH"].split(":"):
        for found in Path(directory).glob("*") if Path(directory).is_dir() else ():
            if found.name != "etcd" and not (bare / found.name).exists():
                (bare / found.name).symlink_to(found)
    fake(bare, "id", "echo 1000")  # not root
    env = {**os.environ, "PATH": str(bare)}
    ran = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1, ran.stderr
    assert ran.stderr.rstrip().endswith("apt-get install -y --no-install-recommends etcd-server"), ran.stderr
