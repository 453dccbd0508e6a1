"""What coordinating through etcd costs: holding and releasing a host, and a crashed holder's wait.

On a real etcd started on 127.0.0.1 with a temporary data directory (tests/fleet/etcd_server.py):

- ``hold_release_median_ms`` (and ``_p95_ms``): ``with coordinator.hold(host, who): pass`` on a host
  nobody holds, ``--rounds`` times (200): a client's connection, a lease granted, the key created
  in a transaction, the keeper thread started and stopped, the lease revoked.
- ``takeover_after_kill_median_s`` (and ``_max_s``): a holder in a process of its own, with a lease
  of ``--ttl`` seconds (2), is killed with SIGKILL; the time from the kill until another holder,
  waiting on the host, holds it. It cannot be less than what was left of the lease (between
  ``2/3 TTL`` and ``TTL``); the rest is the waiter's polling (every 0.1 s).

Progress goes to stdout; the run has a deadline (``--budget``), and etcd and every holder it
started are stopped at the end.

    python bench/coordinate.py [--rounds N] [--kills N] [--ttl S]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))  # tests.fleet.etcd_server, beside bench/ on the path

from tests.fleet.etcd_server import running_etcd  # noqa: E402
from xenctl.fleet.coordinate import coordinator  # noqa: E402

TARGETS = {"hold_release_median_ms": 20.0}
BUDGET = 180.0  # seconds for the whole run
SITTER = """
import sys, time
from xenctl.fleet.coordinate import coordinator
with coordinator(sys.argv[1], ttl=float(sys.argv[2])).hold("bench-kill", "bench sitter"):
    print("held", flush=True)
    time.sleep(600)
"""


def say(text: str) -> None:
    print(f"coordinate: {text}", flush=True)


def hold_release(url: str, rounds: int, deadline: float) -> list[float]:
    fleet = coordinator(url)
    times = []
    for n in range(rounds):
        if time.monotonic() > deadline:
            raise SystemExit("coordinate bench: out of time holding and releasing")
        started = time.perf_counter()
        with fleet.hold(f"bench-{n % 10}", "bench holder"):
            pass
        times.append(time.perf_counter() - started)
        if (n + 1) % 50 == 0:
            say(f"held and released {n + 1}/{rounds}, median so far {statistics.median(times) * 1000:.2f} ms")
    fleet.close()
    return times


def takeover(url: str, ttl: float) -> float:
    """Seconds from a holder's SIGKILL to another's hold on the same host."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sitter = subprocess.Popen([sys.executable, "-c", SITTER, url, str(ttl)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert sitter.stdout is not None
        if sitter.stdout.readline() != "held\n":
            raise SystemExit("coordinate bench: the holder to kill did not hold its host")
        waiter = coordinator(url)
        sitter.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        with waiter.hold("bench-kill", "bench waiter", wait=ttl * 3):
            taken = time.monotonic() - killed
        waiter.close()
        return taken
    finally:
        sitter.kill()
        sitter.wait(timeout=10)


def run(rounds: int = 200, kills: int = 3, ttl: float = 2.0) -> dict[str, Any]:
    deadline = time.monotonic() + BUDGET
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-etcd-") as directory:
        say("starting etcd on 127.0.0.1")
        with running_etcd(Path(directory)) as server:
            say(f"etcd answers at {server.url}; {rounds} holds and releases")
            times = sorted(hold_release(server.url, rounds, deadline))
            waits = []
            for n in range(kills):
                if time.monotonic() > deadline:
                    raise SystemExit("coordinate bench: out of time killing holders")
                waits.append(takeover(server.url, ttl))
                say(f"kill {n + 1}/{kills}: taken over {waits[-1]:.2f} s after SIGKILL (TTL {ttl:g} s)")
        say("etcd stopped")
    return {
        "hold_release_median_ms": round(statistics.median(times) * 1000, 2),
        "hold_release_p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 2),
        "takeover_ttl_s": ttl,
        "takeover_after_kill_median_s": round(statistics.median(waits), 2),
        "takeover_after_kill_max_s": round(max(waits), 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=2.0)
    args = parser.parse_args()
    for key, value in run(args.rounds, args.kills, args.ttl).items():
        print(f"{key}: {value}")
