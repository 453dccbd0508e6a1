"""The plan cache: the rendered plan of specs and a host that have not changed since the last plan.

A plan is a pure function of the specs, the options, the autostart entries and the live state.
The first three are files and flags; the live state is summed up by the driver's
``change_token()``, which changes after every operation on the host and whenever a boot,
shutdown or save falls due by itself. When all four are as they were at the last plan, that
plan's output is the answer, and neither the host nor the specs need reading again. So it is
when the token moved but the host's change journal says all a plan sees is back as it was
(``Driver.unchanged_since``: a guest paused and resumed). A driver that cannot give a token
(None) is planned in full every time.

Beside the rendered plans, a basis for the next plan (``BasisStore``): the diff the last plan
was made from, the host's token and a record of each spec file (``spec.parted.FileRecord``), so
that a plan after an edit diffs again only what the edit touched and reads no file it did not
(``xenctl.reconcile.incremental``).

Kept under the xenctl home (``cache/plans``), a few entries at most; an unreadable entry is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xenctl.collector import collector_paused
from xenctl.spec.files import SpecFile, Stamp, code_stamp, read_specs

if TYPE_CHECKING:
    from xenctl.reconcile.incremental import Basis

KEEP = 8


class PlanCache:
    """The last rendered plan of each set of specs, options, form and autostart entries, with the
    host's change token it was made at."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def key(
        self, specs: list[SpecFile] | None, options: dict[str, Any], form: str, auto: str, outside_links: bool
    ) -> str | None:
        """Where the plan of the spec files ``specs`` (``SpecReads.read``) is kept, or None when
        it cannot be (unreadable specs); ``auto`` is the autostart directory, ``outside_links``
        whether its links may leave the xen root. The host's token is kept in the entry."""
        if specs is None:
            return None  # the plan itself says what is wrong with the files
        digest = hashlib.blake2b(digest_size=20)
        for part in (code_stamp(), json.dumps(options, sort_keys=True), form, auto, str(outside_links)):
            digest.update(part.encode())
            digest.update(b"\0")
        for spec in specs:  # by its real path: a plan says nothing of the name a file was given by
            digest.update(f"{spec.real}\0{spec.digest}\0".encode())
        digest.update(entries_stamp(auto).encode())
        return digest.hexdigest()

    def get(self, key: str, token: str, unchanged_since: Callable[[str], bool]) -> tuple[str, bool] | None:
        """The plan kept under ``key`` if the host is as it was then: the same token, or
        ``unchanged_since`` its token (the host's journal: a guest paused and resumed since)."""
        try:
            with open(os.path.join(self.directory, key + ".json"), encoding="utf-8") as stream:
                data = json.load(stream)
            made_at, output, actionable = str(data["token"]), str(data["output"]), bool(data["actionable"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
        if made_at != token:
            if not unchanged_since(made_at):
                return None
            self.put(key, token, output, actionable)  # the next plan finds it at once
        return output, actionable

    def put(self, key: str, token: str, output: str, actionable: bool) -> None:
        data = {"token": token, "output": output, "actionable": actionable}
        _keep(self.directory, key + ".json", json.dumps(data).encode())


class SpecReads:
    """The spec files at ``paths`` read for the plan cache's key, with what the last reads found of
    each (``files.read_specs``): a file unchanged since, by its stat, is not read again. Kept beside
    the plans, one record for each set of spec paths, written by ``save`` (a read makes nothing)."""

    def __init__(self, directory: str, paths: list[str]) -> None:
        self.directory = directory
        self.paths = paths
        self.last: list[SpecFile] | None = None
        self._stamps: dict[str, Stamp] | None = None
        self._saved: dict[str, Stamp] = {}
        self._name = ""

    def first(self) -> list[SpecFile] | None:
        """The files as the last read found them (a read now, when there was none)."""
        return self.last if self._stamps is not None else self.read()

    def read(self) -> list[SpecFile] | None:
        if self._stamps is None:
            given = "\0".join(os.path.realpath(path) for path in self.paths)
            self._name = "files-" + hashlib.blake2b(given.encode(), digest_size=20).hexdigest()
            self._stamps = _stamps(os.path.join(self.directory, self._name + ".stamps"))
            self._saved = dict(self._stamps)
        self.last = read_specs(self.paths, self._stamps)
        return self.last

    def save(self) -> None:
        """Keep what the reads found, if it is news."""
        if self._stamps is not None and self._stamps != self._saved:
            _keep(self.directory, self._name + ".stamps", json.dumps(self._stamps).encode())
            self._saved = dict(self._stamps)


def _stamps(path: str) -> dict[str, Stamp]:
    """The stamps kept at ``path``; none when there are none or they are not whole."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    stamps: dict[str, Stamp] = {}
    for name, stamp in data.items():
        if (
            isinstance(stamp, list)
            and len(stamp) == 8
            and all(type(part) is int for part in stamp[:6])
            and type(stamp[6]) is str
            and type(stamp[7]) is bool
        ):
            stamps[name] = tuple(stamp)  # its eight parts, checked above
    return stamps


class BasisStore:
    """The last plan's basis, one for each set of spec paths and options."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def name(self, paths: list[str], options: dict[str, Any], auto: str, outside_links: bool) -> str:
        digest = hashlib.blake2b(digest_size=20)
        given = [os.path.realpath(path) for path in paths]
        for part in (code_stamp(), json.dumps(options, sort_keys=True), auto, str(outside_links), *given):
            digest.update(part.encode())
            digest.update(b"\0")
        return "basis-" + digest.hexdigest()

    def get(self, name: str) -> Basis | None:
        import pickle

        from xenctl.reconcile.incremental import Basis  # the plan's modules: not for a cached plan

        try:
            with open(os.path.join(self.directory, name + ".pickle"), "rb") as stream, collector_paused():
                found = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            return None
        return found if isinstance(found, Basis) else None

    def put(self, name: str, basis: Basis) -> None:
        import pickle  # the plan's modules' need: not for a cached plan

        _keep(self.directory, name + ".pickle", pickle.dumps(basis, protocol=pickle.HIGHEST_PROTOCOL))


def _keep(directory: str, name: str, data: bytes) -> None:
    """Write one entry whole (a temporary file, then a rename), and prune the oldest of its kind."""
    with contextlib.suppress(OSError):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # a name of its own, made only if it is not there (as tempfile would, without its imports)
        temporary = os.path.join(directory, f".entry-{os.urandom(8).hex()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            os.replace(temporary, os.path.join(directory, name))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)  # a full disk leaves no half entry behind
            raise
        suffix = os.path.splitext(name)[1]
        entries = [e for e in os.scandir(directory) if e.name.endswith(suffix)]
        entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            with contextlib.suppress(OSError):
                os.unlink(old.path)


def entries_stamp(auto: str) -> str:
    """What the auto directory ``auto`` holds, as names and file stamps (a symlink's own and its target's)."""
    parts = []
    try:
        names = sorted(os.listdir(auto))
    except FileNotFoundError:
        return "no auto directory"
    for name in names:
        path = os.path.join(auto, name)
        stamps = [name]
        for look in (os.lstat, os.stat):
            try:
                info = look(path)
                stamps.append(f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}")
            except OSError:
                stamps.append("-")
        parts.append("/".join(stamps))
    return "\n".join(parts)
