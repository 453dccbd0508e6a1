"""Operators coordinating through etcd: one holder of a host at a time, across processes and machines.

The tests marked heavy start a real etcd on 127.0.0.1 (tests/fleet/etcd_server.py); the holders
that must not overlap are real processes, each logging when its "changes" began and ended.
"""

from __future__ import annotations

import http.server
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import etcd3gw
import pytest

from tests.fleet.etcd_server import EtcdServer, free_port, running_etcd
from tests.helpers import ROOT
from xenctl.fleet.coordinate import (
    CoordinationError,
    HeldElsewhere,
    LeaseLost,
    LocalCoordinator,
    coordinator,
    holder_name,
)

heavy = pytest.mark.heavy

# A holder in a process of its own: waits for the go file, then holds HOST ROUNDS times, each time
# logging "HOST BEGIN END" (CLOCK_MONOTONIC, one clock for every process) of its changes.
HOLDER = """
import os, sys, time, pathlib
from xenctl.fleet.coordinate import coordinator, holder_name
url, host, log, go, rounds = sys.argv[1:6]
fleet = coordinator(url, ttl=5)
while not pathlib.Path(go).exists():
    time.sleep(0.01)
for _ in range(int(rounds)):
    with fleet.hold(host, holder_name("test holder"), wait=60) as lease:
        begin = time.monotonic()
        time.sleep(0.15)
        lease.check()
        end = time.monotonic()
    with open(log, "a") as out:
        out.write(f"{host} {begin} {end}\\n")
"""

