"""Pausing Python's cyclic garbage collector while many small acyclic objects are built.

Parsing a large spec file or reading a large host's state makes hundreds of thousands of small
objects that form no cycles; the collector would walk them again and again (tripling the time)
and find nothing. Shared by every layer, like ``errors`` and ``units``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block, then as it was (a caller that turned it off keeps it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
