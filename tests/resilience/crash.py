"""Kill a real ``xenctl`` process at an operation boundary, run the command again, check the host.

Shared by the crash tests (a small apply, every boundary) and ``bench/crash.py`` (200 objects).
``XENCTL_KILL_AFTER=K`` makes the process SIGKILL itself right after its K-th operation on the
host. After each recovery the host must match the specs, pass SQLite's integrity check, hold no
domain twice, no loop device or lock left over, and every volume that existed before must still
be there with its content unless the specs changed it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from xenctl.engine.sim import SystemClock, open_host

KERNEL = "/boot/vmlinuz-2.6.18-xen"


def spec(objects: int) -> str:
    """About ``objects`` objects: a VG, LVs with content, domains on them with a chain of
    depends_on, image files, and autostart entries for some domains."""
    domains = max(2, objects // 3)
    lines = ["storage:\n  volume_groups:\n    - {name: vg, pvs: [/dev/sdb1]}\n  volumes:\n"]
    for i in range(domains):
        lines.append(f"    - {{name: root{i}, lvm: {{vg: vg, size: 8M}}, filesystem: ext3, populate: base-{i % 3}}}\n")
        if i % 2 == 0:
            lines.append(f"    - {{name: img{i}, file: {{path: img{i}.img, size: 4M}}, filesystem: ext3}}\n")
            # data no guest holds: its content must come through every crash as it was
            lines.append(f"    - {{name: keep{i}, lvm: {{vg: vg, size: 4M}}, filesystem: ext3, populate: data-{i}}}\n")
    lines.append("domains:\n")
    for i in range(domains):
        disks = f"[{{volume: root{i}, vdev: xvda}}" + (f", {{volume: img{i}, vdev: xvdb}}]" if i % 2 == 0 else "]")
        after = f", depends_on: [dom{i - 1}]" if i % 4 else ""
        lines.append(f"  - {{name: dom{i}, memory: 64M, kernel: {KERNEL}, disks: {disks}{after}}}\n")
    lines.append("autostart:\n")
    for i in range(0, domains, 3):
        stop = "save" if i % 2 else "shutdown"
        lines.append(f"  - {{domain: dom{i}, order: {i}, stop: {stop}, stop_timeout: 30s}}\n")
    return "".join(lines)


def profile(objects: int) -> str:
    size = max(64, objects * 12)
    return (
        "name: crash\nmemory: 64G\ncpus: 16\nmax_loop: 255\n"
        f"disks:\n  sdb:\n    size: {size + 16}M\n    partitions:\n      sdb1: {{size: {size}M}}\n"
    )


@dataclass
class Scene:
    """A host converged on the base specs, kept aside so each kill starts from the same place."""

    root: Path
    specs: Path
    objects: int

    @property
    def pristine(self) -> Path:
        return self.root / "pristine"

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "XENCTL_HOME": str(home),
            "XENCTL_XEN_ROOT": str(home.parent / "xen"),
            "XENCTL_TIME_SCALE": "0",
            **extra,
        }

    def fresh(self, name: str) -> Path:
        """A copy of the pristine host (and its xen root) to kill something on."""
        place = self.root / name
        shutil.rmtree(place, ignore_errors=True)
        shutil.copytree(self.pristine, place, symlinks=True)
        return place / "home"


def xenctl(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xenctl", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def prepare(root: Path, objects: int) -> Scene:
    """The base specs applied (half the domains), then the full specs to apply and kill."""
    specs = root / "specs"
    specs.mkdir(parents=True)
    scene = Scene(root, specs, objects)
    home = scene.pristine / "home"
    (root / "profile.yaml").write_text(profile(objects))
    env = scene.env(home)
    run = xenctl(home, env, "host", "init", "--profile", str(root / "profile.yaml"))
    assert run.returncode == 0, run.stderr
    (specs / "spec.yaml").write_text(spec(objects // 2))
    run = xenctl(home, env, "apply", "--auto-approve", str(specs))
    assert run.returncode == 0, run.stdout + run.stderr
    (specs / "spec.yaml").write_text(spec(objects))
    return scene


def volumes(home: Path) -> dict[str, str]:
    """Every volume's content digest, by path; a volume a running guest writes to as ``"in use"``
    (a guest's writes move its digest on their own)."""
    with open_host(str(home), clock=SystemClock(0)) as host:
        live = host.snapshot()
    found = {lv.path: "in use" if lv.holders else lv.digest for lv in live.logical_volumes}
    found.update({image.path: "in use" if image.holders else image.digest for image in live.images})
    return found


def check_host(home: Path, env: dict[str, str], specs: Path, before: dict[str, str]) -> list[str]:
    """Every promise a recovered host keeps; the broken ones, as lines."""
    broken = []
    planned = xenctl(home, env, "plan", "--detailed-exitcode", str(specs))
    if planned.returncode != 0:
        broken.append(f"plan after recovery exits {planned.returncode}:\n{planned.stdout}{planned.stderr}")
    with sqlite3.connect(home / "host.db") as db:
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            broken.append("the host file fails PRAGMA integrity_check")
        has_lock = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'host_lock'").fetchone()
        if has_lock and db.execute("SELECT COUNT(*) FROM host_lock").fetchone()[0]:
            broken.append("a lock is left")
        twice = db.execute("SELECT uuid FROM domains GROUP BY uuid HAVING COUNT(*) > 1").fetchall()
        if twice:
            broken.append(f"domains twice: {twice}")
        leaked = db.execute(
            "SELECT COUNT(*) FROM disks WHERE loop IS NOT NULL AND domid NOT IN (SELECT domid FROM domains)"
        ).fetchone()[0]
        if leaked:
            broken.append(f"{leaked} loop device(s) held by no domain")
    with open_host(str(home), clock=SystemClock(0)) as host:
        live = host.snapshot()
    if any(d.name.startswith("migrating-") for d in live.domains):
        broken.append("a domain is left half saved")
    after = volumes(home)
    if not any(digest != "in use" for digest in before.values()):
        broken.append("no volume outside a guest's use to check the content of")
    for path, digest in before.items():
        if path not in after:
            broken.append(f"{path} is gone")
        elif "in use" not in (digest, after[path]) and after[path] != digest:
            broken.append(f"{path} changed its content")
    return broken
