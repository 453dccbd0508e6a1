"""The kinds of value the command line takes: durations, shares, counts, and the lock's wait.

Each turns a word of argv into a value or an ``argparse.ArgumentTypeError`` whose text becomes
the one ``Error:`` line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def seconds(text: str) -> float:
    """A duration as specs write one (10s, 2m, 250ms, or 90 seconds), finite, 0 or more."""
    from xenctl.units import UnitError, parse_duration

    try:
        value = parse_duration(text)
    except UnitError:
        value = -1.0
    if not 0 <= value <= 1e9:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write 10s, 2m or a number of seconds")
    return value


def share(text: str) -> float:
    """A share of things: more than 0, at most 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:  # refuses nan too
        raise argparse.ArgumentTypeError(f"{text!r} is not a share from above 0 to 1 (0.1 is one in ten)")
    return value


def count(text: str) -> int:
    """A whole number from 0 to 2^53, for counts and sequence numbers on the command line."""
    if not (text.isascii() and text.isdigit()) or int(text) > 2**53:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0 to 2^53")
    return int(text)


def lock_timeout(p: argparse.ArgumentParser, default: float = 0.0) -> None:
    p.add_argument(
        "--lock-timeout",
        type=seconds,
        default=default,
        metavar="S",
        help=f"wait up to S seconds for another command holding the host (default {default:g})",
    )


_GLOBAL_VALUED = ("-c", "--connect", "--home", "--xen-root")  # the global options that take a value


def command_word(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, when the global options before it are plainly written (no
    abbreviations, no --help); None otherwise, and the whole parser is built."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_VALUED:
            next(words, None)
        elif word == "--allow-outside-links" or (word.startswith("--") and word.split("=", 1)[0] in _GLOBAL_VALUED):
            continue
        elif word.startswith("-"):
            return None
        else:
            return word
    return None


def without_xm(argv: Sequence[str]) -> list[str]:
    """xm's spelling, ``xenctl xm migrate ...``: the word ``xm`` before a command is dropped."""
    words = list(argv)
    word = command_word(words)
    if word == "xm":
        words.remove("xm")
    return words
