"""The fleet's command line as a user runs it: `list --all-hosts`, the apply summary, and two real
`xenctl apply --coordinate etcd://...` processes on one fleet (heavy: a real etcd on loopback)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.etcd_server import EtcdServer, running_etcd
from tests.fleet.fleet_support import Fleet, domain_yaml, fleet
from xenctl.engine.sim import open_host

__all__ = ["fleet"]

ROOT = Path(__file__).resolve().parent.parent.parent


def test_list_all_hosts_shows_every_hosts_domains(fleet: Fleet) -> None:
    fleet.write(
        fleet.hosts_yaml("a", "b", "c")
        + "domains:\n"
        + domain_yaml("web", host="a")
        + domain_yaml("db", host="b")
        + domain_yaml("mail", host="b")
    )
    assert fleet.apply().code == 0
    listed = fleet.run("list", "--all-hosts", "--specs", str(fleet.specs))
    assert listed.code == 0, listed.err
    rows = [line.split()[:2] for line in listed.out.splitlines()[1:]]
    assert listed.out.splitlines()[0].split()[:3] == ["Host", "Name", "ID"]
    assert rows == [
        ["a", "Domain-0"],
        ["a", "web"],
        ["b", "Domain-0"],
        ["b", "db"],
        ["b", "mail"],
        ["c", "Domain-0"],
    ]


def test_the_apply_summary_counts_one_migration_as_one(fleet: Fleet) -> None:
    fleet.write(fleet.hosts_yaml("a", "b") + "domains:\n" + domain_yaml("web", host="a"))
    assert fleet.apply().code == 0
    fleet.write(fleet.hosts_yaml("a", "b") + "domains:\n" + domain_yaml("web", host="b"))
    fleet.relocation("b")
    applied = fleet.apply()
    assert applied.code == 0, applied.err
    assert "Fleet apply complete: 1 migration, 0 done, 0 failed, on 2 hosts." in applied.out


heavy = pytest.mark.heavy


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    with running_etcd(tmp_path_factory.mktemp("etcd")) as server:
        yield server


def _specs(root: Path, directory: str, memory: str, per_host: int = 3, hosts: str = "ab") -> Path:
    where = root / directory
    where.mkdir()
    lines = ["hosts:"] + [f"  - {{name: {h}, connect: sim://{root / h}}}" for h in hosts] + ["domains:"]
    text = "\n".join(lines) + "\n"
    text += "".join(domain_yaml(f"{h}{i}", memory, host=h, maxmem="512M") for h in hosts for i in range(per_host))
    (where / "fleet.yaml").write_text(text)
    return where


def _xenctl(root: Path, *args: str, scale: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XENCTL_TIME_SCALE": scale,
        "XENCTL_LEASE_TTL": "2",
        "XENCTL_HOME": str(root / "home"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "xenctl", *args],
        env=env,
        cwd=root,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _changes(root: Path, host: str) -> dict[str, tuple[float, float]]:
    """Each process's first and last change on ``host`` (wall clock, from the host's event log)."""
    sim = open_host(str(root / host))
    try:
        spans: dict[str, tuple[float, float]] = {}
        for event in sim.events():
            if event.actor.startswith("xenctl pid"):
                first, last = spans.get(event.actor, (event.at, event.at))
                spans[event.actor] = (min(first, event.at), max(last, event.at))
        return spans
    finally:
        sim.close()


@heavy
def test_two_coordinated_applies_never_change_one_host_at_once(etcd: EtcdServer, tmp_path: Path) -> None:
    one, two = _specs(tmp_path, "one", "256M"), _specs(tmp_path, "two", "192M")
    made = _xenctl(tmp_path, "plan", str(one), scale="0")  # makes the simulated hosts
    assert made.wait(timeout=60) == 0
    applies = [
        _xenctl(
            tmp_path, "apply", "--auto-approve", "--coordinate", etcd.url, "--lock-timeout", "60", str(s), scale="0.05"
        )
        for s in (one, two)
    ]
    outputs = [p.communicate(timeout=120) for p in applies]
    assert [p.returncode for p in applies] == [0, 0], outputs
    for host in "ab":
        spans = sorted(_changes(tmp_path, host).values())
        assert len(spans) == 2, f"both applies changed host {host}: {spans}"
        overlaps = [(x, y) for x, y in itertools.pairwise(spans) if y[0] < x[1]]
        assert overlaps == [], f"two applies changed host {host} at once"


@heavy
def test_a_killed_apply_holds_its_host_until_its_lease_expires(etcd: EtcdServer, tmp_path: Path) -> None:
    from xenctl.fleet.coordinate import coordinator

    specs = _specs(tmp_path, "specs", "256M", hosts="k")
    assert _xenctl(tmp_path, "plan", str(specs), scale="0").wait(timeout=60) == 0
    slow = _xenctl(
        tmp_path, "apply", "--auto-approve", "--parallelism", "1", "--coordinate", etcd.url, str(specs), scale="0.25"
    )
    watcher = coordinator(etcd.url)
    try:
        deadline = time.monotonic() + 30
        while "k" not in watcher.holders():
            assert time.monotonic() < deadline and slow.poll() is None, "the apply never held host k"
            time.sleep(0.05)
        time.sleep(0.3)
        slow.send_signal(signal.SIGKILL)
        slow.wait(timeout=10)
        killed = time.time()
        assert "k" in watcher.holders()  # the dead process's lease still holds the host
    finally:
        watcher.close()
        slow.kill()
        slow.wait(timeout=10)
    other = _xenctl(
        tmp_path, "apply", "--auto-approve", "--coordinate", etcd.url, "--lock-timeout", "30", str(specs), scale="0"
    )
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, out + err
    mine = f"xenctl pid {other.pid}"
    first, _last = _changes(tmp_path, "k")[mine]
    # The killed holder's lease (TTL 2 s) was last renewed at most 2/3 s before the kill.
    assert first - killed >= 1.2, f"host k changed {first - killed:.2f} s after the kill, before the lease expired"
    sim = open_host(str(tmp_path / "k"))
    try:
        assert sorted(d.name for d in sim.snapshot().domains if d.is_up and d.domid != 0) == ["k0", "k1", "k2"]
    finally:
        sim.close()
