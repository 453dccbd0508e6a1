"""The README's short tour works as written, on a fresh host, from a clone of the repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_xenctl

_ROW = re.compile(r"^\S+\s+\d+\s+\d+\s+\d+\s+[-rbpscd]{6}\s+[\d.]+$")  # an xm list row: Time(s) varies


def _tour() -> list[tuple[list[str], list[str]]]:
    """Each ``$ xenctl ...`` command of the tour, and the output lines it shows."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## A short tour", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            words = shlex.split(line[2:], comments=True)
            steps.append((words, []))
        elif steps and line.strip() and line.strip() != "...":
            steps[-1][1].append(line)
    return [(words, shown) for words, shown in steps if words[0] == "xenctl"]


def _normal(line: str) -> str:
    line = line.rstrip()
    return line.rsplit(None, 1)[0] if _ROW.match(line) else line


def test_the_readme_tour_runs_as_written_on_a_fresh_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XENCTL_XEN_ROOT", raising=False)  # as on a fresh machine: the host's own /etc/xen
    home = tmp_path / "home"
    steps = _tour()
    assert len(steps) >= 6
    for words, shown in steps:
        args = words[1:]
        if args[0] == "apply":
            args.insert(1, "--auto-approve")  # the tour answers yes at the terminal
        result = run_xenctl(home, *args, cwd=ROOT)
        output = [_normal(line) for line in (result.stdout + result.stderr).splitlines()]
        failed = any(line.startswith("Error: ") for line in shown)
        assert result.returncode == (1 if failed else 0), f"{words}: {result.stderr}"
        for line in shown:
            if "/home/you/" in line:  # the tour's home is the reader's
                line = line.replace("/home/you/.local/share/xenctl", str(home))
            assert _normal(line) in output, f"{' '.join(words)}: {line!r} not in\n" + "\n".join(output)
