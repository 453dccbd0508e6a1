"""Which files are spec files, and the stamp of this xenctl's code: what the plan cache needs to
find a plan it made before, without the spec loader (YAML, the model) that a cached plan skips."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache

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
                names = os.listdir(path)
            except OSError as exc:
                issues.append(SpecIssue(path, None, None, "", f"cannot read the directory: {exc.strerror}"))
                continue
            found = sorted(
                os.path.join(path, name)
                for name in names
                if name.endswith(SPEC_SUFFIXES)
                and not name.startswith(".")
                and os.path.isfile(os.path.join(path, name))
            )
            if not found:
                issues.append(SpecIssue(path, None, None, "", "no *.yaml spec files in this directory"))
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            issues.append(SpecIssue(path, None, None, "", "no such file or directory"))
    unique = list(dict.fromkeys(os.path.normpath(f) for f in files))
    return unique, issues


SpecBytes = list[tuple[str, bytes]]


def read_specs(paths: Sequence[str]) -> SpecBytes | None:
    """Each spec file at ``paths`` by its real path, with its bytes; None when one is missing or
    cannot be read (the loader says why)."""
    files, issues = spec_files(paths)
    if issues:
        return None
    found = []
    try:
        for path in files:
            with open(path, "rb") as stream:
                found.append((os.path.realpath(path), stream.read()))
    except OSError:
        return None
    return found


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
