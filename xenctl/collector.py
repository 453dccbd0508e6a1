"""Pausing Python's cyclic garbage collector while many small acyclic objects are built.

Parsing a large spec file or reading a large host's state makes hundreds of thousands of small
objects that form no cycles; the collector would walk them again and again (tripling the time)
and find nothing. Shared by every layer, like ``errors`` and ``units``.

The collector is off while any block is open, in any thread, and back on when the last one
closes (if it was on when the first opened): threads that pause it at once never leave it off.

Values a caller keeps (a snapshot of the host) can also go straight to the collector's oldest
generation, where two young passes over every one of them would have taken them anyway (a young
pass over a 10,000-domain snapshot is a tenth of the time it took to read it). The collector
counts nothing moved that way toward its next full pass, and moves everything young, so it is
done only where nothing else can be among what is moved:

- in a process with no other thread (another thread's cycles, dropped while the collector was
  paused, would be moved unexamined and kept until a full pass);
- after the young garbage the caller had made is collected (cheap: it is young);
- when the block ended without an exception (whose traceback is a cycle);
- never when a caller froze its objects itself (``gc.freeze``, a one-shot apply), nor when the
  collector was off.

A full pass runs once a bound of moved objects is passed, for what the block itself may have
made and dropped.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Objects moved to the oldest generation before a full pass is run: about ten snapshots of a
# 10,000-domain host. A full pass walks every live object, a few tens of milliseconds here.
PROMOTED_BOUND = 1_000_000

_lock = threading.RLock()  # a finalizer run by a collection may open a block of its own
_open = 0  # blocks open, in every thread
_restore = False  # whether the collector was on when the first of them opened
_promoted = 0


@contextmanager
def collector_paused(*, kept: bool = False) -> Iterator[None]:
    """The collector off for the block, then as it was (a caller that turned it off keeps it off).

    ``kept``: what the block makes is kept by the caller, and moved to the oldest generation
    where that is safe (see the module's docstring)."""
    global _open, _restore
    with _lock:
        if _open == 0:
            _restore = gc.isenabled()
            gc.disable()
        _open += 1
        promote = kept and _open == 1 and _restore and _alone()
    if promote:
        gc.collect(1)
    ended = full = False
    try:
        yield
        ended = True
    finally:
        with _lock:
            _open -= 1
            if _open == 0 and _restore:
                if promote and ended and _alone():
                    full = _promote()
                gc.enable()
        if full:
            gc.collect()


def _alone() -> bool:
    """No other thread runs, and no caller froze its objects."""
    return threading.active_count() == 1 and gc.get_freeze_count() == 0


def _promote() -> bool:
    """Move every young object to the oldest generation; whether a full pass is due."""
    global _promoted
    _promoted += gc.get_count()[0]
    gc.freeze()
    gc.unfreeze()
    if _promoted <= PROMOTED_BOUND:
        return False
    _promoted = 0
    return True
