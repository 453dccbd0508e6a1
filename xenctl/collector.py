"""Pausing Python's cyclic garbage collector while many small acyclic objects are built.

Parsing a large spec file or reading a large host's state makes hundreds of thousands of small
objects that form no cycles; the collector would walk them again and again (tripling the time)
and find nothing. Shared by every layer, like ``errors`` and ``units``.

Values a caller keeps (a snapshot of the host) can also go straight to the collector's oldest
generation, where two young passes over every one of them would have taken them anyway (a young
pass over a 10,000-domain snapshot is a tenth of the time it took to read it). Done with care,
because the collector counts nothing moved that way toward its next full pass:

- the young garbage the caller had made is collected first (cheap: it is young), so no cycle of
  theirs is moved unexamined;
- a process that keeps running gets a full pass once a bound of moved objects is passed, so the
  cycles another thread made while the collector was paused cannot pile up;
- a caller that froze its objects itself (``gc.freeze``, a one-shot apply) keeps them frozen, and
  a caller that turned the collector off keeps it off (nothing to move then).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Objects moved to the oldest generation before a full pass is run: about ten snapshots of a
# 10,000-domain host. A full pass walks every live object, a few tens of milliseconds here.
PROMOTED_BOUND = 1_000_000

_promoted = 0
_lock = threading.Lock()


@contextmanager
def collector_paused(*, kept: bool = False) -> Iterator[None]:
    """The collector off for the block, then as it was (a caller that turned it off keeps it off).

    ``kept``: what the block makes is kept by the caller, and moved to the oldest generation."""
    was_enabled = gc.isenabled()
    promote = kept and was_enabled and gc.get_freeze_count() == 0
    if promote:
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if promote:
                _promote()
            gc.enable()


def _promote() -> None:
    """Move every young object to the oldest generation; a full pass past the bound."""
    global _promoted
    with _lock:
        if gc.get_freeze_count():  # another thread froze its objects meanwhile: leave them frozen
            return
        _promoted += gc.get_count()[0]
        gc.freeze()
        gc.unfreeze()
        due = _promoted > PROMOTED_BOUND
        if due:
            _promoted = 0
    if due:
        gc.collect()
