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
