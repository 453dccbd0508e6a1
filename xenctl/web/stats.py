"""CPU % and the small graphs: samples of each domain's CPU time and memory, kept in the server.

Xen reports a domain's CPU time, not a percentage: as ``xm top`` does, the percentage is the CPU
time used between two reads over the wall-clock time between them (100 % is one physical CPU
busy; the simulated host's CPU time runs on the wall clock too). Each
read of the domain list or of a domain's window adds a sample (at most one a second per domain),
kept in a bounded ring per domain, and only for the last minutes; the service keeps at most
``MAX_SERIES`` domains' rings, dropping the longest unread. A domain whose ID changed (it was
created again) starts a new ring. The graphs are inline SVG polylines, numbers only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from xenctl.engine.api import Domain

MAX_SAMPLES = 300  # per domain
WINDOW = 300.0  # seconds a graph shows
MIN_GAP = 1.0  # seconds between two samples of one domain
MAX_SERIES = 10_000


@dataclass(frozen=True)
class Sample:
    at: float  # time
    domid: int
    cpu_time: float  # CPU seconds
    memory: int  # MiB
    cpu_percent: float | None  # since the sample before; None for the first


class Stats:
    """The samples of every domain the service was asked about, by host URL and name."""

    def __init__(self) -> None:
        self._series: OrderedDict[tuple[str, str], deque[Sample]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, url: str, now: float, domains: Iterable[Domain]) -> None:
        """A sample of each of ``domains`` read at time ``now``."""
        with self._lock:
            for domain in domains:
                self._add(url, now, domain)
            while len(self._series) > MAX_SERIES:
                self._series.popitem(last=False)

    def _add(self, url: str, now: float, domain: Domain) -> None:
        key = (url, domain.name)
        ring = self._series.get(key)
        if ring is None or (ring and ring[-1].domid != domain.domid):
            ring = self._series[key] = deque(maxlen=MAX_SAMPLES)
        self._series.move_to_end(key)
        last = ring[-1] if ring else None
        if last is not None and now - last.at < MIN_GAP:
            return
        percent = None
        if last is not None and now > last.at and domain.cpu_time >= last.cpu_time:
            percent = 100.0 * (domain.cpu_time - last.cpu_time) / (now - last.at)
        ring.append(Sample(now, domain.domid, domain.cpu_time, domain.memory, percent))
        while ring and ring[0].at < now - WINDOW:
            ring.popleft()

    def samples(self, url: str, name: str) -> tuple[Sample, ...]:
        with self._lock:
            ring = self._series.get((url, name))
            return tuple(ring) if ring else ()

    def cpu_percent(self, url: str, domain: Domain) -> float | None:
        """The domain's CPU % between its last two samples (None until there are two)."""
        with self._lock:
            ring = self._series.get((url, domain.name))
            if not ring or ring[-1].domid != domain.domid:
                return None
            return next((s.cpu_percent for s in reversed(ring) if s.cpu_percent is not None), None)


def sparkline(points: list[tuple[float, float]], *, top: float, width: int = 240, height: int = 48) -> str:
    """An SVG polyline of ``points`` ((time, value)) over the last ``WINDOW`` seconds, the
    value axis from 0 to ``top``; numbers only, so nothing in it needs escaping."""
    frame = f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f9fa" stroke="#ced4da"/>'
    if not points:
        body = ""
    else:
        end = points[-1][0]
        scale = top if top > 0 else 1.0
        coords = " ".join(
            f"{width * (1 - (end - at) / WINDOW):.1f},{height - 2 - (height - 4) * min(value, scale) / scale:.1f}"
            for at, value in points
        )
        body = f'<polyline points="{coords}" fill="none" stroke="#1971c2" stroke-width="1.5"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-hidden="true">{frame}{body}</svg>'
    )


def graphs(samples: tuple[Sample, ...], maxmem: int, vcpus: int) -> dict[str, str]:
    """The CPU % and memory graphs of a domain's samples: CPU up to 100 % a vCPU, memory to maxmem."""
    cpu = [(s.at, s.cpu_percent) for s in samples if s.cpu_percent is not None]
    memory = [(s.at, float(s.memory)) for s in samples]
    return {
        "cpu": sparkline(cpu, top=100.0 * max(1, vcpus)),
        "memory": sparkline(memory, top=float(max(maxmem, 1))),
    }
