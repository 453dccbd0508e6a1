"""The benchmark runners (bench/run.py, bench/pytests.py): bounded in time, and nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT

BENCH = ROOT / "bench"


@pytest.fixture
def pytests(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(BENCH))
    import pytests as module

    return module


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stream:  # a zombie waiting for its parent is gone too
        return stream.read().split(") ", 1)[1].startswith("Z")


def test_a_test_run_past_its_budget_is_stopped_with_what_it_started(pytests: object, tmp_path: Path) -> None:
    started = tmp_path / "child.pid"
    (tmp_path / "test_hang.py").write_text(
        "import subprocess, sys, time\n"
        "def test_quick():\n    pass\n"
        "def test_hangs():\n"
        f"    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"    open({str(started)!r}, 'w').write(str(child.pid))\n"
        "    time.sleep(600)\n"
    )
    began = time.monotonic()
    got = pytests.run_tests(str(tmp_path), {}, budget=4.0)  # type: ignore[attr-defined]
    assert time.monotonic() - began < 4.0 + 10
    assert (got["passed"], got["failed"], got["unfinished"], got["timed_out"]) == (1, 0, 1, 1)
    child = int(started.read_text())
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(child), "the hung test's own child outlived the run"


def test_a_benchmark_that_fails_loses_no_other_figure(tmp_path: Path) -> None:
    (tmp_path / "fake_broken.py").write_text("def run():\n    raise RuntimeError('out of loop devices')\n")
    (tmp_path / "fake_fine.py").write_text("TARGETS = {'took_s': 1.0}\ndef run():\n    return {'took_s': 0.25}\n")
    output = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "fake_broken", "fake_fine", "--output", str(output)],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "fake_broken FAILED: exit status 1" in result.stdout
    assert "fake_fine  took_s" in result.stdout and "< 1.0 ok" in result.stdout
    figures = json.loads(output.read_text())["benchmarks"]
    assert figures["fake_fine"] == {"took_s": 0.25}
    assert figures["fake_broken"] == {"error": "exit status 1"}
