"""Helpers for tests: guest configs in one line, and running the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, Vif

ROOT = Path(__file__).resolve().parent.parent
DiskLike = DomainDisk | tuple[str, ...]


def disk(target: str, vdev: str, mode: str = "w", backend: str = "phy") -> DomainDisk:
    return DomainDisk(target, vdev, DiskMode(mode), backend)


def domain(
    name: str,
    memory: int = 128,
    *,
    disks: Iterable[DiskLike] = (),
    vifs: tuple[Vif, ...] = (Vif(),),
    **fields: object,
) -> DomainConfig:
    """A guest config; disks as DomainDisk or ("hda3", "sda1"[, "w"[, "phy"]]) tuples."""
    built = tuple(d if isinstance(d, DomainDisk) else disk(*d) for d in disks)
    return DomainConfig(
        name=name,
        memory=memory,
        kernel="/boot/vmlinuz-2.6.18-xen",
        disks=built,
        vifs=vifs,
        **fields,  # type: ignore[arg-type]
    )


def run_xenctl(
    home: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``xenctl`` command on ``home`` with instant simulated time (in ``cwd`` if given)."""
    full_env = {**os.environ, "XENCTL_HOME": str(home), "XENCTL_TIME_SCALE": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "xenctl", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def modules_after(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """What ``xenctl ARGS`` prints on ``home`` (it must succeed), and every module it imported."""
    code = (
        "import io, json, sys, contextlib\n"
        "from xenctl.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    rc = main({list(args)!r})\n"
        "print(json.dumps([rc, out.getvalue(), sorted(sys.modules)]))\n"
    )
    full_env = {**os.environ, "XENCTL_HOME": str(home), "XENCTL_TIME_SCALE": "0", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=60, check=True
    )
    rc, out, modules = json.loads(done.stdout)
    assert rc == 0, done.stderr
    return out, set(modules)
