"""The spec cache: validated models of spec files, so an unchanged file is not parsed again.

Two kinds of entry: one file's model (schema-checked, before the checks across files), and an
empty marker saying that a whole set of files passed the checks across files against one host's
capacity, so a plan over specs unchanged since the last one skips them. The marker is a name, not
a copy of the merged state: writing 10,000 domains again after each edit would cost more than
merging the files' models does.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Sequence
from functools import cache

from xenctl import __version__
from xenctl.spec.model import DesiredState
from xenctl.spec.schema import schema


class SpecCache:
    """Validated models of spec files, by their text's hash and this xenctl's version.

    Kept under the xenctl home (``cache/specs``), which only its user can read or write; a
    model is trusted as the host file is. An unreadable entry is ignored and rebuilt.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _key(self, *parts: str) -> str:
        """Files enter by the name given as well as the absolute path: models carry the name (in
        every origin, so in every message), and ``specs/a.yaml`` must not come back absolute."""
        digest = _key_start().copy()
        for part in parts:
            digest.update(part.encode())
            digest.update(b"\0")
        return os.path.join(self.directory, digest.hexdigest() + ".pickle")

    def _whole_key(self, texts: Sequence[tuple[str, str]], checked_against: str) -> str:
        files = [part for path, text in texts for part in (path, os.path.abspath(path), text)]
        return self._key("checked", checked_against, str(len(texts)), *files)

    def entry(self, path: str, text: str) -> str:
        """Where the model of this text of ``path`` is kept (whether or not it is there)."""
        return self._key(path, os.path.abspath(path), text)

    def model_at(self, entry: str) -> DesiredState | None:
        """The model kept at ``entry``, or None if it is gone (pruned) or unreadable."""
        return self._load(entry) if os.path.dirname(entry) == self.directory else None

    def put(self, path: str, text: str, model: DesiredState) -> None:
        self._store(self._key(path, os.path.abspath(path), text), model)

    def passed_checks(self, texts: Sequence[tuple[str, str]], checked_against: str) -> bool:
        """Whether exactly these files passed the checks across files against ``checked_against``."""
        return os.path.exists(self._whole_key(texts, checked_against))

    def mark_checked(self, texts: Sequence[tuple[str, str]], checked_against: str) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            with open(self._whole_key(texts, checked_against), "wb"):
                pass
        except OSError:
            return  # a cache that cannot be written only costs time

    def _load(self, entry: str) -> DesiredState | None:
        try:
            with open(entry, "rb") as stream:
                found = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            return None
        return found if isinstance(found, DesiredState) else None

    def _store(self, target: str, model: DesiredState) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as stream:
                pickle.dump(model, stream, protocol=pickle.HIGHEST_PROTOCOL)
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
