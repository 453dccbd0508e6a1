"""``xenctl new``: virt-install's questions, asked on a terminal or answered by flags, written as a spec.

The questions are data (``QUESTIONS``): the prompt as virt-install worded it, the flag that answers
it, and a validator that returns the value or raises ``BadAnswer`` with the reason. On a terminal a
bad answer prints ``  <reason>`` and the question comes again; as a flag it is a usage error with the
same reason. ``answers_to_desired`` turns the answers into the desired state, purely; the command
writes it with ``dump_spec``.

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
- graphics: yes, no, y or n, in any case.
- location: ``nfs:server:/path``, ``ftp://server/...``, ``http://server/...`` or ``https://server/...``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from xenctl.errors import UsageError, XenctlError
from xenctl.spec.model import (
    DesiredState,
    DiskSpec,
    DomainSpec,
    InstallSpec,
    VifSpec,
    VolumeKind,
    VolumeSpec,
    volume_name_from,
)
from xenctl.spec.schema import schema
from xenctl.units import GIB, MIB

DEFAULT_SPEC_DIR = "specs"
MIN_RAM = 256  # MiB
MAX_DISK_GIB = 2048
BRIDGE = "xenbr0"
BOOTLOADER = "pygrub"
VDEV = "xvda"


class BadAnswer(ValueError):
    """An answer a question cannot take; the message is the reason, shown to the user."""


@dataclass(frozen=True)
class Limits:
    """What the host allows, for the validators: where image files live and the most RAM a guest can have."""

    storage_root: str = "/var/lib/xen/images"
    guest_memory: int | None = None  # MiB; None: no limit known
    source: str = "the host"


@dataclass(frozen=True)
class Answers:
    """virt-install's answers, validated."""

    name: str
    ram: int  # MiB
    disk: str  # the image path as given: a file name under the storage root, or an absolute path in it
    disk_size: int  # bytes, whole MiB
    graphics: bool
    location: str


# --- the validators: text in, value out, or BadAnswer with the reason --------------------------------

_NAME_CHARS = re.compile(r"[A-Za-z0-9_.:+-]")


def parse_name(text: str, limits: Limits | None = None) -> str:
    """A domain name as the spec schema's ``$defs/name`` allows it."""
    name = text.strip()
    if not name:
        raise BadAnswer("a name is needed")
    bad = sorted({c for c in name if not _NAME_CHARS.fullmatch(c)})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise BadAnswer(f"{name!r} has {shown}; a name is letters, digits and _ - . : +")
    if len(name) > 64:
        raise BadAnswer(f"{name!r} is {len(name)} characters long; a name has at most 64")
    if name.startswith("-"):
        raise BadAnswer(f"{name!r} starts with '-', which xenctl's commands would take for an option")
    if name.isdigit():
        raise BadAnswer(f"{name!r} is only digits, which xm would take for a domain id; add a letter")
    if name in (".", ".."):
        raise BadAnswer(f"{name!r} is not a name; use letters and digits")
    if name == "Domain-0":
        raise BadAnswer("Domain-0 is the host's own domain; choose another name")
    return name


def parse_ram(text: str, limits: Limits | None = None) -> int:
    """RAM in MiB: a whole number, at least 256, within what the host can give a guest."""
    raw = text.strip()
    if not raw:
        raise BadAnswer("a number of megabytes is needed, such as 512")
    if not raw.isascii() or not raw.isdigit():
        raise BadAnswer(f"{_shorten(raw)!r} is not a whole number of megabytes; write 512 or 1024")
    digits = raw.lstrip("0") or "0"
    ram = int(digits) if len(digits) <= 12 else 10**12  # not int() of a 5,000-digit typo
    if ram < MIN_RAM:
        raise BadAnswer(f"{ram} megabytes is too little; a guest needs at least {MIN_RAM}")
    if limits is not None and limits.guest_memory is not None and ram > limits.guest_memory:
        raise BadAnswer(
            f"{_shorten(digits)} megabytes is more than {limits.source} can ever give a guest ({limits.guest_memory})"
        )
    return ram