# A holder that says so on stdout and then keeps the host until it is killed.
SITTER = """
import sys, time
from xenctl.fleet.coordinate import coordinator
with coordinator(sys.argv[1], ttl=2).hold(sys.argv[2], "carol@ws3 (xenctl apply, pid 99)"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    with running_etcd(tmp_path_factory.mktemp("etcd")) as server:
        yield server


def python(script: str, *args: str, **options: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env, text=True, **options)  # type: ignore[call-overload,no-any-return]


def raw_client(server: EtcdServer) -> etcd3gw.client.Etcd3Client:
    return etcd3gw.client(host="127.0.0.1", port=server.port, timeout=5)


@heavy
def test_two_processes_never_change_one_host_at_once_while_other_hosts_go_in_parallel(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    log, go = tmp_path / "changes.log", tmp_path / "go"
    workers = [python(HOLDER, etcd.url, host, str(log), str(go), "4") for host in ("a1", "a1", "b1", "b1")]
    go.touch()
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    spans: dict[str, list[tuple[float, float]]] = {"a1": [], "b1": []}
    for line in log.read_text().splitlines():
        host, begin, end = line.split()
        spans[host].append((float(begin), float(end)))
    for host, intervals in spans.items():
        intervals.sort()
        assert len(intervals) == 8
        overlaps = [(x, y) for x, y in itertools.pairwise(intervals) if y[0] < x[1]]
        assert overlaps == [], f"two holders changed host {host} at once"
    assert any(a[0] < b[1] and b[0] < a[1] for a in spans["a1"] for b in spans["b1"]), "hosts a1 and b1 took turns"


@heavy
def test_a_wait_gives_up_with_held_elsewhere_naming_the_holder(etcd: EtcdServer) -> None:
    alice, bob = coordinator(etcd.url), coordinator(etcd.url)
    with alice.hold("web2", "alice@ws1 (xenctl apply, pid 4242)"):
        started = time.monotonic()
        with pytest.raises(HeldElsewhere) as refused, bob.hold("web2", "bob@ws2 (xenctl apply, pid 7)", wait=0.5):
            pytest.fail("bob held a host alice holds")
        assert time.monotonic() - started >= 0.5
        assert alice.holders()["web2"] == "alice@ws1 (xenctl apply, pid 4242)"
    message = str(refused.value)
    assert message.startswith("host web2 is being changed by alice@ws1 (xenctl apply, pid 4242) since ")
    left = re.fullmatch(r"host web2 .* since \d\d:\d\d:\d\d; its lease expires in (\d+) s", message)
    assert left is not None and 5 <= int(left.group(1)) <= 10, message  # a 10 s lease, renewed every 3.3 s
    assert "\n" not in message
    with bob.hold("web2", holder_name("xenctl apply")):  # alice let go: bob gets it at once
        assert bob.holders()["web2"].endswith("(xenctl apply, pid %d)" % os.getpid())
    assert "web2" not in bob.holders()


@heavy
def test_a_killed_holders_host_is_taken_once_its_lease_expires_and_not_before(etcd: EtcdServer) -> None:
    sitter = python(SITTER, etcd.url, "db1", stdout=subprocess.PIPE)
    try:
        assert sitter.stdout is not None and sitter.stdout.readline() == "held\n"
        sitter.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        sitter.wait(timeout=10)
        with pytest.raises(HeldElsewhere, match="changed by carol@ws3"):
            coordinator(etcd.url).hold("db1", "dave", wait=0).__enter__()
        with coordinator(etcd.url).hold("db1", "dave", wait=10):
            taken = time.monotonic() - killed
    finally:
        sitter.kill()
        sitter.wait(timeout=10)
    # The sitter's lease (TTL 2 s) was last renewed at most TTL/3 before the kill.
    assert taken >= 1.2, f"taken {taken:.2f} s after the kill, before the holder's lease expired"


@heavy
def test_a_hold_whose_etcd_goes_away_is_marked_lost(tmp_path: Path) -> None:
    with running_etcd(tmp_path) as server:
        fleet = coordinator(server.url, ttl=2)
        with fleet.hold("web1", "alice") as lease:
            lease.check()
            server.stop()
            assert lease.lost.wait(5), "the hold was not marked lost with etcd gone"
            with pytest.raises(LeaseLost, match=r"lost the hold on host web1 \(cannot reach etcd at 127\.0\.0\.1:\d+"):
                lease.check()
        # Leaving the block with etcd gone raised nothing: the lease expires by itself.


@heavy
def test_a_hold_whose_lease_is_revoked_or_key_removed_is_marked_lost(etcd: EtcdServer) -> None:
    client = raw_client(etcd)
    fleet = coordinator(etcd.url, ttl=2)
    with fleet.hold("app1", "alice") as lease:
        [(_, meta)] = client.get("/xenctl/fleet/hosts/app1/lock", metadata=True)
        client.post(client.get_url("/kv/lease/revoke"), json={"ID": meta["lease"]})
        assert lease.lost.wait(5)
        assert "its lease expired in etcd" in lease.why
    with fleet.hold("app2", "alice") as lease:
        client.delete("/xenctl/fleet/hosts/app2/lock")
        assert lease.lost.wait(5)
        assert lease.why == "its key /xenctl/fleet/hosts/app2/lock was removed from etcd"


@heavy
@pytest.mark.parametrize(
    "value",
    [b"rm -rf / ; \x1b[2J", b"not json at all", b'{"xenctl": 1, "host": "other", "who": "x", "since": 1}'],
)
def test_a_value_xenctl_did_not_write_is_refused_and_never_shown(etcd: EtcdServer, value: bytes) -> None:
    client = raw_client(etcd)
    client.put("/xenctl/fleet/hosts/odd1/lock", value)
    try:
        with pytest.raises(CoordinationError) as refused, coordinator(etcd.url).hold("odd1", "alice", wait=1):
            pytest.fail("a host under a foreign value was held")
        assert coordinator(etcd.url).holders()["odd1"] == "unknown (a value xenctl did not write)"
    finally:
        client.delete("/xenctl/fleet/hosts/odd1/lock")
    message = str(refused.value)
    assert "/xenctl/fleet/hosts/odd1/lock holds a value xenctl did not write" in message
    assert "etcdctl del /xenctl/fleet/hosts/odd1/lock" in message
    assert message.isprintable() and "rm -rf" not in message and "not json" not in message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:2379", "not etcd://HOST:PORT[,HOST:PORT]"),
        ("etcd://", "give etcd's endpoints only"),
        ("etcd://127.0.0.1", "127.0.0.1 is not HOST:PORT"),
        ("etcd://127.0.0.1:99999", "127.0.0.1:99999 is not HOST:PORT"),
        ("etcd://127.0.0.1:2379/prefix", "give etcd's endpoints only"),
        ("etcd://user:secret@127.0.0.1:2379", "give etcd's endpoints only"),
        ("etcd://127.0.0.1:2379,", "an empty endpoint is not HOST:PORT"),
        ("etcd://a\nb:1", "a\\nb:1 is not HOST:PORT"),
    ],
)
def test_a_bad_url_is_one_line_naming_it(url: str, says: str) -> None:
    with pytest.raises(CoordinationError) as refused:
        coordinator(url)
    assert says in str(refused.value)
    assert str(refused.value).startswith("--coordinate ") and "\n" not in str(refused.value)


def test_an_unreachable_etcd_is_one_line_naming_it() -> None:
    port = free_port()
    with pytest.raises(CoordinationError) as refused:
        coordinator(f"etcd://127.0.0.1:{port}")
    assert str(refused.value) == f"cannot reach etcd at 127.0.0.1:{port}: connection refused"


def test_without_the_etcd_extra_the_user_is_told_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "etcd3gw", None)  # as if etcd3gw were not installed
    with pytest.raises(CoordinationError) as refused:
        coordinator("etcd://127.0.0.1:2379")
    assert str(refused.value) == "--coordinate etcd:// needs the etcd client: pip install 'xenctl[etcd]' (etcd3gw)"


def test_without_coordination_holding_a_host_costs_nothing_and_names_no_holder() -> None:
    fleet = coordinator(None)
    assert isinstance(fleet, LocalCoordinator)
    with fleet.hold("a", "alice") as first, fleet.hold("a", "bob") as second:
        first.check()
        second.check()
    assert fleet.holders() == {}


def test_a_host_name_that_is_not_one_key_segment_is_refused(tmp_path: Path) -> None:
    from xenctl.fleet.coordinate import host_key

    assert host_key("web-1.example") == "/xenctl/fleet/hosts/web-1.example/lock"
    for bad in ("", "a/b", "../x", "a b", "é"):
        with pytest.raises(CoordinationError, match="a fleet's host name is"):
            host_key(bad)


class NotQuiteEtcd(http.server.BaseHTTPRequestHandler):
    """Answers etcd's status, grant and keep-alive, and a transaction in a form etcd never uses."""

    ANSWERS: ClassVar[dict[str, object]] = {
        "/v3/maintenance/status": {"version": "3.4.23"},
        "/v3/lease/grant": {"ID": "7", "TTL": "10"},
        "/v3/lease/keepalive": {"result": {"TTL": "10"}},
        "/v3/kv/txn": {"succeeded": False, "responses": [{"response_range": {"kvs": "$(reboot)"}}]},
    }

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps(self.ANSWERS.get(self.path, {})).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_answer_not_in_etcds_form_is_one_line_not_a_traceback() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotQuiteEtcd)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        fleet = coordinator(f"etcd://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(CoordinationError) as refused, fleet.hold("web1", "alice"):
            pytest.fail("held a host on an answer that is not etcd's")
    finally:
        server.shutdown()
        server.server_close()
    assert str(refused.value) == f"etcd at 127.0.0.1:{server.server_address[1]} answered in a form xenctl does not know"
