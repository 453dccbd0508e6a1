"""``make bench``: run every benchmark, each on its own, print each figure as it comes, and write
bench/results.json.

Each benchmark module has ``run() -> dict`` of figures and a ``TARGETS`` mapping of the figures
that have a target (the figure's name to its limit and unit); each line says whether this machine
met it. Every module runs in a process of its own (and its own process group), so one that fails,
crashes or is stopped loses no other module's figures: it is reported as failed, the others run,
and results.json is written after each. Interrupted (Ctrl-C) or terminated, the module running is
stopped with everything it started.

    python bench/run.py [MODULE ...] [--output FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # the benchmark modules beside this file

# The core's benchmarks first, in this order; any other bench/*.py with a run() follows by name.
FIRST = ("cli", "snapshot", "plan", "apply", "boot", "watch", "fuzz", "resilience")
NOT_BENCHMARKS = {"run", "pytests"}


def _benchmarks() -> tuple[str, ...]:
    found = sorted(
        name[:-3]
        for name in os.listdir(HERE)
        if name.endswith(".py") and not name.startswith("_") and name[:-3] not in NOT_BENCHMARKS
    )
    return tuple(name for name in FIRST if name in found) + tuple(name for name in found if name not in FIRST)


BENCHMARKS = _benchmarks()
MARK = "xenctl-bench-figures: "  # the line a module's process ends with: its figures as JSON


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"some of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--output", default=os.path.join(HERE, "results.json"), help="the JSON file written")
    parser.add_argument("--module", help=argparse.SUPPRESS)  # run one module here, print its figures
    args = parser.parse_args()
    if args.module:
        return _one(args.module)
    results: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "benchmarks": {},
    }
    print(f"xenctl benchmarks on {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    failed = []
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    for name in args.modules or BENCHMARKS:
        print(f"{name}: running", flush=True)
        figures, targets, error = _run_module(name)
        results["benchmarks"][name] = figures if error is None else {**figures, "error": error}
        for key, value in figures.items():
            print(_row(name, key, value, targets.get(key)), flush=True)
        if error is not None:
            failed.append(name)
            print(f"  {name:<10} FAILED: {error}", flush=True)
        _write(results, args.output)
    print(f"written to {os.path.relpath(args.output)}")
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _row(bench: str, key: str, value: object, target: float | None) -> str:
    verdict = ""
    if target is not None and isinstance(value, (int, float)):
        verdict = f"< {target} {'ok' if value < target else 'MISSED'}"
    shown = f"{value:.4f}" if isinstance(value, float) else str(value)
    return f"  {bench:<10} {key:<40}  {shown:>12}  {verdict}".rstrip()


def _run_module(name: str) -> tuple[dict[str, Any], dict[str, float], str | None]:
    """Run one module in a process group of its own: its figures, its targets, and why it failed (None: it did not)."""
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--module", name],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    figures: dict[str, Any] = {}
    targets: dict[str, float] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(MARK):
                got = json.loads(line[len(MARK) :])
                figures, targets = got["figures"], got["targets"]
            else:
                print(f"    {line.rstrip()}", flush=True)  # the module's own progress
        process.wait()
    finally:
        _stop_group(process)
    if process.returncode != 0:
        return figures, targets, f"exit status {process.returncode}"
    if not figures:
        return figures, targets, "no figures"
    return figures, targets, None


def _one(name: str) -> int:
    # Loaded from its file as bench_NAME: a benchmark named after a library (libvirt.py) must not
    # take the library's place in sys.modules.
    found = importlib.util.find_spec(name)  # on sys.path, bench/ first
    if found is None or found.origin is None:
        raise SystemExit(f"no benchmark {name!r}")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", found.origin)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    figures = module.run()
    print(MARK + json.dumps({"figures": figures, "targets": getattr(module, "TARGETS", {})}), flush=True)
    return 0


def _stop_group(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)  # a fuzz or resilience run stops its own group in turn
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)  # through the finally that stops the module


def _write(results: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(results, stream, indent=2)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted: the benchmark running was stopped.", file=sys.stderr)
        sys.exit(130)
