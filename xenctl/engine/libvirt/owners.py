"""xenctl's record of what it owns on a libvirt host where libvirt keeps no mark of its own.

A domain carries xenctl's mark in its ``<metadata>``; a storage pool or a volume has no field to
hold one, so xenctl keeps a small record beside the host's lock and event log (``owners.json``
under the host's state directory). Each entry is keyed by what libvirt cannot reuse for another
object: a pool by its UUID, a volume by its pool's UUID and its name, so a pool removed and made
again by hand (a new UUID) is not taken for xenctl's.

The record also holds the domains an ``import --from-host`` wrote a spec for (by UUID): such a
domain reads as xenctl's, with the spec's file as its source, though it carries no mark yet, so
the imported spec plans to no changes with no ``--adopt``. A domain of the same name made again by
hand has another UUID and reads as hand-made.

The file is written whole to a temporary file and renamed, so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable

from xenctl.engine.api import Owner

_KINDS = ("pools", "volumes", "domains")


class OwnersRecord:
    """The owners of pools, volumes and imported domains on one libvirt host."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "owners.json")

    def _read(self) -> dict[str, dict[str, list[str]]]:
        try:
            with open(self.path) as f:
                kept = json.load(f)
        except (OSError, ValueError):
            return {kind: {} for kind in _KINDS}
        if not isinstance(kept, dict):
            return {kind: {} for kind in _KINDS}
        return {kind: dict(kept[kind]) if isinstance(kept.get(kind), dict) else {} for kind in _KINDS}

    def owners(self, kind: str) -> dict[str, Owner]:
        """Every recorded owner of ``kind`` (pools, volumes, domains), by key."""
        found = {}
        for key, value in self._read()[kind].items():
            if isinstance(value, list) and len(value) == 2:
                found[key] = Owner(str(value[0]), str(value[1]))
        return found

    def set(self, kind: str, key: str, owner: Owner | None) -> None:
        self.set_many(kind, [(key, owner)])

    def set_many(self, kind: str, entries: Iterable[tuple[str, Owner | None]]) -> None:
        """Record (or, with None, forget) the owner of each key."""
        kept = self._read()
        for key, owner in entries:
            if owner is None:
                kept[kind].pop(key, None)
            else:
                kept[kind][key] = [owner.managed_by, owner.source]
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".owners.", dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(kept, f, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError:
            os.unlink(temporary)
            raise


def volume_key(pool_uuid: str, name: str) -> str:
    return f"{pool_uuid}/{name}"
