"""A suite of invalid specs, one kind of mistake each: every one is refused with the expected message and line.

Each ``invalid/*.yaml`` file starts with comment lines saying what the loader must report::

    # expect: 5:13 domains[web1].memory: '512 MB' is not a memory size

``line:column``, then text that must appear in ``path: message`` of one issue; `` ... `` between
two fragments stands for any text, so an expectation can ask that a value be named without fixing
the words around it. A mistake that needs several files is a directory; its expectations are in a
file named ``EXPECT`` and start with the file's name (``b.yaml:4:5 ...``). ``{path}`` stands for
the file or directory given to the loader. Every expected issue must be there, and no other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from xenctl.errors import SpecError, SpecIssue
from xenctl.spec.checks import Capacity
from xenctl.spec.load import load_specs

INVALID = Path(__file__).parent / "invalid"
TEST_HOST = Capacity(16124, "the test host")
_EXPECT_RE = re.compile(r"^# expect: (?:(?P<file>[^\s:]+):)?(?P<line>\d+):(?P<column>\d+) (?P<text>.+)$")


@dataclass(frozen=True)
class Expected:
    file: str | None
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        where = f"{self.file}:" if self.file else ""
        return f"{where}{self.line}:{self.column} {self.text}"


def _cases() -> list[Path]:
    return sorted(p for p in INVALID.iterdir() if p.suffix == ".yaml" or p.is_dir())


def _expectations(case: Path) -> list[Expected]:
    source = case / "EXPECT" if case.is_dir() else case
    # Read as bytes: one of the cases is deliberately not UTF-8 after its header.
    header = source.read_bytes().decode("utf-8", errors="replace")
    found = []
    for raw in header.splitlines():
        match = _EXPECT_RE.match(raw)
        if match:
            text = match["text"].replace("{path}", str(case))
            found.append(Expected(match["file"], int(match["line"]), int(match["column"]), text))
    return found


def _matches(expected: Expected, issue: SpecIssue) -> bool:
    shown = f"{issue.path}: {issue.message}" if issue.path else issue.message
    file_ok = expected.file is None or Path(issue.file).name == expected.file
    fragments = [re.escape(fragment) for fragment in expected.text.split(" ... ")]
    text_ok = re.search(".*".join(fragments), shown, flags=re.DOTALL) is not None
    return file_ok and (issue.line, issue.column) == (expected.line, expected.column) and text_ok


def test_the_suite_has_at_least_35_kinds_of_mistake_each_with_an_expectation() -> None:
    cases = _cases()
    assert len(cases) >= 35
    without = [case.name for case in cases if not _expectations(case)]
    assert without == []


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case.name)
def test_an_invalid_spec_is_refused_with_the_expected_message_at_the_right_line(case: Path) -> None:
    expected = _expectations(case)
    with pytest.raises(SpecError) as caught:
        load_specs([str(case)], TEST_HOST)
    issues = list(caught.value.issues)
    shown = "\n".join(str(issue) for issue in issues)
    unmatched = list(issues)
    for want in expected:
        hit = next((issue for issue in unmatched if _matches(want, issue)), None)
        assert hit is not None, f"expected {want}\nbut the loader said:\n{shown}"
        unmatched.remove(hit)
    assert not unmatched, "unexpected extra issues:\n" + "\n".join(str(issue) for issue in unmatched)
    for issue in issues:  # every message says where: file:line:column
        assert Path(issue.file).is_file()
        assert str(issue).startswith(f"{issue.file}:{issue.line}:{issue.column}: ")
