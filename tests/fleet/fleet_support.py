"""A fleet of fresh simulated hosts in a temporary directory, driven through xenctl's own command
line (in this process, simulated time instant), as a user would drive it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from xenctl.cli.main import main

KERNEL = "/boot/vmlinuz-2.6.18-xen"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Fleet:
    """Hosts ``a``, ``b``, ``c`` (``sim://<tmp>/NAME``) and a specs directory to write into."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.specs = root / "specs"
        self.specs.mkdir(parents=True, exist_ok=True)
        self.capsys = capsys

    def url(self, name: str) -> str:
        return f"sim://{self.root / name}"

    def hosts_yaml(self, *names: str, extra: dict[str, str] | None = None) -> str:
        """The hosts: block, each host's extra lines (``labels: [ssd]``) from ``extra``."""
        lines = ["hosts:"]
        for name in names:
            lines += [f"  - name: {name}", f"    connect: {self.url(name)}"]
            lines += [f"    {line}" for line in (extra or {}).get(name, "").splitlines() if line]
        return "\n".join(lines) + "\n"

    def write(self, text: str, name: str = "fleet.yaml") -> Path:
        path = self.specs / name
        path.write_text(textwrap.dedent(text))
        return path

    def run(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(list(args))
        seen = self.capsys.readouterr()
        return Result(code, seen.out, seen.err)

    def plan(self, *more: str) -> Result:
        return self.run("plan", str(self.specs), *more)

    def apply(self, *more: str) -> Result:
        return self.run("apply", "--auto-approve", str(self.specs), *more)

    def xend(self, host: str, *lines: str) -> None:
        """Write the host's xend-config.sxp (``(xend-relocation-server yes)`` ...)."""
        where = self.root / host / "etc" / "xen"
        where.mkdir(parents=True, exist_ok=True)
        (where / "xend-config.sxp").write_text("\n".join(lines) + "\n")

    def relocation(self, *hosts: str) -> None:
        for host in hosts:
            self.xend(host, "(xend-relocation-server yes)")

    def domains(self, host: str) -> dict[str, bool]:
        """Each domain on ``host`` (Domain-0 aside) by name: whether it is up."""
        from xenctl.engine.sim import open_host

        sim = open_host(str(self.root / host))
        try:
            return {d.name: d.is_up for d in sim.snapshot().domains if d.domid != 0}
        finally:
            sim.close()

    def events(self, host: str) -> list[tuple[str, str, str]]:
        """The host's event log: (op, object, outcome) in order."""
        from xenctl.engine.sim import open_host

        sim = open_host(str(self.root / host))
        try:
            return [(e.op, e.obj, e.outcome) for e in sim.events()]
        finally:
            sim.close()


def domain_yaml(name: str, memory: str = "256M", **fields: str) -> str:
    """One domain of ``domains:``; ``fields`` are written as given (``host="a"``, ``spread="web"``)."""
    lines = [f"  - name: {name}", f"    memory: {memory}", f"    kernel: {KERNEL}"]
    lines += [f"    {key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Fleet:
    monkeypatch.setenv("XENCTL_TIME_SCALE", "0")
    monkeypatch.setenv("XENCTL_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return Fleet(tmp_path, capsys)
