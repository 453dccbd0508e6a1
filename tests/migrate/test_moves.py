"""Live and offline migrations between two fresh simulated hosts (virtual time): the guest runs on
the target afterwards, and the report's figures are the pre-copy model's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.migrate.conftest import Pair, web
from xenctl.app.migrate import migrate
from xenctl.engine.sim.precopy import RESUME_S

MIB_S = 119.0  # the profile's default link, 119M a second


def test_a_live_migration_follows_the_precopy_model(pair: Pair) -> None:
    pair.a.driver.create_domain(web(memory=1024))
    report = migrate(pair.a, pair.b, "web1", live=True)
    assert pair.names(pair.a) == {}
    assert pair.names(pair.b) == {"web1": "running"}
    # 1024 MiB at 119 MiB/s, dirtying 2% of it (20.48 MiB/s): 1024, 176.2, 30.3, 5.2, then 0.9 MiB
    # left after round 4, under 1 MiB: stop-and-copy.
    sent, dirty, rounds, elapsed = 1024.0, 20.48, [], 0.0
    while True:
        rounds.append(sent)
        elapsed += sent / MIB_S
        sent = dirty * sent / MIB_S
        if sent <= 1.0:
            break
    assert report.kind == "live"
    assert report.rounds == len(rounds) + 1 == 5
    assert report.sent_mib == pytest.approx(sum(rounds) + sent)
    assert report.downtime_s == pytest.approx(sent / MIB_S + RESUME_S)
    assert report.total_s == pytest.approx(elapsed + report.downtime_s)
    ops = [e.op for e in pair.a.driver.events()]
    assert ops[-7:] == ["migrate-out", *["migrate-round"] * 4, "migrate-stop", "migrated"][-7:] or "migrate-done" in ops
    assert [e.op for e in pair.b.driver.events()][-3:] == ["migrate-in", "migrate-commit", "migrated"]


def test_an_offline_migration_pauses_the_guest_for_the_whole_copy(pair: Pair) -> None:
    pair.a.driver.create_domain(web(memory=512))
    report = migrate(pair.a, pair.b, "web1", live=False)
    assert (report.kind, report.rounds, report.sent_mib) == ("offline", 0, 512.0)
    assert report.downtime_s == report.total_s == pytest.approx(512 / MIB_S + RESUME_S)
    assert pair.names(pair.b) == {"web1": "running"}
    assert pair.b.driver.domain("web1").memory == 512


def test_a_guest_that_dirties_faster_than_the_link_stops_at_once(pair: Pair) -> None:
    pair.a.driver.create_domain(web(memory=1024))
    report = migrate(pair.a, pair.b, "web1", live=True, bandwidth=100.0, dirty_rate=200.0)
    # Round 1 takes 10.24 s, in which the guest dirties all its memory: the rounds stop shrinking.
    assert report.rounds == 2
    assert report.downtime_s == pytest.approx(1024 / 100 + RESUME_S)


def xenctl(pair: Pair, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "XENCTL_TIME_SCALE": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "xenctl", "-c", pair.a.url, *args],
        capture_output=True, text=True, env=full, timeout=120, check=False,
    )  # fmt: skip


def test_the_command_says_one_line_and_json_and_exits_1_on_a_refusal(pair: Pair) -> None:
    pair.a.driver.create_domain(web(memory=1024))
    pair.a.close()
    done = xenctl(pair, "migrate", "--live", "web1", pair.b.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Migrated web1 to {pair.b.url} live in 10.4 s (downtime 38 ms, 5 rounds, 1,237 MiB sent)\n"
    (pair.tmp / "a" / "etc" / "xen" / "xend-config.sxp").unlink()  # a's xend takes no migrations now
    back = subprocess.run(
        [sys.executable, "-m", "xenctl", "-c", pair.b.url, "xm", "migrate", "--json", "web1", pair.a.url],
        capture_output=True, text=True, env={**os.environ, "XENCTL_TIME_SCALE": "0"}, check=False,
    )  # fmt: skip
    assert back.returncode == 1
    assert back.stderr.startswith("Error: host a does not take migrations:")
    assert back.stdout == ""
    again = xenctl(pair, "xm", "migrate", "web1", pair.b.url)
    assert (again.returncode, again.stderr) == (1, "Error: host a: Domain 'web1' does not exist.\n")
    (pair.tmp / "a" / "etc" / "xen" / "xend-config.sxp").write_text("(xend-relocation-server yes)\n")
    home = subprocess.run(
        [sys.executable, "-m", "xenctl", "-c", pair.b.url, "migrate", "--json", "web1", pair.a.url],
        capture_output=True, text=True, env={**os.environ, "XENCTL_TIME_SCALE": "0"}, check=False,
    )  # fmt: skip
    assert home.returncode == 0, home.stderr
    assert json.loads(home.stdout)["kind"] == "offline"


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_a_migration_killed_at_any_step_leaves_the_guest_on_one_host(pair: Pair, steps: int) -> None:
    pair.a.driver.create_domain(web(memory=1024))
    pair.a.close()
    pair.b.close()
    killed = xenctl(pair, "migrate", "--live", "web1", pair.b.url, env={"XENCTL_KILL_AFTER": str(steps)})
    assert killed.returncode == -signal.SIGKILL
    on_a, on_b = pair.names(pair.a), pair.names(pair.b)
    assert not (on_a.get("web1") == "running" and on_b.get("web1") == "running"), (on_a, on_b)
    assert "web1" in on_a  # the source's copy goes last
    said = ""
    for host in (pair.a, pair.b):  # each host settles the marks it holds
        settled = subprocess.run(
            [sys.executable, "-m", "xenctl", "-c", host.url, "migrate", "--recover"],
            capture_output=True, text=True, env={**os.environ, "XENCTL_TIME_SCALE": "0"}, check=False,
        )  # fmt: skip
        assert settled.returncode == 0, settled.stderr
        said += settled.stdout
    assert "web1: the migration to" in said
    on_a, on_b = pair.names(pair.a), pair.names(pair.b)
    assert [on_a.get("web1"), on_b.get("web1")].count("running") == 1
    assert None in (on_a.get("web1"), on_b.get("web1"))  # no copy left behind
    assert pair.a.sim().migrations() == pair.b.sim().migrations() == ()
    (pair.tmp / "none").mkdir()  # no domains declared: the guest is hand-made, and a plan leaves it be
    (pair.tmp / "none" / "empty.yaml").write_text("domains: []\n")
    for host in (pair.a, pair.b):
        plan = subprocess.run(
            [sys.executable, "-m", "xenctl", "-c", host.url, "plan", "--detailed-exitcode", str(pair.tmp / "none")],
            capture_output=True, text=True, env={**os.environ, "XENCTL_TIME_SCALE": "0"}, check=False,
        )  # fmt: skip
        assert plan.returncode == 0, plan.stdout + plan.stderr
    # Nothing is left to stop the next migration either way.
    again = migrate(pair.a, pair.b, "web1", live=True) if on_a.get("web1") else None
    assert again is None or pair.names(pair.b) == {"web1": "running"}
