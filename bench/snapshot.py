"""How long a snapshot of a large host takes: 10,000 domains (an interface each) and 30,000 volumes.

The host is built through the public driver (every create checks memory, sharing and VG space),
so building it measures the per-operation cost too. Target: a snapshot under 0.5 s.

    python bench/snapshot.py [--domains N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, Vif
from xenctl.engine.sim import SystemClock, open_host
from xenctl.engine.sim.profile import profile_from_dict

VOLUMES_PER_DOMAIN = 3
VGS = 4
TARGETS = {"snapshot_median_s": 0.5, "snapshot_over_raw_select": 1.5}
# What a snapshot reads, as plain rows: the floor a snapshot's own work is measured against.
RAW_TABLES = ("domains", "disks", "lvs", "images", "partitions", "vgs", "exports")


def big_profile(domains: int) -> dict[str, Any]:
    """A host large enough to hold ``domains`` guests of 64M with three 4M volumes each."""
    per_vg = domains * VOLUMES_PER_DOMAIN // VGS + 16
    return {
        "name": "bench",
        "memory": f"{domains * 64 + 4096}M",
        "cpus": 64,
        "dom0": {"memory": "2G", "min_mem": "512M"},
        "disks": {
            "sdb": {
                "size": f"{VGS * (per_vg * 4 + 64)}M",
                "partitions": {f"sdb{i + 1}": {"size": f"{per_vg * 4 + 16}M"} for i in range(VGS)},
            }
        },
    }


def build(home: str, domains: int) -> float:
    started = time.perf_counter()
    host = open_host(home, clock=SystemClock(0), profile=profile_from_dict(big_profile(domains), file="bench"))
    for v in range(VGS):
        host.create_volume_group(f"vg{v}", (f"/dev/sdb{v + 1}",))
    for i in range(domains):
        disks = []
        for k in range(VOLUMES_PER_DOMAIN):
            vg = f"vg{(i * VOLUMES_PER_DOMAIN + k) % VGS}"
            host.create_logical_volume(vg, f"d{i}-{k}", 4 * 1024 * 1024)
            disks.append(DomainDisk(f"/dev/{vg}/d{i}-{k}", f"xvd{'abc'[k]}", DiskMode.WRITE))
        host.create_domain(DomainConfig(name=f"dom{i:05d}", memory=64, disks=tuple(disks), vifs=(Vif(),)))
    host.close()
    return time.perf_counter() - started


def measure(home: str, repeat: int) -> dict[str, float]:
    """The snapshot and the raw read of the same rows, taken in turns: on a shared machine both
    see the same load, so their ratio is not the noise of whichever ran while it was busier. A
    first turn of each is not counted: the first reads of a process grow its heap (every page it
    takes anew is a fault) and warm its caches, by amounts that vary from run to run; a command's
    one read, warm-up and all, is what bench/cli.py times. The ratio is the median of each turn's
    own (its snapshot over the raw read just after it): a machine that slows or quickens between
    turns moves both halves of a turn alike, where the medians of each could come from turns
    taken at different speeds."""
    times, raws, first = [], [], {}
    state = None
    for i in range(repeat + 1):
        print(f"snapshot: {i} of {repeat}" if i else "snapshot: warming up", file=sys.stderr, flush=True)
        host = open_host(home, clock=SystemClock(0))
        del state  # freeing the last snapshot's objects is not this one's work
        started = time.perf_counter()
        state = host.snapshot()
        elapsed = time.perf_counter() - started
        host.close()
        raw = raw_select(home)
        if i:
            times.append(elapsed)
            raws.append(raw)
        else:
            first = {"snapshot_first_s": elapsed, "raw_select_first_s": raw}
    objects = len(state.domains), len(state.logical_volumes)
    raw = statistics.median(raws)
    return {
        "domains": objects[0] - 1,
        "volumes": objects[1],
        "snapshot_best_s": min(times),
        "snapshot_median_s": statistics.median(times),
        "raw_select_median_s": raw,
        "snapshot_over_raw_select": statistics.median(t / r for t, r in zip(times, raws, strict=True)),
        **first,
    }


def raw_select(home: str) -> float:
    """Every row of the tables a snapshot reads, in one read transaction, as plain tuples."""
    db = sqlite3.connect(os.path.join(home, "host.db"))
    started = time.perf_counter()
    db.execute("BEGIN")
    for table in RAW_TABLES:
        db.execute(f"SELECT * FROM {table}").fetchall()
    db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def run(domains: int = 10_000, repeat: int = 7) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-") as home:
        build_s = build(home, domains)
        result = measure(home, repeat)
        result["build_s"] = build_s
        result["per_operation_ms"] = build_s / (domains * (VOLUMES_PER_DOMAIN + 1)) * 1000
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    result = run(args.domains, args.repeat)
    for key, value in result.items():
        print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
