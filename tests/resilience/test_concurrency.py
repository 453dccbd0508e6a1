"""Eight ``xenctl apply`` processes at once on one host, and a ``watch``: one mutates at a time,
the others wait for the lock or stop naming its holder, and the host ends as the specs say."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from itertools import groupby
from pathlib import Path

from tests.reconcile.support import connect, plan_for, volumes
from tests.resilience.crash import profile, spec

OBJECTS = int(os.environ.get("XENCTL_RESILIENCE_OBJECTS", "12"))  # bench/resilience.py: 200


def _start(home: Path, xen_root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "XENCTL_HOME": str(home), "XENCTL_XEN_ROOT": str(xen_root), "XENCTL_TIME_SCALE": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "xenctl", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_eight_applies_and_a_watch_take_turns_and_the_host_ends_as_the_specs_say(
    tmp_path: Path, xen_root: Path
) -> None:
    home = tmp_path / "home"
    (tmp_path / "profile.yaml").write_text(profile(OBJECTS))
    assert _start(home, xen_root, "host", "init", "--profile", str(tmp_path / "profile.yaml")).wait() == 0
    whole, split = tmp_path / "whole", tmp_path / "split"
    whole.mkdir()
    split.mkdir()
    text = spec(OBJECTS)
    (whole / "spec.yaml").write_text(text)
    # The same objects in three files: another spec to the applies, the same host in the end.
    storage, rest = text.split("domains:\n", 1)
    domains, autostart = rest.split("autostart:\n", 1)
    (split / "storage.yaml").write_text(storage)
    # ... and one domain with more memory, so every apply after one of the other spec has work to do
    (split / "domains.yaml").write_text(
        "domains:\n" + domains.replace("name: dom0, memory: 64M", "name: dom0, memory: 96M")
    )
    (split / "autostart.yaml").write_text("autostart:\n" + autostart)

    watch = _start(home, xen_root, "watch", "--quiet", "0.2", "--lock-timeout", "60", "--specs", str(whole))
    applies = [
        _start(home, xen_root, "apply", "--auto-approve", "--lock-timeout", timeout, str(specs))
        for specs, timeout in [(whole, "60"), (split, "60"), (whole, "0"), (split, "0")] * 2
    ]
    results = [(p.wait(timeout=240), p.communicate()) for p in applies]
    assert watch.stdout is not None
    deadline = time.monotonic() + 120
    for line in watch.stdout:  # the watcher's own start-up (boot and apply) done, and watching
        if line.startswith("Watching") or time.monotonic() > deadline:
            break
    watch.send_signal(signal.SIGTERM)
    assert watch.wait(timeout=60) == 0, watch.communicate()

    for (code, (out, err)), timeout in zip(results, ["60", "60", "0", "0"] * 2, strict=True):
        if timeout == "60":
            assert code == 0, out + err  # waited its turn
        else:
            assert code == 0 or ("locked" in err and "pid" in err), out + err  # or named the holder
        assert "Traceback" not in err

    with connect(home) as host:
        events = [e for e in host.events() if e.actor.startswith("xenctl pid")]
    # The host is as one spec or the other says, whole: never a mix of the two.
    left = [plan_for(home, [specs]).changes for specs in (whole, split)]
    assert () in left, left
    # One mutating command at a time: each apply's operations are one unbroken run (the watcher
    # takes the lock once per thing it does, so its runs may come between theirs).
    runs = [actor for actor, _ in groupby(e.actor for e in events) if actor != f"xenctl pid {watch.pid}"]
    assert len(runs) == len(set(runs)), runs
    assert len(set(runs)) >= 2  # more than one apply had something to do, so the turns were tested
    # Nothing lost or done twice: the data volumes hold just what one clean apply puts on them.
    clean = tmp_path / "clean"
    (tmp_path / "clean-profile.yaml").write_text(profile(OBJECTS))
    assert _start(clean, xen_root, "host", "init", "--profile", str(tmp_path / "clean-profile.yaml")).wait() == 0
    assert _start(clean, tmp_path / "clean-xen", "apply", "--auto-approve", str(whole)).wait() == 0

    def data(of: Path) -> dict[str, tuple[int, str]]:
        return {path: kept for path, kept in volumes(of).items() if "/keep" in path}

    assert data(home) and data(home) == data(clean)
