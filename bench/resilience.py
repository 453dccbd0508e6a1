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
from typing import Any

from pytests import run_tests  # beside this file (its directory leads sys.path)

TARGETS: dict[str, float] = {"failed_tests": 1}  # under 1: none failed


def run(objects: int = 200, moments: int = 20) -> dict[str, Any]:
    tests = run_tests(
        "resilience", {"XENCTL_RESILIENCE_OBJECTS": str(objects), "XENCTL_RESILIENCE_MOMENTS": str(moments)}
    )
    return {
        "objects": objects,
        "passed_tests": tests["passed"],
        "failed_tests": tests["failed"],
        "wall_s": tests["wall_s"],
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
