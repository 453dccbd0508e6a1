"""Crash, fault and concurrency tests at full size: tests/resilience with 200 objects.

- an apply of about 200 objects killed (SIGKILL) right after each of its operations, and at 20
  random moments from a seed; a halt and a boot of its domains killed the same way; each time the
  command run again must leave the host as the specs say, whole, with nothing lost or leaked;
- the k-th operation of the apply failing once (every k) and from then on, and one in ten failing;
- eight applies and a watch at once.

``make test`` runs the same tests on a dozen objects. This reports how many failed and how long
they took (several minutes: each kill is a process started, killed and recovered).

    python bench/resilience.py [--objects N] [--moments N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS: dict[str, float] = {"failed_tests": 1}  # under 1: none failed


def run(objects: int = 200, moments: int = 20) -> dict[str, Any]:
    env = {**os.environ, "XENCTL_RESILIENCE_OBJECTS": str(objects), "XENCTL_RESILIENCE_MOMENTS": str(moments)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(ROOT, "tests", "resilience")],
        cwd=ROOT,
        env=env,
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
        "objects": objects,
        "passed_tests": int(passed.group(1)) if passed else 0,
        "failed_tests": int(failed.group(1)) if failed else (0 if result.returncode == 0 else 1),
        "wall_s": took,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--moments", type=int, default=20)
    args = parser.parse_args()
    for key, value in run(args.objects, args.moments).items():
        print(f"{key:>14}: {value:.1f}" if isinstance(value, float) else f"{key:>14}: {value}")


if __name__ == "__main__":
    main()
