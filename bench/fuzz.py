"""Hostile input at full size: every fuzz property of tests/fuzz with 10,000 generated inputs each.

The spec loader (and ``xenctl validate``), the xm config reader, the disk and vif grammar, the
plan-file reader (random and damaged files) and the autostart entry reader must each give a
result or one clear error, never a traceback. ``make test`` runs the same properties on a few
hundred inputs; this runs them at full size and reports how long it took. Each property's result
is printed as it comes; once the time budget (``--budget``, 10 minutes) has passed the run stops,
and the properties not finished are counted in ``unfinished_properties``. Interrupted or killed,
it stops its pytest and everything that started.

    python bench/fuzz.py [--examples N] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytests import run_tests  # beside this file (its directory leads sys.path)

TARGETS: dict[str, float] = {"failed_properties": 1, "unfinished_properties": 1}  # under 1: none
BUDGET = 600.0


def run(examples: int = 10_000, budget: float = BUDGET) -> dict[str, Any]:
    tests = run_tests("fuzz", {"XENCTL_FUZZ_EXAMPLES": str(examples)}, budget=budget)
    return {
        "inputs_per_property": examples,
        "failed_properties": tests["failed"],
        "unfinished_properties": tests["unfinished"],
        "budget_ran_out": tests["timed_out"],
        "wall_s": tests["wall_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds before the run stops (default 600)")
    args = parser.parse_args()
    for key, value in run(args.examples, args.budget).items():
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP: the tests were stopped first
        print(f"Stopped ({exc or 'SIGINT'}): no figures.", file=sys.stderr)
        sys.exit(130)
