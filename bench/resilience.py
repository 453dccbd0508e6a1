"""Crash, fault and concurrency tests at full size: tests/resilience with 200 objects.

- an apply of about 200 objects killed (SIGKILL) right after each of its operations, and at 20
  random moments from a seed; a halt and a boot of its domains killed the same way; each time the
  command run again must leave the host as the specs say, whole, with nothing lost or leaked;
- the k-th operation of the apply failing once (every k) and from then on, and one in ten failing;
- eight applies and a watch at once.

``make test`` runs the same tests on a dozen objects. This reports how many failed and how long
they took (several minutes: each kill is a process started, killed and recovered). Each test's
result is printed as it comes; once the time budget (``--budget``, 12 minutes) has passed the run
stops, and the tests not finished are counted in ``unfinished_tests``. Interrupted or killed, it
stops its pytest and every xenctl that started.

    python bench/resilience.py [--objects N] [--moments N] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytests import run_tests  # beside this file (its directory leads sys.path)

TARGETS: dict[str, float] = {"failed_tests": 1, "unfinished_tests": 1}  # under 1: none
BUDGET = 720.0


def run(objects: int = 200, moments: int = 20, budget: float = BUDGET) -> dict[str, Any]:
    sizes = {"XENCTL_RESILIENCE_OBJECTS": str(objects), "XENCTL_RESILIENCE_MOMENTS": str(moments)}
    tests = run_tests("resilience", sizes, budget=budget)
    return {
        "objects": objects,
        "passed_tests": tests["passed"],
        "failed_tests": tests["failed"],
        "unfinished_tests": tests["unfinished"],
        "budget_ran_out": tests["timed_out"],
        "wall_s": tests["wall_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--moments", type=int, default=20)
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds before the run stops (default 720)")
    args = parser.parse_args()
    for key, value in run(args.objects, args.moments, args.budget).items():
        print(f"{key:>14}: {value:.1f}" if isinstance(value, float) else f"{key:>14}: {value}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP: the tests were stopped first
        print(f"Stopped ({exc or 'SIGINT'}): no figures.", file=sys.stderr)
        sys.exit(130)
