"""``make bench``: run every benchmark, print a table, and write bench/results.json.

Each benchmark module has ``run() -> dict`` of figures and a ``TARGETS`` mapping of the figures
that have a target (the figure's name to its limit and unit). The table says, for each, whether
this machine met it.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # the benchmark modules beside this file

BENCHMARKS = ("cli", "snapshot", "plan", "apply", "boot", "watch", "fuzz", "resilience")


def main() -> int:
    results: dict[str, object] = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "benchmarks": {},
    }
    rows = []
    for name in BENCHMARKS:
        module = importlib.import_module(name)
        figures = module.run()
        results["benchmarks"][name] = figures  # type: ignore[index]
        for key, value in figures.items():
            target = module.TARGETS.get(key)
            verdict = ""
            if target is not None:
                verdict = f"< {target} {'ok' if value < target else 'MISSED'}"
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            rows.append((name, key, shown, verdict))
    print(f"xenctl benchmarks on {os.cpu_count()} cores, Python {platform.python_version()}")
    width = max(len(r[1]) for r in rows)
    for bench, key, value, verdict in rows:
        print(f"  {bench:<10} {key:<{width}}  {value:>12}  {verdict}")
    path = os.path.join(HERE, "results.json")
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(results, stream, indent=2)
    print(f"written to {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
