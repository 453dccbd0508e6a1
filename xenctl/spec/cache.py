"""The spec cache: validated models of spec files, so an unchanged file is not parsed again.

Two kinds of entry: one file's model (schema-checked, before the checks across files), and an
empty marker saying that a whole set of files passed the checks across files against one host's
capacity, so a plan over specs unchanged since the last one skips them. The marker is a name, not
a copy of the merged state: writing 10,000 domains again after each edit would cost more than
merging the files' models does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
from collections.abc import Sequence
from functools import cache

from xenctl.collector import collector_paused
from xenctl.spec.checks import summarize
from xenctl.spec.compact import whole_objects
from xenctl.spec.files import code_stamp
from xenctl.spec.model import DesiredState
from xenctl.spec.parted import Facts, index_of
from xenctl.spec.schema import schema


class SpecCache:
    """Validated models of spec files, by their text's hash and this xenctl's version.

    Kept under the xenctl home (``cache/specs``), which only its user can read or write; a
    model is trusted as the host file is. An unreadable entry is ignored and rebuilt.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _key(self, *parts: str) -> str:
        """Files enter by their real path: ``plan specs``, ``plan ./specs`` and ``plan /abs/specs``
        (or a symlink to it) share one entry. Models carry the name as given, in every origin and
        so in every message: a model read back under another name is renamed (``kept_at``)."""
        digest = _key_start().copy()
        for part in parts:
            digest.update(part.encode())
            digest.update(b"\0")
        return os.path.join(self.directory, digest.hexdigest() + ".pickle")

    def _whole_key(self, entries: Sequence[str], checked_against: str) -> str:
        # each entry is a digest of its file's real path, its text and this xenctl already
        return self._key("checked", checked_against, str(len(entries)), *entries)

    def entry(self, real: str, text: str) -> str:
        """Where the model of this text of the file at real path ``real`` is kept (whether or not it is there)."""
        return self._key(real, text)

    def model_at(self, entry: str) -> DesiredState | None:
        """The model kept at ``entry``, or None if it is gone (pruned) or unreadable."""
        return self.kept_at(entry)[0]

    def kept_at(self, entry: str, name: str | None = None) -> tuple[DesiredState | None, Facts | None]:
        """The model kept at ``entry`` and its facts (None, None if there is none); with ``name``,
        the model names that file (kept under another name for it, it is renamed)."""
        if os.path.dirname(entry) != self.directory:
            return None, None
        model, facts = self._load(entry)
        if model is not None and name is not None and model.files != (name,):
            _rename(model, name)
        return model, facts

    def put(self, path: str, text: str, model: DesiredState) -> Facts:
        """Keep the model of this text of ``path`` and its facts, worked out here from the model
        just built: its structure's digest (what the checks across files read of it), its summary
        (what the checks of each object and of memory need of it) and its index (what a later
        plan asks of it without reading it)."""
        facts = Facts(structure(model), summarize(model), index_of(model))
        self._store(self.entry(os.path.realpath(path), text), model, facts)
        return facts

    def passed_checks(self, entries: Sequence[str], checked_against: str) -> bool:
        """Whether exactly the files of these entries (``entry``), in this order, passed the
        checks across files against ``checked_against``."""
        return os.path.exists(self._whole_key(entries, checked_against))

    def mark_checked(self, entries: Sequence[str], checked_against: str) -> None:
        self._mark(self._whole_key(entries, checked_against))

    def passed_structure_checks(self, structures: Sequence[str], storage_root: str) -> bool:
        """Whether files of exactly these structures, in this order, passed the checks that look
        across objects (names, references, cycles, devices) with this storage root."""
        return all(structures) and os.path.exists(self._structure_key(structures, storage_root))

    def mark_structure_checked(self, structures: Sequence[str], storage_root: str) -> None:
        if all(structures):
            self._mark(self._structure_key(structures, storage_root))

    def _structure_key(self, structures: Sequence[str], storage_root: str) -> str:
        return self._key("structure", storage_root, str(len(structures)), *structures)

    def _mark(self, target: str) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            with open(target, "wb"):
                pass
        except OSError:
            return  # a cache that cannot be written only costs time

    def _load(self, entry: str) -> tuple[DesiredState | None, Facts | None]:
        try:
            with open(entry, "rb") as stream, collector_paused():  # a file's objects: acyclic, thousands
                found = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            return None, None
        if not (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], DesiredState)):
            return None, None
        return (found[0], found[1]) if isinstance(found[1], Facts) else (None, None)

    def _store(self, target: str, model: DesiredState, facts: Facts) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as stream:
                pickle.dump((model, facts), stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError:
            return  # a cache that cannot be written only costs time

    def prune(self, keep: int) -> None:
        try:
            entries = sorted(
                (e for e in os.scandir(self.directory) if e.name.endswith(".pickle")),
                key=lambda e: e.stat().st_mtime,
            )
            for entry in entries[:-keep] if len(entries) > keep else []:
                os.unlink(entry.path)
        except OSError:
            return


def structure(model: DesiredState) -> str:
    """The digest of what the checks across objects read of one file's model: every name, each
    domain's disks, NFS root, address, power state and dependencies, and its volumes, groups,
    exports and autostart entries whole. A file edited elsewhere (a domain's memory, vCPUs or
    kernel) keeps its structure: a set of files whose structures passed those checks passes
    them again, and only the checks of single objects and of memory run.

    Worked out from a model just built (the same text always builds the same objects, so the
    same bytes), never from one read back from the cache."""
    shape = (
        [(d.name, d.disks, d.nfs_root, d.ip, d.state.value, d.depends_on, d.host) for d in model.domains],
        model.hosts,
        model.volume_groups,
        model.volumes,
        model.nfs_exports,
        model.autostart,
    )
    written = io.BytesIO()
    pickler = pickle.Pickler(written, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = whole_objects()  # a digest, never read back: no fields left out, no time spent
    pickler.dump(shape)
    return hashlib.blake2b(written.getbuffer(), digest_size=16).hexdigest()


def _rename(model: DesiredState, name: str) -> None:
    """Make a model just read from the cache name its file ``name``: every origin, and its files.

    In place: the objects were made by this read and nobody else holds them, and setting one
    field of each is far cheaper than building 40,000 objects again (a frozen dataclass is set
    the way its own ``__init__`` sets it)."""
    named = model.files[0] if len(model.files) == 1 else None
    for kind in (model.domains, model.volume_groups, model.volumes, model.nfs_exports, model.autostart, model.hosts):
        for item in kind:
            if item.origin.file == named:  # never the shared default origin of an object made elsewhere
                object.__setattr__(item.origin, "file", name)
    object.__setattr__(model, "files", (name,))


@cache
def _key_start() -> hashlib.blake2b:
    """Every key's start, hashed once: this xenctl and its schema (the schema is 30 KB of text)."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (code_stamp(), _schema_text()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest


@cache
def _schema_text() -> str:
    return json.dumps(schema(), sort_keys=True)
