"""Which files are spec files, what each holds (its digest, read again only once its stat moved),
and the stamp of this xenctl's code: what the plan cache needs to find a plan it made before,
without the spec loader (YAML, the model) that a cached plan skips."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

from xenctl import __version__
from xenctl.errors import SpecIssue

SPEC_SUFFIXES = (".yaml", ".yml")


def spec_files(paths: Sequence[str]) -> tuple[list[str], list[SpecIssue]]:
    """The spec files named by ``paths``: files as given, directories' ``*.yaml`` files by name."""
    files: list[str] = []
    issues: list[SpecIssue] = []
    for path in paths:
        if os.path.isdir(path):
            try:
                with os.scandir(path) as listing:  # its entries' kinds come with it: no stat each
                    found = sorted(
                        os.path.join(path, entry.name)
                        for entry in listing
                        if entry.name.endswith(SPEC_SUFFIXES) and not entry.name.startswith(".") and entry.is_file()
                    )
            except OSError as exc:
                issues.append(SpecIssue(path, None, None, "", f"cannot read the directory: {exc.strerror}"))
                continue
            if not found:
                issues.append(SpecIssue(path, None, None, "", "no *.yaml spec files in this directory"))
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            issues.append(SpecIssue(path, None, None, "", "no such file or directory"))
    unique = list(dict.fromkeys(os.path.normpath(f) for f in files))
    return unique, issues


def real_paths(files: Sequence[str]) -> list[str]:
    """``os.path.realpath`` of each file, each directory's worked out once: a file that is no
    symbolic link is its directory's real path and its name (``realpath`` looks at every part of
    every path: 5 system calls a file where one does)."""
    directories: dict[str, str] = {}
    reals = []
    for path in files:
        head, name = os.path.split(path)
        if name in ("", os.curdir, os.pardir) or os.path.islink(path):
            reals.append(os.path.realpath(path))
            continue
        real = directories.get(head)
        if real is None:
            real = directories[head] = os.path.realpath(head or os.curdir)
        reals.append(os.path.join(real, name))
    return reals


_HOSTS = re.compile(rb"^hosts\s*:", re.MULTILINE)


def declares_hosts(text: bytes) -> bool:
    """Whether a spec file's text declares ``hosts:`` (a top-level key, at a line's start): a fleet's."""
    # the plain search first: a line-anchored pattern over a large file is ten times slower
    return b"hosts" in text and _HOSTS.search(text) is not None


class SpecFile(NamedTuple):
    """A spec file as the plan cache knows it, without its text."""

    real: str  # its real path
    digest: str  # the SHA-256 of its bytes
    hosts: bool  # it declares hosts: (a fleet's spec)


# What a read found of each file, by path: its stat (device, inode, size, modification and change
# times), when it was read (ns), and what it found (the digest, the hosts: mark).
Stamp = tuple[int, int, int, int, int, int, str, bool]
STEADY_NS = 1_000_000_000  # a file unchanged this long before it was read is taken as read whole
# Filesystems whose stat is the kernel's own: on NFS, CIFS or a FUSE mount a file may show its old
# stat for seconds after another machine wrote it, so files there are read every time.
LOCAL_FILESYSTEMS = frozenset(
    ("ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "tmpfs", "ramfs", "overlay")
)


def read_specs(paths: Sequence[str], stamps: dict[str, Stamp]) -> list[SpecFile] | None:
    """Each spec file at ``paths``: its real path, its digest, its ``hosts:``; None when one is
    missing or cannot be read (the loader says why).

    ``stamps``: what an earlier read found, by path (made this read's: the files read now, what
    was found of them). A file on a local filesystem whose stat is what it was then, and that had
    not changed for a second when it was read, is not read again, as version control tools keep
    their index: every write to a file moves its change time, which no one can set back; a file
    written in the same tick of the clock as it was read could keep its stat, which the second
    rules out (as long as the clock is not set back by more than that between the two).
    """
    files, issues = spec_files(paths)
    if issues:
        return None
    found = []
    kinds: dict[int, str] | None = None
    try:
        for path, real in zip(files, real_paths(files), strict=True):
            info = os.stat(path)
            stat = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
            stamp = stamps.get(path)
            if stamp is not None and stamp[:5] == stat and stat[4] < stamp[5] - STEADY_NS:
                found.append(SpecFile(real, stamp[6], stamp[7]))
                continue  # (kept only for a file on a local filesystem: the same device still)
            now = time.time_ns()
            with open(path, "rb") as stream:
                data = stream.read()
            spec = SpecFile(real, hashlib.sha256(data).hexdigest(), declares_hosts(data))
            found.append(spec)
            if kinds is None:
                kinds = filesystem_types()
            if len(data) == info.st_size and kinds.get(info.st_dev) in LOCAL_FILESYSTEMS:
                stamps[path] = (*stat, now, spec.digest, spec.hosts)
            else:
                stamps.pop(path, None)
    except OSError:
        return None
    for gone in stamps.keys() - set(files):  # renamed, removed: not kept for ever
        del stamps[gone]
    return found


def filesystem_types() -> dict[int, str]:
    """The type of each mounted filesystem, by its device number (as a file's ``st_dev`` names
    it), from the kernel's table of this process's mounts; none where there is none. A file whose
    device is not there (a subvolume's own, a layer's out of sight) is taken as not local."""
    try:
        with open("/proc/self/mountinfo", "rb") as stream:
            lines = stream.read().splitlines()
    except OSError:
        return {}
    kinds = {}
    for line in lines:
        # ID, parent, major:minor, root, mount point, options, optional fields, "-", type, ...
        head, dash, tail = line.partition(b" - ")
        fields = head.split(b" ")
        if not dash or len(fields) < 5 or not tail:
            continue
        major, colon, minor = fields[2].partition(b":")
        if not (colon and major.isdigit() and minor.isdigit()):
            continue
        kinds[os.makedev(int(major), int(minor))] = tail.split(b" ", 1)[0].decode("ascii", "replace")
    return kinds


@cache
def code_stamp() -> str:
    """This xenctl: its version and the stamp of every module file, so a cache never outlives
    the code that wrote it (an upgrade, or an edit in a checkout, that kept the version number)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stamps = [__version__]
    for directory, _dirs, files in sorted(os.walk(package)):
        for name in sorted(files):
            if name.endswith(".py") or name.endswith(".json"):
                info = os.stat(os.path.join(directory, name))
                stamps.append(f"{directory[len(package) :]}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.blake2b("\n".join(stamps).encode(), digest_size=16).hexdigest()