def _shorten(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def parse_disk(text: str, limits: Limits | None = None) -> str:
    """An image file: a file name under the storage root, or an absolute path inside it."""
    root = (limits or Limits()).storage_root
    path = text.strip()
    if not path:
        raise BadAnswer(f"a file path is needed, such as {root}/guest.img")
    if not path.isprintable():
        raise BadAnswer(f"{path!r} has a control or unprintable character; a file path cannot")
    parts = path.split("/")
    if ".." in parts:
        raise BadAnswer(f"{path!r} has '..'; give the path without it")
    if path.endswith("/") or parts[-1] == ".":
        raise BadAnswer(f"{path!r} is a directory; give a file's path, such as {root}/guest.img")
    if path.startswith("/"):
        full = os.path.normpath(path)
        if full == root:
            raise BadAnswer(f"{path!r} is the storage root, a directory; name a file in it, such as {root}/guest.img")
        if os.path.commonpath([root, full]) != root:
            raise BadAnswer(f"{path!r} is outside the storage root {root}; give a path in it, or just a file name")
    return path


_DECIMAL = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")


def parse_disk_size(text: str, limits: Limits | None = None) -> int:
    """A size in gigabytes (binary, as xenctl's sizes are), returned in bytes: whole MiB, at most 2048 GiB."""
    raw = text.strip()
    if not raw:
        raise BadAnswer("a number of gigabytes is needed, such as 8")
    if not raw.isascii() or not _DECIMAL.match(raw):
        raise BadAnswer(f"{_shorten(raw)!r} is not a number of gigabytes; write 8 or 0.5")
    shown = _shorten(raw)
    whole, _, fraction = raw.partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    # A whole number of MiB is a multiple of 1/1024 GiB, which needs at most 10 decimals (0.0009765625);
    # checking the lengths first keeps a 5,000-digit typo away from Fraction().
    too_big = f"{shown} gigabytes is more than {MAX_DISK_GIB}, the largest disk xenctl new makes"
    not_whole = f"{shown} gigabytes is not a whole number of megabytes; write 0.5, 1.25 or a whole number"
    if len(whole) > len(str(MAX_DISK_GIB)):
        raise BadAnswer(too_big)
    if len(fraction) > 10:
        raise BadAnswer(not_whole)
    gib = Fraction(f"{whole}.{fraction or 0}")
    if gib == 0:
        raise BadAnswer(f"{shown} gigabytes is no disk; give more than 0")
    if gib > MAX_DISK_GIB:
        raise BadAnswer(too_big)
    mib = gib * 1024
    if mib.denominator != 1:
        raise BadAnswer(not_whole)
    return int(mib) * MIB


def parse_graphics(text: str, limits: Limits | None = None) -> bool:
    answer = text.strip().lower()
    if answer in ("yes", "y"):
        return True
    if answer in ("no", "n"):
        return False
    raise BadAnswer(f"{text.strip()!r} is not yes or no" if text.strip() else "answer yes or no")


def _location_pattern() -> re.Pattern[str]:
    """The spec schema's own rule for install locations: what the wizard accepts, validate accepts."""
    install = schema()["$defs"]["domain"]["properties"]["install"]
    return re.compile(install["properties"]["location"]["pattern"])


def parse_location(text: str, limits: Limits | None = None) -> str:
    """An install tree: nfs:server:/path, or an ftp, http or https URL with a server."""
    location = text.strip()
    if not location:
        raise BadAnswer("an install location is needed, such as nfs:server:/path or http://server/path")
    scheme, colon, rest = location.partition(":")
    if colon and scheme.lower() in ("nfs", "ftp", "http", "https"):
        location = scheme.lower() + colon + rest  # HTTP://server is http://server
    if not location.isprintable() or not _location_pattern().search(location):
        raise BadAnswer(
            f"{location!r} is not an install location; write nfs:server:/path, ftp://server/path or http://server/path"
        )
    return location


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


# --- the answers as a spec ------------------------------------------------------------------------


def volume_name(name: str) -> str:
    """``<name>-disk``, with what a volume name cannot have (':', a leading '-') made '_'."""
    return volume_name_from(f"{name}-disk")


def answers_to_desired(answers: Answers) -> DesiredState:
    """One domain booting with pygrub from one image-file volume, installing from the location."""
    disk = VolumeSpec(
        name=volume_name(answers.name),
        kind=VolumeKind.FILE,
        size=answers.disk_size,
        path=answers.disk,
    )
    domain = DomainSpec(
        name=answers.name,
        memory=answers.ram,
        bootloader=BOOTLOADER,
        disks=(DiskSpec(vdev=VDEV, mode="w", volume=disk.name),),
        vifs=(VifSpec(bridge=BRIDGE),),
        install=InstallSpec(location=answers.location),
        graphics=answers.graphics,
    )
    return DesiredState(domains=(domain,), volumes=(disk,))


def gigabytes(size: int) -> str:
    """A size in bytes as a number of GiB, exactly: ``8``, ``0.5``, ``1.25``."""
    text = format(Decimal(size) / GIB, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def flag_form(answers: Answers) -> str:
    """The ``xenctl new`` command line that gives the same answers."""
    words = [
        "xenctl", "new",
        "--name", answers.name,
        "--ram", str(answers.ram),
        "--disk", answers.disk,
        "--disk-size", gigabytes(answers.disk_size),
        "--graphics", "yes" if answers.graphics else "no",
        "--location", answers.location,
    ]  # fmt: skip
    return shlex.join(words)


def render_spec(answers: Answers) -> str:
    """The spec file's text: a header naming how it was made, then the YAML."""
    from xenctl.spec.dump import dump_spec

    header = (
        f"{answers.name}: made by xenctl new from virt-install's questions.\n"
        f"The same answers as flags: {flag_form(answers)}"
    )
    return dump_spec(answers_to_desired(answers), header=header)


# --- the command ----------------------------------------------------------------------------------


def host_limits(args: argparse.Namespace) -> Limits:
    """The storage root and guest memory of the host the command names, or of the built-in profile."""
    from xenctl.app.plans import host_capacity
    from xenctl.cli.context import host_of

    with host_of(args) as host:
        capacity = host_capacity(host)
    return Limits(storage_root=capacity.storage_root, guest_memory=capacity.guest_memory, source=capacity.source)


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


def _exists(out: str) -> XenctlError:
    return XenctlError(f"{out} already exists; give --force to replace it, or --out another file")


def write_spec(out: str, text: str, *, force: bool) -> None:
    """Write ``text`` to ``out``, making its directory; never replaces a file unless ``force``."""
    try:
        parent = os.path.dirname(out)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(out, "w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise _exists(out) from None
    except OSError as exc:
        raise XenctlError(f"{exc.filename or out}: cannot write the spec: {exc.strerror}") from None


def run_new(args: argparse.Namespace) -> int:
    limits = host_limits(args)
    values = parse_flags({q.key: getattr(args, q.key) for q in QUESTIONS}, limits)
    missing = [q for q in QUESTIONS if q.key not in values]
    if missing and not _stdin_is_terminal():
        flags = " ".join(q.flag for q in missing)
        raise UsageError(f"stdin is not a terminal to ask on; give the missing answers as flags: {flags}")
    if args.out is not None or "name" in values:  # refuse before asking; write_spec refuses again, without a race
        known = args.out if args.out is not None else default_out(values["name"])
        if not args.force and os.path.lexists(known):
            raise _exists(known)
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
