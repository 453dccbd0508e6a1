"""Several processes on one host file: nothing is corrupted and no update is lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from xenctl.engine.sim import SystemClock, open_host

WORKER = """
import sys
from xenctl.engine.api import DomainConfig
from xenctl.engine.sim import SystemClock, open_host

home, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = open_host(home, clock=SystemClock(0))
for i in range(count):
    host.create_domain(DomainConfig(name=f"{prefix}{i}", memory=64))
host.close()
"""


def _spawn(home: Path, prefix: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(home), prefix, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_creating_fifty_domains_each_end_with_a_hundred_domains_and_events(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Both workers start on a home that does not exist yet: making the host races too.
    workers = [_spawn(home, "a", 50), _spawn(home, "b", 50)]
    for worker in workers:
        _out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err

    host = open_host(str(home), clock=SystemClock(0))
    try:
        state = host.snapshot()
        guests = [d for d in state.domains if d.domid != 0]
        assert len(guests) == 100
        assert {d.name for d in guests} == {f"{p}{i}" for p in "ab" for i in range(50)}
        assert len({d.domid for d in guests}) == 100
        events = host.events()
        assert len(events) == 100
        assert all(e.op == "create" and e.outcome == "ok" for e in events)
        assert state.host.free_memory == state.host.total_memory - 64 - state.host.dom0_memory - 100 * 64
    finally:
        host.close()
    check = sqlite3.connect(home / "host.db")
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


def test_a_refused_create_in_one_process_leaves_the_others_work_intact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    host = open_host(str(home), clock=SystemClock(0))
    host.close()
    # Both processes try to create the same 20 names: each name is created exactly once.
    racer = WORKER.replace("host.create_domain(", "create(host, ").replace(
        "host = open_host",
        "from xenctl.errors import XenError\n"
        "def create(h, c):\n    try:\n        h.create_domain(c)\n    except XenError:\n        pass\nhost = open_host",
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", racer, str(home), "same", "20"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    host = open_host(str(home), clock=SystemClock(0))
    try:
        names = [d.name for d in host.snapshot().domains if d.domid != 0]
        assert sorted(names) == sorted(f"same{i}" for i in range(20))
        events = host.events()
        assert sum(1 for e in events if e.outcome == "ok") == 20
        refused = [e for e in events if e.outcome == "error"]
        assert len(refused) == 20
        assert all("already exists as domain" in e.message for e in refused)
    finally:
        host.close()
