"""The answers a new guest takes, one validator a question: text in, value out, or ``BadAnswer``.

``xenctl new`` asks them on a terminal and the page's New VM wizard asks them in a form; both
validate here, so both refuse the same answers with the same reasons. Each validator takes the
text as typed (or given as a flag) and what the host allows (``Limits``), and returns the value or
raises ``BadAnswer`` whose message is the reason shown to the user. See ``xenctl.cli.wizard`` for
what each accepts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction

from xenctl.spec.schema import schema
from xenctl.units import MIB

MIN_RAM = 256  # MiB
MAX_DISK_GIB = 2048
MAX_VCPUS = 32  # Xen 3's MAX_VIRT_CPUS


class BadAnswer(ValueError):
    """An answer a question cannot take; the message is the reason, shown to the user."""


@dataclass(frozen=True)
class Limits:
    """What the host allows, for the validators: where image files live and the most RAM a guest can have."""

    storage_root: str = "/var/lib/xen/images"
    guest_memory: int | None = None  # MiB; None: no limit known
    source: str = "the host"
    hvm: bool = True  # the host can run fully virtualised guests (VT-x or AMD-V)


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
    if name.isdigit():
        raise BadAnswer(f"{name!r} is only digits, which xm would take for a domain id; add a letter")
    if name in (".", ".."):
        raise BadAnswer(f"{name!r} is not a name; use letters and digits")
    if name.startswith("-"):
        raise BadAnswer(f"{name!r} starts with '-', which xenctl's commands would take for an option")
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


def parse_hvm(text: str, limits: Limits | None = None) -> bool:
    """Fully virtualised or not: yes or no, and yes only on a host that can run such a guest."""
    wanted = parse_graphics(text, limits)
    if wanted and limits is not None and not limits.hvm:
        raise BadAnswer(
            f"{limits.source} cannot run fully virtualized guests (no VT-x or AMD-V); "
            "answer no for a paravirtualized one"
        )
    return wanted


_KICKSTART = re.compile(r"^(https?|ftp|nfs|file):[^\s]+$")


def parse_extra_args(text: str) -> tuple[str | None, str | None]:
    """virt-install's ``-x``: the installer's kernel arguments, as (kickstart URL, the other words).

    ``ks=URL`` names the kickstart file (http, https, ftp, nfs or file); the rest is kept as the
    domain's kernel command line."""
    words = text.split()
    if not text.isprintable():
        raise BadAnswer(f"{text!r} has a control or unprintable character; kernel arguments cannot")
    kickstarts = [word.removeprefix("ks=") for word in words if word.startswith("ks=")]
    if len(kickstarts) > 1:
        raise BadAnswer("ks= is given twice; give one kickstart file")
    if kickstarts and not _KICKSTART.match(kickstarts[0]):
        raise BadAnswer(f"ks={kickstarts[0]} is not a kickstart URL; write ks=http://server/path/ks.cfg")
    rest = " ".join(word for word in words if not word.startswith("ks="))
    return (kickstarts[0] if kickstarts else None), (rest or None)


def parse_vcpus(text: str, limits: Limits | None = None) -> int:
    """Virtual CPUs: a whole number from 1 to Xen's 32."""
    raw = text.strip()
    if not raw:
        raise BadAnswer("a number of virtual CPUs is needed, such as 1")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise BadAnswer(f"{_shorten(raw)!r} is not a whole number of virtual CPUs; write 1 or 2")
    vcpus = int(raw)
    if not 1 <= vcpus <= MAX_VCPUS:
        raise BadAnswer(f"{vcpus} virtual CPUs: a guest has from 1 to {MAX_VCPUS}")
    return vcpus


def _device_path(text: str, what: str, example: str) -> str:
    path = text.strip()
    if not path:
        raise BadAnswer(f"{what} is needed, such as {example}")
    if not path.isprintable():
        raise BadAnswer(f"{path!r} has a control or unprintable character; a path cannot")
    if not path.startswith("/") or ".." in path.split("/") or path.endswith("/"):
        raise BadAnswer(f"{_shorten(path)!r} is not {what}; give an absolute path such as {example}, without '..'")
    return path


def parse_iso(text: str, limits: Limits | None = None) -> str:
    """An installation ISO image in Domain-0: an absolute path to a ``.iso`` file."""
    path = _device_path(text, "an ISO image's path", "/var/lib/xen/images/install.iso")
    if not path.lower().endswith(".iso"):
        raise BadAnswer(f"{_shorten(path)!r} is not an ISO image; its name ends in .iso")
    return path


def parse_partition(text: str, limits: Limits | None = None) -> str:
    """A whole partition of Domain-0 for the guest's disk: ``/dev/hda3``."""
    path = _device_path(text, "a partition", "/dev/hda3")
    if not re.fullmatch(r"/dev/[A-Za-z0-9_./-]+", path):
        raise BadAnswer(f"{_shorten(path)!r} is not a partition; write its device, such as /dev/hda3")
    return path
