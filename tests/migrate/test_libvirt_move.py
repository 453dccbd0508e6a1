"""``xenctl migrate`` between two libvirt hosts, checked through libvirt itself.

Each host is the test driver of a private libvirtd of its own (tests/engine/libvirt/daemon.py),
reached as ``test+unix:///default?socket=...``: the daemon's state is shared by every client, so
the ``xenctl`` command moves the guest in its own process and libvirt-python, here, sees what it
did. The test driver cannot migrate (virDomainMigrate answers that it is not supported), so the
guest makes a cold move. The test holds a connection to each daemon for its whole length: the test
driver forgets its state when its last client leaves.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest

from tests.engine.libvirt.daemon import Daemon
from tests.helpers import domain, run_xenctl
from tests.migrate.conftest import make_host, web
from xenctl.app.host import Settings, connect
from xenctl.engine.domain import Owner
from xenctl.engine.libvirt.xml import NAMESPACE

pytestmark = pytest.mark.heavy

SPEC_FILE = "/srv/specs/web.yaml"


@dataclass
class Side:
    """One libvirt host: its daemon, its URI, and libvirt's own connection to it."""

    daemon: Daemon
    uri: str
    conn: libvirt.virConnect

    def names(self) -> dict[str, bool]:
        """Each domain defined or running there, and whether it runs."""
        return {d.name(): bool(d.isActive()) for d in self.conn.listAllDomains()}

    def state(self) -> dict[str, tuple[bool, bool, str]]:
        """Each domain: runs, persistent, its XML: what a refused move must leave as it was."""
        return {
            d.name(): (bool(d.isActive()), bool(d.isPersistent()), d.XMLDesc(0)) for d in self.conn.listAllDomains()
        }


@pytest.fixture
def sides() -> Iterator[tuple[Side, Side]]:
    """Two libvirt hosts, each its own daemon, each holding libvirt's default test host and web1
    running on the source (made by xenctl's driver, with xenctl's mark)."""
    with Daemon() as one, Daemon() as two:
        src = Side(one, one.test_uri, libvirt.open(one.test_uri))
        dst = Side(two, two.test_uri, libvirt.open(two.test_uri))
        with connect(src.uri, Settings(time_scale=0)) as host:
            config = domain("web1", 128, disks=[("/dev/hda3", "xvda1")], vcpus=2, maxmem=256)
            host.driver.create_domain(config, owner=Owner("xenctl", SPEC_FILE))
        try:
            yield src, dst
        finally:
            src.conn.close()
            dst.conn.close()


def xenctl(tmp_path: Path, source: str, *args: str) -> tuple[int, str, str]:
    ran = run_xenctl(tmp_path / "home", "-c", source, *args, env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.returncode, ran.stdout, ran.stderr


def _disks(dom: libvirt.virDomain) -> list[tuple[str | None, str | None]]:
    root = ET.fromstring(dom.XMLDesc(0))
    return [
        (d.find("source").get("dev"), d.find("target").get("dev"))  # type: ignore[union-attr]
        for d in root.findall("devices/disk")
    ]


def test_a_cold_move_leaves_the_guest_defined_and_running_on_the_target_only(
    tmp_path: Path, sides: tuple[Side, Side]
) -> None:
    src, dst = sides
    before = src.conn.lookupByName("web1")
    uuid, disks = before.UUIDString(), _disks(before)
    before.setAutostart(1)
    assert disks == [("/dev/hda3", "xvda1")]

    code, out, err = xenctl(tmp_path, src.uri, "migrate", "web1", dst.uri)

    assert (code, err) == (0, ""), err
    assert out.startswith(f"Migrated web1 to {dst.uri} by a cold move in "), out
    assert out.count("\n") == 1
    moved = dst.conn.lookupByName("web1")
    assert moved.isActive() and moved.isPersistent() and moved.autostart()
    assert moved.UUIDString() == uuid
    state, most, memory, vcpus, _cpu = moved.info()
    assert (state, most, memory, vcpus) == (libvirt.VIR_DOMAIN_RUNNING, 256 * 1024, 128 * 1024, 2)
    assert _disks(moved) == disks
    mark = moved.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NAMESPACE)
    assert 'managed-by="xenctl"' in mark and SPEC_FILE in mark, mark
    assert "web1" not in src.names()
    with pytest.raises(libvirt.libvirtError):
        src.conn.lookupByUUIDString(uuid)
    assert src.names() == {"test": True}  # libvirt's own guest on the source stays as it was

    # And back again: the mark and the UUID travel both ways.
    code, out, err = xenctl(tmp_path, dst.uri, "migrate", "--json", "web1", src.uri)
    assert code == 0, err
    report = json.loads(out)
    assert (report["domain"], report["kind"], report["source"], report["target"]) == (
        "web1", "cold move", dst.uri, src.uri,
    )  # fmt: skip
    assert report["downtime_s"] <= report["total_s"]
    back = src.conn.lookupByName("web1")
    assert back.isActive() and back.UUIDString() == uuid
    assert 'managed-by="xenctl"' in back.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NAMESPACE)
    assert dst.names() == {"test": True}


