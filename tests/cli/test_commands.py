"""Every command line xenctl parses runs through the table of commands, and every entry of the
table is a command line xenctl parses."""

from __future__ import annotations

import argparse

import pytest

from xenctl.cli.commands import COMMANDS
from xenctl.cli.main import build_parser


def _words(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _words(sub)
    words = parser.get_default("words")
    if words is not None:
        found.add(words)
    return found


def test_every_command_parsed_has_its_entry_in_the_table_and_no_entry_is_left_over() -> None:
    assert _words(build_parser()) == set(COMMANDS)


def test_a_command_runs_the_function_its_entry_names(capsys: pytest.CaptureFixture[str]) -> None:
    from xenctl.cli.main import main

    assert main(["schema"]) == 0
    assert '"domains"' in capsys.readouterr().out  # the spec schema, as `xenctl schema` prints it


def test_the_parser_made_for_one_command_parses_it_as_the_whole_parser_does() -> None:
    from xenctl.cli.arguments import command_word

    lines = [
        ["list", "vm1"],
        ["-c", "sim:///tmp/h", "--xen-root=/tmp/x", "host", "show", "--json"],
        ["--home", "/tmp/h", "mem-set", "vm1", "256"],
        ["--allow-outside-links", "watch", "--quiet", "0.05"],
        ["apply", "--auto-approve", "specs"],
        ["xend", "status"],
    ]
    for line in lines:
        word = command_word(line)
        assert word == next(w for w in line if not w.startswith("-") and "/" not in w)
        assert build_parser(word).parse_args(line) == build_parser().parse_args(line)
    assert command_word(["--help"]) is None and command_word(["--conn", "x", "list"]) is None


@pytest.mark.parametrize("columns", ["50", "200", "", "nonsense"])
def test_help_is_as_wide_as_argparse_makes_it(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """xenctl finds the terminal's width without shutil: its help wraps where argparse's own would."""
    import argparse

    monkeypatch.setenv("COLUMNS", columns)

    def parsers(word: str | None) -> list[argparse.ArgumentParser]:
        top = build_parser(word)
        return [top, *(top._subparsers._group_actions[0].choices.values() if top._subparsers else ())]  # type: ignore[attr-defined]

    for word in ("plan", "list", None):
        for ours, theirs in zip(parsers(word), parsers(word), strict=True):
            theirs._get_formatter = lambda p=theirs: argparse.ArgumentParser._get_formatter(p)  # type: ignore[method-assign]
            assert ours.format_help() == theirs.format_help()
