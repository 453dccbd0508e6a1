"""Run a directory of tests at benchmark size, and say how it went: for fuzz.py and resilience.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_tests(directory: str, env: dict[str, str]) -> dict[str, float | int]:
    """pytest on ``tests/<directory>`` with ``env`` added: tests passed, failed, and the wall time."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", os.path.join(ROOT, "tests", directory)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    summary = (result.stdout.strip().splitlines() or [""])[-1]
    failed = re.search(r"(\d+) failed", summary)
    passed = re.search(r"(\d+) passed", summary)
    if result.returncode != 0:
        print(result.stdout[-6000:], file=sys.stderr)
    return {
        "passed": int(passed.group(1)) if passed else 0,
        "failed": int(failed.group(1)) if failed else (0 if result.returncode == 0 else 1),
        "wall_s": took,
    }
