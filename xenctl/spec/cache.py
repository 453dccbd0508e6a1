"""The spec cache: validated models of spec files, so an unchanged file is not parsed again."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
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

    def _key(self, path: str, text: str) -> str:
        digest = hashlib.blake2b(digest_size=20)
        for part in (__version__, _schema_text(), os.path.abspath(path), text):
            digest.update(part.encode())
            digest.update(b"\0")
        return os.path.join(self.directory, digest.hexdigest() + ".pickle")

    def get(self, path: str, text: str) -> DesiredState | None:
        try:
            with open(self._key(path, text), "rb") as stream:
                found = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            return None
        return found if isinstance(found, DesiredState) else None

    def put(self, path: str, text: str, model: DesiredState) -> None:
        target = self._key(path, text)
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
def _schema_text() -> str:
    return json.dumps(schema(), sort_keys=True)
