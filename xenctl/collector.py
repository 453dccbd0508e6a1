"""Pausing Python's cyclic garbage collector while many small acyclic objects are built.

Parsing a large spec file or reading a large host's state makes hundreds of thousands of small
objects that form no cycles; the collector would walk them again and again (tripling the time)
and find nothing. Shared by every layer, like ``errors`` and ``units``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Fewer new objects than this are left to the young collections, as usual.
PROMOTED = 20_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block, then as it was (a caller that turned it off keeps it off).

    A block that made many objects has them moved to the oldest generation, unscanned
    (``gc.freeze`` then ``gc.unfreeze``: frozen objects go back to the oldest generation, as
    documented). Else the first allocation after the block would walk them all in a young
    collection, and again in the next: a snapshot of 10,000 guests spent a tenth of its time
    there, finding nothing. What else was young then goes along, and a cycle among it waits for
    the next full collection rather than a young one."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > PROMOTED:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
