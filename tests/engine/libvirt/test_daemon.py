"""xenctl against a real libvirtd, end to end: the command line applies a spec through the
daemon's socket, and libvirt itself (libvirt-python and virsh, not xenctl) says what is there;
drift made with virsh is what the next plan shows and the next apply repairs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.engine.libvirt.daemon import Daemon
from tests.helpers import run_xenctl
from xenctl.engine.libvirt.xml import NAMESPACE

pytestmark = pytest.mark.heavy

NAMES = ("e2e-web1", "e2e-web2", "e2e-db")
SPEC = "".join(
    f"  - name: {name}\n    memory: 128M\n    maxmem: 256M\n    vcpus: 2\n    maxvcpus: 4\n"
    f"    kernel: /boot/vmlinuz-2.6.18-xen\n    root: /dev/xvda1 ro\n"
    for name in NAMES
)


@pytest.fixture
def conn(libvirtd: Daemon) -> Iterator[libvirt.virConnect]:
    """libvirt's own connection to the daemon's test driver, to check what xenctl did."""
    opened = libvirt.open(libvirtd.test_uri)
    yield opened
    for name in NAMES:  # the daemon's test driver is shared by the whole run: leave it clean
        try:
            dom = opened.lookupByName(name)
        except libvirt.libvirtError:
            continue
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    opened.close()


def xenctl(tmp_path: Path, daemon: Daemon, *args: str) -> tuple[int, str]:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    ran = run_xenctl(tmp_path / "home", "-c", daemon.test_uri, *args, env=env)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.returncode, ran.stdout + ran.stderr


def test_the_daemon_answers_on_its_own_socket_and_stops_with_nothing_left() -> None:
    daemon = Daemon().start()
    assert len(str(daemon.socket)) < 108  # AF_UNIX's limit
    assert daemon.virsh("list", "--name", driver="test").stdout.split() == ["test"]
    assert daemon.process is not None
    pid = daemon.process.pid
    daemon.stop()
    assert daemon.process.poll() is not None and not os.path.exists(f"/proc/{pid}/cmdline")
    assert not daemon.dir.exists()


def test_apply_through_the_daemon_defines_and_runs_the_domains_with_xenctls_mark(
    tmp_path: Path, libvirtd: Daemon, conn: libvirt.virConnect
) -> None:
    spec = tmp_path / "farm.yaml"
    spec.write_text("domains:\n" + SPEC)
    code, out = xenctl(tmp_path, libvirtd, "apply", "--auto-approve", str(spec))
    assert code == 0, out
    assert "Apply complete: 3 done, 0 failed" in out
    for name in NAMES:
        dom = conn.lookupByName(name)
        assert dom.isActive() and dom.isPersistent()
        state, most, memory, vcpus, _cpu = dom.info()
        assert (state, most, memory, vcpus) == (libvirt.VIR_DOMAIN_RUNNING, 256 * 1024, 128 * 1024, 2)
        assert dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM | libvirt.VIR_DOMAIN_AFFECT_CONFIG) == 4
        mark = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NAMESPACE)
        assert 'managed-by="xenctl"' in mark and str(spec) in mark, mark
    assert "test" in libvirtd.virsh("list", "--name", driver="test").stdout.split()  # the hand-made one stays

    code, out = xenctl(tmp_path, libvirtd, "plan", "--detailed-exitcode", str(spec))
    assert code == 0, out  # nothing to do


def test_drift_made_with_virsh_is_planned_and_repaired(
    tmp_path: Path, libvirtd: Daemon, conn: libvirt.virConnect
) -> None:
    spec = tmp_path / "farm.yaml"
    spec.write_text("domains:\n" + SPEC)
    assert xenctl(tmp_path, libvirtd, "apply", "--auto-approve", str(spec))[0] == 0

    libvirtd.virsh("setmem", "e2e-web1", "65536", "--live", driver="test")  # KiB: 64 MiB
    libvirtd.virsh("destroy", "e2e-db", driver="test")
    code, out = xenctl(tmp_path, libvirtd, "plan", "--detailed-exitcode", str(spec))
    assert code == 2, out
    assert "~ domain.e2e-web1" in out and "memory: 64M -> 128M" in out, out
    assert "domain.e2e-db" in out and "domain.e2e-web2" not in out, out

    code, out = xenctl(tmp_path, libvirtd, "apply", "--auto-approve", str(spec))
    assert code == 0, out
    assert conn.lookupByName("e2e-web1").info()[2] == 128 * 1024
    assert conn.lookupByName("e2e-db").isActive()
    assert xenctl(tmp_path, libvirtd, "plan", "--detailed-exitcode", str(spec))[0] == 0
