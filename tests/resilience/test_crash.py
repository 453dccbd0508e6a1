"""Crash safety: an apply, a halt and a boot killed (SIGKILL, a real process) at every operation
boundary, then run again: the host ends as the specs say, whole, with nothing lost or leaked."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.resilience.crash import Scene, check_host, prepare, volumes, xenctl

# make test: a dozen objects; bench/resilience.py sets 200 (and more random moments)
OBJECTS = int(os.environ.get("XENCTL_RESILIENCE_OBJECTS", "12"))
MOMENTS = int(os.environ.get("XENCTL_RESILIENCE_MOMENTS", "4"))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return prepare(tmp_path_factory.mktemp("crash"), OBJECTS)


MAX_OPERATIONS = 2_000


def test_an_apply_killed_at_every_boundary_recovers_with_the_next_apply(scene: Scene) -> None:
    apply = ("apply", "--auto-approve", str(scene.specs))
    for k in range(1, MAX_OPERATIONS):
        home = scene.fresh(f"apply-{k}")
        before = volumes(home)
        killed = xenctl(home, scene.env(home, XENCTL_KILL_AFTER=str(k)), *apply)
        if killed.returncode == 0:
            assert k > OBJECTS // 2, f"only {k - 1} kills: XENCTL_KILL_AFTER did not take"
            break  # the apply makes fewer than k operations: every boundary has been tried
        assert killed.returncode == -9, f"k={k}: {killed.returncode}\n{killed.stderr}"
        again = xenctl(home, scene.env(home), *apply)
        assert again.returncode == 0, f"k={k}:\n{again.stdout}{again.stderr}"
        assert check_host(home, scene.env(home), scene.specs, before) == [], f"killed after operation {k}"
    else:
        pytest.fail("the apply never finished")


def test_an_apply_killed_at_random_moments_recovers_with_the_next_apply(scene: Scene) -> None:
    apply = ("apply", "--auto-approve", str(scene.specs))
    timing = scene.fresh("timing")
    started = time.monotonic()
    assert xenctl(timing, scene.env(timing), *apply).returncode == 0
    took = time.monotonic() - started
    draw = random.Random(7)
    for moment in range(MOMENTS):
        home = scene.fresh(f"moment-{moment}")
        before = volumes(home)
        env = scene.env(home)
        process = subprocess.Popen([sys.executable, "-m", "xenctl", *apply], env=env, stdout=subprocess.DEVNULL)
        time.sleep(draw.uniform(0, took))
        process.kill()
        process.wait()
        again = xenctl(home, env, *apply)
        assert again.returncode == 0, f"moment {moment}:\n{again.stdout}{again.stderr}"
        assert check_host(home, env, scene.specs, before) == [], f"killed at moment {moment}"


@pytest.mark.parametrize("second", ["halt", "boot"])
def test_a_halt_or_a_boot_killed_at_every_boundary_recovers_when_run_again(scene: Scene, second: str) -> None:
    # The full specs applied; then halt (and for "boot": halt done, the boot killed).
    base = scene.fresh("runlevels")
    env = scene.env(base)
    assert xenctl(base, env, "apply", "--auto-approve", str(scene.specs)).returncode == 0
    if second == "boot":
        assert xenctl(base, env, "halt").returncode == 0
    for k in range(1, MAX_OPERATIONS):
        home = scene.root / f"{second}-{k}" / "home"
        _copy(base.parent, home.parent)
        env = scene.env(home)
        before = volumes(home)
        killed = xenctl(home, scene.env(home, XENCTL_KILL_AFTER=str(k)), second)
        if killed.returncode == 0:
            assert k > 3, f"only {k - 1} kills: XENCTL_KILL_AFTER did not take"
            break
        assert killed.returncode == -9, f"k={k}: {killed.returncode}\n{killed.stdout}{killed.stderr}"
        again = xenctl(home, env, second)
        assert again.returncode == 0, f"k={k}:\n{again.stdout}{again.stderr}"
        with_guests = _guests(home)
        if second == "halt":
            assert with_guests == set(), f"k={k}: still running after halt: {with_guests}"
        else:
            wanted = {f"dom{i}" for i in range(0, OBJECTS // 3, 3)}
            assert wanted <= with_guests, f"k={k}: not running after boot: {wanted - with_guests}"
            save_dir = home / "save"
            assert not save_dir.exists() or os.listdir(save_dir) == [], f"k={k}: save files left"
        problems = [p for p in check_host(home, env, scene.specs, before) if not p.startswith("plan after")]
        assert problems == [], f"killed after operation {k}"


def _copy(source: Path, target: Path) -> None:
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)


def _guests(home: Path) -> set[str]:
    from xenctl.engine.sim import SystemClock, open_host

    with open_host(str(home), clock=SystemClock(0)) as host:
        return {d.name for d in host.snapshot().domains if d.domid != 0}


def test_a_halt_killed_while_a_save_is_under_way_finishes_it_when_run_again(tmp_path: Path) -> None:
    """On a host in real time, where a save takes its 3 s: the second halt waits for the save
    the first one started, and the next boot restores the domain from it."""
    home, specs = tmp_path / "home", tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text(
        "domains:\n  - {name: a, memory: 64M, kernel: /boot/vmlinuz-2.6.18-xen}\n"
        "autostart:\n  - {domain: a, stop: save}\n"
    )
    env = {**os.environ, "XENCTL_HOME": str(home), "XENCTL_XEN_ROOT": str(tmp_path / "xen"), "XENCTL_TIME_SCALE": "0"}
    assert xenctl(home, env, "apply", "--auto-approve", str(specs)).returncode == 0
    slow = {**env, "XENCTL_TIME_SCALE": "1"}
    killed = xenctl(home, {**slow, "XENCTL_KILL_AFTER": "2"}, "halt")  # the runlevel, then the save begun
    assert killed.returncode == -9
    again = xenctl(home, slow, "halt")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "a save already under way finished" in again.stdout
    booted = xenctl(home, env, "boot")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert _guests(home) == {"a"}
    assert os.listdir(home / "save") == []
