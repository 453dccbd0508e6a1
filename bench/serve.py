"""The service under load: 50 concurrent clients of ``xenctl serve`` while an apply of 100
domains runs through its API.

Most clients read the domain list (``GET /api/v1/domains``) again and again on a connection of
their own; some hold the apply's event stream (``/api/v1/jobs/N/events``, server-sent events)
from start to end. Figures: the requests served, their latency (p50, p95), the requests that
failed (an error status, a refused or broken connection), and the lost updates: at the end,
every domain the apply made must be in every reader's last read, and its ``create done`` in
every stream. Targets (issue: the web console): p95 under 200 ms, no failed request, no lost
update. The service runs as a real process on 127.0.0.1 and is stopped at the end; the run is
bounded (``--limit``) and prints its progress every second.

    python bench/serve.py [--clients 50] [--streams 5] [--domains 100] [--limit 120]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

TARGETS = {"p95_ms": 200.0, "failed_requests": 1, "lost_updates": 1}  # p95 under 200 ms; none failed or lost
SPEC_HEAD = "domains:\n"
SPEC_DOMAIN = "  - {{name: load{i:03d}, memory: 64M, kernel: /boot/vmlinuz-2.6.18-xen}}\n"
TIME_SCALE = "0.05"  # a guest boots in 0.4 s: the apply lasts long enough to read through


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Client:
    """One connection to the service, with the session's cookie (and its CSRF token)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
        sent = {"Host": self.host, **({"Cookie": self.cookie} if self.cookie else {}), **headers}
        try:
            self.connection.request(method, path, body=body, headers=sent)
            answer = self.connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # the next request opens a new connection
            raise
        cookie = answer.getheader("set-cookie")
        if cookie and not self.cookie:
            self.cookie = cookie.split(";", 1)[0]
        return answer.status, data

    def close(self) -> None:
        self.connection.close()


class Reader(threading.Thread):
    """Reads the domain list until told to stop, then once more: the last read is what it saw."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client = Client(port)
        self.stop = stop
        self.latencies: list[float] = []
        self.failed = 0
        self.last: set[str] = set()

    def read(self) -> None:
        began = time.perf_counter()
        try:
            status, data = self.client.request("GET", "/api/v1/domains")
        except (OSError, http.client.HTTPException):
            self.failed += 1
            return
        self.latencies.append(time.perf_counter() - began)
        if status != 200:
            self.failed += 1
            return
        self.last = {d["name"] for d in json.loads(data)["domains"]}

    def run(self) -> None:
        while not self.stop.is_set():
            self.read()
        self.read()
        self.client.close()


class Stream(threading.Thread):
    """Holds the apply's event stream from its start until the service ends it."""

    def __init__(self, port: int, job: int) -> None:
        super().__init__(daemon=True)
        self.port, self.job = port, job
        self.created: set[str] = set()
        self.finished = False
        self.failed = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", f"/api/v1/jobs/{self.job}/events", headers={"Host": f"127.0.0.1:{self.port}"})
            answer = connection.getresponse()
            if answer.status != 200:
                self.failed += 1
                return
            for raw in answer:
                line = raw.decode().rstrip("\n")
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event.get("kind") == "finished" and event.get("result") == "done":
                    self.created.add(str(event.get("address", "")).removeprefix("domain."))
                if event.get("kind") == "done":
                    self.finished = True
        except (OSError, http.client.HTTPException, ValueError):
            self.failed += 1
        finally:
            connection.close()


