"""A libvirt host's autostart entries: xenctl's entries (with their ordering), each mirrored as
libvirt's autostart flag on its domain (``xenctl.engine.libvirt.autostart``).

The entries themselves stay xenctl's, in the host's own directory (a libvirt host has no
``/etc/xen/auto``): libvirt's flag holds no order, and ``libvirt-guests`` starts and stops flagged
domains in no order, so ``xenctl boot`` and ``halt`` go by the entries' dependency order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from xenctl.xmconfig.auto import AutoDir, Broken, Entry

UNFLAGGED = ":libvirt-autostart-flag-off"  # marks the digest of an entry whose domain lost the flag


@dataclass(frozen=True)
class FlaggedAutoDir(AutoDir):
    """An auto directory whose writes and removals also set and clear libvirt's flag through
    ``flag(domain, on)``."""

    flag: Callable[[str, bool], object] | None = field(default=None, compare=False)
    unflagged: Callable[[], frozenset[str]] | None = field(default=None, compare=False)

    def read(self) -> tuple[tuple[Entry, ...], tuple[Broken, ...]]:
        """The entries; one whose domain is defined without libvirt's flag (cleared by hand)
        reads as differing from what its spec writes, so the next plan writes it again and sets
        the flag."""
        entries, broken = super().read()
        off = self.unflagged() if self.unflagged is not None else frozenset()
        marked = tuple(replace(e, digest=e.digest + UNFLAGGED) if e.managed and e.domain in off else e for e in entries)
        return marked, broken

    def write(self, file: str, text: str) -> None:
        before = self._domain_of(file)
        super().write(file, text)
        after = self._domain_of(file)
        if self.flag is not None:
            if before is not None and before != after:
                self.flag(before, False)  # the entry now starts another domain
            if after is not None:
                self.flag(after, True)

    def remove(self, file: str) -> None:
        domain = self._domain_of(file)
        super().remove(file)
        if self.flag is not None and domain is not None:
            self.flag(domain, False)

    def _domain_of(self, file: str) -> str | None:
        found = self.read_one(file) if file in self.names() else None
        return found.domain if isinstance(found, Entry) else None
