"""``xenctl new``: virt-install's questions, asked on a terminal or answered by flags, written as a spec.

The questions are data (``QUESTIONS``): the prompt as virt-install worded it, the flag that answers
it, and a validator that returns the value or raises ``BadAnswer`` with the reason. On a terminal a
bad answer prints ``  <reason>`` and the question comes again; as a flag it is a usage error with the
same reason. ``xenctl.app.newvm.answers_to_desired`` turns the answers into the desired state,
purely (the page's New VM wizard shares it, and the validators of ``xenctl.app.answers``); the
command writes it with ``render_spec``.

What is accepted:

- name: as the spec schema allows (letters, digits and ``_ - . : +``, at most 64, not only digits),
  and not ``Domain-0``, which is the host's own.
- RAM: a whole number of megabytes, at least 256, and no more than the host can ever give a guest
  (the check ``xenctl validate`` makes).
- disk: a file name (``web1.img``, ``guests/web1.img``), placed under the host's storage root, or an
  absolute path inside the storage root, as the host refuses image files anywhere else. No ``..``,
  no unprintable characters, and not a directory (a trailing ``/``, ``.``, or the storage root itself).
- disk size: gigabytes, a whole number or a decimal that makes whole megabytes (``0.5``, ``1.25``;
  not ``0.1``, which is 102.4M), more than 0 and at most 2048.
- fully virtualized: yes or no, as graphics; asked only on a host that can run such a guest (its
  profile's ``hvm``), where yes makes an HVM guest (``hvm:``, an emulated disk and network card,
  graphics on the device model's VNC server) and no a paravirtualised one booting with pygrub.
- graphics: yes, no, y or n, in any case.
- location: ``nfs:server:/path``, ``ftp://server/...``, ``http://server/...`` or ``https://server/...``.

Not a question, as in virt-install: ``-x``/``--extra-args`` gives the installer's kernel
arguments; its ``ks=URL`` becomes the install's kickstart file, the other words the domain's
``extra``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xenctl.app.answers import (
    BadAnswer,
    Limits,
    parse_disk,
    parse_disk_size,
    parse_extra_args,
    parse_graphics,
    parse_hvm,
    parse_location,
    parse_name,
    parse_ram,
)
from xenctl.app.newvm import (
    Answers,
    answers_to_desired,
    exists_error,
    flag_form,
    gigabytes,
    render_spec,
    volume_name,
    write_spec,
)
from xenctl.errors import UsageError, XenctlError

__all__ = [
    "Answers",
    "answers_to_desired",
    "ask_questions",
    "flag_form",
    "gigabytes",
    "parse_disk",
    "parse_disk_size",
    "parse_extra_args",
    "parse_flags",
    "parse_graphics",
    "parse_location",
    "parse_name",
    "parse_ram",
    "render_spec",
    "run_new",
    "volume_name",
    "write_spec",
]

DEFAULT_SPEC_DIR = "specs"


# --- the questions, as virt-install asked them ----------------------------------------------------


@dataclass(frozen=True)
class Question:
    key: str  # the Answers field, and the flag's dest
    flag: str
    prompt: str
    parse: Callable[[str, Limits], Any]


QUESTIONS: tuple[Question, ...] = (
    Question("name", "--name", "What is the name of your virtual machine?", parse_name),
    Question("ram", "--ram", "How much RAM should be allocated (in megabytes)?", parse_ram),
    Question(
        "hvm",
        "--hvm",
        "Would you like a fully virtualized guest (yes or no)?  "
        "This will allow you to run unmodified operating systems.",
        parse_hvm,
    ),
    Question("disk", "--disk", "What would you like to use as the disk (file path)?", parse_disk),
    Question("disk_size", "--disk-size", "How large would you like the disk to be (in gigabytes)?", parse_disk_size),
    Question("graphics", "--graphics", "Would you like to enable graphics support? (yes or no)", parse_graphics),
    Question("location", "--location", "What is the install location?", parse_location),
)


def parse_flags(given: Mapping[str, str | None], limits: Limits) -> dict[str, Any]:
    """The answers given as flags, validated; a bad one is a UsageError with the question's reason."""
    values: dict[str, Any] = {}
    for question in QUESTIONS:
        text = given.get(question.key)
        if text is None:
            continue
        try:
            values[question.key] = question.parse(text, limits)
        except BadAnswer as bad:
            raise UsageError(f"{question.flag}: {bad}") from None
    return values


def ask_questions(
    questions: Sequence[Question], limits: Limits, ask: Callable[[str], str], say: Callable[[str], None]
) -> dict[str, Any]:
    """Ask each question until it gets a good answer; ``ask`` raises EOFError at the end of input."""
    values: dict[str, Any] = {}
    for question in questions:
        while True:
            try:
                text = ask(question.prompt + " ")
            except EOFError:
                say("")  # end the prompt's line, so the error starts on its own
                raise XenctlError(f"no answer to {question.prompt!r} (end of input); nothing was written") from None
            try:
                values[question.key] = question.parse(text, limits)
                break
            except BadAnswer as bad:
                say(f"  {bad}")
    return values


# --- the command ----------------------------------------------------------------------------------


def host_limits(args: argparse.Namespace) -> Limits:
    """What the host the command names allows (see ``xenctl.app.newvm.host_limits``)."""
    from xenctl.app.newvm import host_limits as limits_of
    from xenctl.cli.context import host_of

    with host_of(args) as host:
        return limits_of(host)


def _ask_on_terminal(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


def _say(text: str) -> None:
    print(text, flush=True)


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def run_new(args: argparse.Namespace) -> int:
    limits = host_limits(args)
    values = parse_flags({q.key: getattr(args, q.key) for q in QUESTIONS}, limits)
    if not limits.hvm:  # as virt-install, no question a host without HVM support could only answer no
        values.setdefault("hvm", False)
    if args.extra_args is not None:
        try:
            values["kickstart"], values["extra"] = parse_extra_args(args.extra_args)
        except BadAnswer as bad:
            raise UsageError(f"--extra-args: {bad}") from None
    missing = [q for q in QUESTIONS if q.key not in values]
    if missing and not _stdin_is_terminal():
        flags = " ".join(q.flag for q in missing)
        raise UsageError(f"stdin is not a terminal to ask on; give the missing answers as flags: {flags}")
    if args.out is not None or "name" in values:  # refuse before asking; write_spec refuses again, without a race
        known = args.out if args.out is not None else default_out(values["name"])
        if not args.force and os.path.lexists(known):
            raise exists_error(known)
    try:
        values.update(ask_questions(missing, limits, _ask_on_terminal, _say))
    except KeyboardInterrupt:
        _say("")
        raise
    answers = Answers(**values)
    out = args.out if args.out is not None else default_out(answers.name)
    write_spec(out, render_spec(answers), force=args.force)
    print(f"Wrote {out}. Check it with: xenctl validate {shlex.quote(out)}")
    return 0


def default_out(name: str) -> str:
    return os.path.join(DEFAULT_SPEC_DIR, f"{name}.yaml")