def start_service(scratch: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "XENCTL_HOME": os.path.join(scratch, "home"), "XENCTL_TIME_SCALE": TIME_SCALE}
    env["XENCTL_XEN_ROOT"] = os.path.join(scratch, "xen")
    os.makedirs(os.path.join(scratch, "xen", "auto"))
    log = open(os.path.join(scratch, "serve.log"), "wb")  # noqa: SIM115 (the process writes it until stopped)
    command = [sys.executable, "-m", "xenctl", "serve", "--listen", f"127.0.0.1:{port}"]
    service = subprocess.Popen(
        [*command, "--specs", os.path.join(scratch, "specs")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    began = time.monotonic()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return service
        except OSError:
            if service.poll() is not None or time.monotonic() - began > 30:
                stop_service(service)
                with open(os.path.join(scratch, "serve.log"), encoding="utf-8", errors="replace") as f:
                    raise RuntimeError(f"xenctl serve did not start: {f.read()[-1000:]}") from None
            time.sleep(0.05)


def stop_service(service: subprocess.Popen[bytes]) -> None:
    if service.poll() is None:
        service.send_signal(signal.SIGINT)
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(timeout=10)


def start_apply(port: int) -> int:
    client = Client(port)
    status, data = client.request("GET", "/api/v1/session")
    csrf = json.loads(data)["csrf"]
    status, data = client.request(
        "POST",
        "/api/v1/apply",
        b"{}",
        Origin=f"http://127.0.0.1:{port}",
        **{"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    client.close()
    if status != 202:
        raise RuntimeError(f"the apply was refused ({status}): {data.decode(errors='replace')[:300]}")
    job: int = json.loads(data)["id"]
    return job


def job_done(port: int, job: int) -> dict[str, Any]:
    client = Client(port)
    try:
        _, data = client.request("GET", f"/api/v1/jobs/{job}")
    finally:
        client.close()
    found: dict[str, Any] = json.loads(data)
    return found


def run(clients: int = 50, streams: int = 5, domains: int = 100, limit: float = 120.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-serve-") as scratch:
        os.makedirs(os.path.join(scratch, "specs"))
        with open(os.path.join(scratch, "specs", "load.yaml"), "w", encoding="utf-8") as spec:
            spec.write(SPEC_HEAD + "".join(SPEC_DOMAIN.format(i=i) for i in range(domains)))
        wanted = {f"load{i:03d}" for i in range(domains)}
        port = free_port()
        service = start_service(scratch, port)
        stop = threading.Event()
        try:
            readers = [Reader(port, stop) for _ in range(clients - streams)]
            for reader in readers:
                reader.start()
            began = time.perf_counter()
            job = start_apply(port)
            holders = [Stream(port, job) for _ in range(streams)]
            for holder in holders:
                holder.start()
            summary: dict[str, Any] = {}
            while time.perf_counter() - began < limit:
                time.sleep(1.0)
                summary = job_done(port, job)
                served = sum(len(r.latencies) for r in readers)
                events = len(summary.get("events", ()))
                print(f"{time.perf_counter() - began:5.1f} s: {served} reads, {events} apply events", flush=True)
                if summary["done"]:
                    break
            apply_s = time.perf_counter() - began
            time.sleep(0.5)  # the readers' last reads come after the apply ended
            stop.set()
            for thread in [*readers, *holders]:
                thread.join(timeout=max(1.0, limit - (time.perf_counter() - began)))
        finally:
            stop.set()
            stop_service(service)
        latencies = sorted(x for r in readers for x in r.latencies)
        lost = sum(len(wanted - r.last) for r in readers) + sum(len(wanted - h.created) for h in holders)
        failed = sum(r.failed for r in readers) + sum(h.failed for h in holders)
        failed += sum(1 for t in [*readers, *holders] if t.is_alive())  # still waiting when the time ran out
        return {
            "clients": clients,
            "stream_clients": streams,
            "apply_domains": domains,
            "apply_done": bool(summary.get("done")) and not summary.get("error"),
            "apply_s": round(apply_s, 2),
            "requests_served": len(latencies),
            "requests_per_s": round(len(latencies) / apply_s, 1) if apply_s else 0.0,
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else 0.0,
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1) if latencies else 0.0,
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
            "failed_requests": failed,
            "lost_updates": lost,
            "streams_saw_the_end": sum(1 for h in holders if h.finished),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--streams", type=int, default=5, help="of the clients, how many hold the event stream")
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds the apply may take")
    args = parser.parse_args()
    for key, value in run(args.clients, args.streams, args.domains, args.limit).items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
