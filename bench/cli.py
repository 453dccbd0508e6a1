"""Start-up: ``xenctl --help`` and ``xenctl list`` on a small host, as a user runs them.

Each command imports what it needs when it needs it (YAML, JSON Schema and networkx only for the
commands that read specs or plan), so the commands an operator types all day answer at once.
Byte-compiled, as an installed xenctl runs. Target (issue 7): under 100 ms each (median of 7).

    python bench/cli.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from plan import timed  # the benchmark beside this one (its directory leads sys.path)

TARGETS = {"help_s": 0.1, "list_small_host_s": 0.06}


def _median(command: list[str], env: dict[str, str], repeat: int = 7) -> float:
    subprocess.run(command, env=env, capture_output=True, check=True)  # byte-compiles, warms the disk cache
    return timed(command, env, repeat)


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-cli-") as scratch:
        env = {**os.environ, "XENCTL_HOME": os.path.join(scratch, "home"), "XENCTL_TIME_SCALE": "0"}
        env["XENCTL_XEN_ROOT"] = os.path.join(scratch, "xen")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        xenctl = [sys.executable, "-m", "xenctl"]
        subprocess.run([*xenctl, "host", "init"], env=env, capture_output=True, check=True)
        for i in range(5):
            config = os.path.join(scratch, f"vm{i}.cfg")
            with open(config, "w", encoding="utf-8") as stream:
                stream.write(f'name = "vm{i}"\nmemory = 128\nkernel = "/boot/vmlinuz-2.6.18-xen"\n')
            subprocess.run([*xenctl, "create", config], env=env, capture_output=True, check=True)
        python = _median([sys.executable, "-c", "pass"], env)
        return {
            "help_s": _median([*xenctl, "--help"], env),
            "list_small_host_s": _median([*xenctl, "list"], env),
            "python_alone_s": python,
        }


def main() -> None:
    for key, value in run().items():
        print(f"{key:>18}: {value:.3f}")


if __name__ == "__main__":
    main()
