"""One real guest under QEMU's software emulation, through the tests' own libvirtd: xenctl applies
a spec with a small disk image, and what runs is checked by QEMU's process and by virsh, not
through xenctl. This host has /dev/kvm but no VT-x or AMD-V, so the guest must be type='qemu'."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.libvirt.daemon import Daemon
from tests.helpers import run_xenctl
from xenctl.engine.libvirt.xml import NAMESPACE

pytestmark = pytest.mark.heavy


@pytest.fixture
def served_image(libvirtd: Daemon) -> Iterator[tuple[Path, int]]:
    """A 4 MiB raw disk image, served by qemu-nbd on loopback (port, then stopped by its pid).

    The image goes to the guest over NBD: libvirt hosts list no image files to xenctl's planner
    until their storage pools do, so a ``file:`` disk is refused there before anything runs."""
    image = libvirtd.dir / "qemu1.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(image), "4M"], check=True, timeout=60)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["qemu-nbd", "--bind=127.0.0.1", f"--port={port}", "--persistent", "--format=raw", str(image)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # each probe below is a client that says nothing: qemu-nbd complains
    )
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            assert server.poll() is None and time.monotonic() < deadline, "qemu-nbd did not listen"
            time.sleep(0.05)
        yield image, port
    finally:
        server.terminate()
        server.wait(timeout=10)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def qemu_spec(tmp_path: Path, name: str, port: int) -> Path:
    spec = tmp_path / "specs" / "qemu.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        f"domains:\n  - name: {name}\n    memory: 32M\n    vcpus: 1\n    hvm: {{boot: c}}\n"
        f"    disks: [{{nbd: {{host: 127.0.0.1, port: {port}}}, vdev: hda}}]\n"
    )
    return spec


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_a_spec_runs_a_real_qemu_guest_that_pauses_resumes_and_is_destroyed(
    tmp_path: Path, libvirtd: Daemon, served_image: tuple[Path, int]
) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    _image, port = served_image
    spec = qemu_spec(tmp_path, "qemu1", port)
    applied = run_xenctl(tmp_path / "home", "-c", libvirtd.qemu_uri, "apply", "--auto-approve", str(spec), env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 1 done, 0 failed" in applied.stdout

    # The guest is a QEMU process of its own, emulated in software (no KVM acceleration).
    pid = libvirtd.qemu_pids()["qemu1"]
    argv = cmdline(pid)
    assert os.path.basename(argv[0]) == "qemu-system-x86_64"
    assert any("accel=tcg" in arg or arg == "tcg" for arg in argv), argv
    assert any("nbd" in arg and str(port) in arg for arg in argv), argv  # its disk, the image
    xml = libvirtd.virsh("dumpxml", "qemu1").stdout
    assert "<domain type='qemu'" in xml
    mark = libvirtd.virsh("metadata", "qemu1", "--uri", NAMESPACE).stdout
    assert 'managed-by="xenctl"' in mark and str(spec) in mark, mark
    assert libvirtd.virsh("domstate", "qemu1").stdout.strip() == "running"

    # Pause and resume: QEMU's process stays, its state follows (as libvirt and xm list see it).
    for command, state, letters in (("pause", "paused", "--p---"), ("unpause", "running", "-b----")):
        done = run_xenctl(tmp_path / "home", "-c", libvirtd.qemu_uri, command, "qemu1", env=env)
        assert done.returncode == 0, done.stderr
        assert libvirtd.virsh("domstate", "qemu1").stdout.strip() == state
        listed = run_xenctl(tmp_path / "home", "-c", libvirtd.qemu_uri, "list", "qemu1", env=env)
        assert listed.stdout.splitlines()[1].split()[4] == letters, listed.stdout
        assert libvirtd.qemu_pids()["qemu1"] == pid and Path(f"/proc/{pid}").exists()

    # The same spec again: nothing to do, QEMU keeps running the same process.
    planned = run_xenctl(tmp_path / "home", "-c", libvirtd.qemu_uri, "plan", "--detailed-exitcode", str(spec), env=env)
    assert planned.returncode == 0, planned.stdout + planned.stderr

    destroyed = run_xenctl(tmp_path / "home", "-c", libvirtd.qemu_uri, "destroy", "qemu1", env=env)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert libvirtd.virsh("domstate", "qemu1").stdout.strip() == "shut off"  # still defined, as its config would be