def _refused(tmp_path: Path, src: Side, dst: Side, *args: str) -> str:
    """The move is refused in one line, exit 1, and neither host changed; the line."""
    both = (src.state(), dst.state())
    code, out, err = xenctl(tmp_path, src.uri, "migrate", *args)
    assert (code, out) == (1, ""), (out, err)
    assert err.count("\n") == 1, err
    assert (src.state(), dst.state()) == both
    return err


def test_a_name_already_on_the_target_is_refused_and_nothing_moves(tmp_path: Path, sides: tuple[Side, Side]) -> None:
    src, dst = sides
    there = dst.conn.defineXML(
        "<domain type='test'><name>web1</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    )
    err = _refused(tmp_path, src, dst, "web1", dst.uri)
    assert f"{dst.uri} already has a domain 'web1' of that name or UUID" in err
    assert not there.isActive()


def test_the_same_uuid_on_the_target_under_another_name_is_refused(tmp_path: Path, sides: tuple[Side, Side]) -> None:
    src, dst = sides
    uuid = src.conn.lookupByName("web1").UUIDString()
    dst.conn.defineXML(
        f"<domain type='test'><name>other</name><uuid>{uuid}</uuid><memory>65536</memory>"
        "<os><type>hvm</type></os></domain>"
    )
    err = _refused(tmp_path, src, dst, "web1", dst.uri)
    assert "already has a domain 'other' of that name or UUID" in err


def test_a_guest_not_running_is_refused(tmp_path: Path, sides: tuple[Side, Side]) -> None:
    src, dst = sides
    src.conn.lookupByName("web1").destroy()  # defined, shut off
    err = _refused(tmp_path, src, dst, "web1", dst.uri)
    assert "domain 'web1' is not running there" in err
    err = _refused(tmp_path, src, dst, "nosuch", dst.uri)
    assert f"{src.uri} has no domain 'nosuch'" in err


def test_an_unreachable_target_is_refused(tmp_path: Path, sides: tuple[Side, Side]) -> None:
    src, dst = sides
    nowhere = f"test+unix:///default?socket={tmp_path}/no-such-socket"
    err = _refused(tmp_path, src, dst, "web1", nowhere)
    assert nowhere in err or "no-such-socket" in err, err
    assert src.names() == {"test": True, "web1": True}


def test_a_move_between_a_simulated_and_a_libvirt_host_is_refused(tmp_path: Path, sides: tuple[Side, Side]) -> None:
    src, dst = sides
    with make_host(tmp_path, "simhost") as host:
        host.driver.create_domain(web("web2", memory=128))
        sim = host.url
    both = (src.state(), dst.state())
    for source, target, name in ((src.uri, sim, "web1"), (sim, dst.uri, "web2")):
        code, out, err = xenctl(tmp_path, source, "migrate", name, target)
        assert (code, out) == (1, ""), err
        assert err.count("\n") == 1
        assert "a guest cannot move between a simulated host and a libvirt host" in err, err
    assert (src.state(), dst.state()) == both
    with connect(sim, Settings(time_scale=0)) as host:
        assert host.driver.domain("web2").phase.value == "running"  # still on the simulated host
