"""When a burst of file events may be acted on: at once once its files are whole, never while one is
still being written.

The kernel says when a writer is done with a file: inotify's IN_CLOSE_WRITE (watchdog's
``closed`` event) after the last write, a rename into place (``moved``), a removal. So a file
becomes ready when its writer has closed it (or it was moved in whole) *and* it reads as a whole
file (``complete``: it parses, and its last line is finished); the burst is acted on once every
file it touched is ready and no event has come for ``quiet`` seconds (tens of milliseconds:
enough to take in the rest of a burst, such as an editor's rename after its write).

- A file written and not closed yet (``modified`` after its last ``closed``) is never ready: its
  writer is still at it, however long that takes (a writer that dies is closed by the kernel).
- A file just made and still empty waits for its writer's first write, as the same.
- A file closed (or moved in) that does not read as whole gets ``grace`` seconds for a second
  write (a writer that writes in two goes), then the burst is acted on anyway, so that what is
  wrong with it is reported.
- The file is read ahead of its events: one whose stat changed since its last event has events
  still on their way, and is not ready; one unchanged since a burst acted on it (the events of
  the write that burst already saw, coming late) is not acted on again.
- Where the observer reports no closes (no inotify), a file counts as written only once no event
  has come for ``fallback`` seconds, as a plain debounce does.
- Events keep coming, never ``quiet`` apart, for longer than ``patience`` (a file rewritten all
  the time): the burst is acted on as soon as every file in it is ready, quiet or not.

``Burst`` is a pure value driven by the caller's clock, so the tests run it on virtual time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

GONE = "gone"  # deleted or moved away: nothing to wait for
WRITING = "writing"  # written to since its last close: its writer is still at it
MADE = "made"  # created or moved in from elsewhere, no write seen since
CLOSED = "closed"  # its writer closed it, or it was renamed into place whole

# watchdog's event types, and the state each leaves its path in (``moved``: the source is gone,
# the destination is whole).
STATES = {"deleted": GONE, "modified": WRITING, "created": MADE, "closed": CLOSED}


@dataclass
class _Path:
    state: str
    at: float  # when its last event came
    seen: object = None  # its signature then


@dataclass
class Burst:
    """The paths a burst of events touched, and whether it may be acted on yet (see the module)."""

    complete: Callable[[str], bool]  # the file at the path reads as whole (or is not there)
    empty: Callable[[str], bool]  # the file at the path has nothing in it yet
    signature: Callable[[str], object] | None = None  # what changes with every write (stat)
    quiet: float = 0.05
    grace: float = 2.0
    patience: float = 3.0
    closes: bool = True  # the observer reports closes (inotify)
    fallback: float = 1.0  # without closes: the quiet period a write needs
    paths: dict[str, _Path] = field(default_factory=dict)
    acted: dict[str, object] = field(default_factory=dict)  # each path's signature when last taken
    began: float | None = None
    last: float = 0.0
    streak: float = 0.0  # when events began to come with no quiet period between them

    def __bool__(self) -> bool:
        return self.began is not None

    def event(self, kind: str, path: str, now: float, dest: str = "") -> None:
        """Take in one event: ``kind`` is watchdog's event type, ``dest`` a move's destination."""
        if kind == "moved":
            if path:
                self._touch(path, GONE, now)
            if dest:
                self._touch(dest, CLOSED, now)
            return
        state = STATES.get(kind)
        if state is None:
            return
        before = self.paths.get(path)
        if state == MADE and before is not None and before.state == WRITING:
            state = WRITING  # created again under a writer that has not closed it
        self._touch(path, state, now)

    def touch(self, now: float) -> None:
        """Something changed that has no file to wait for (a directory made anew)."""
        if self.began is None or now - self.last >= self.quiet:
            self.streak = now
        self.began = now if self.began is None else self.began
        self.last = now

    def _touch(self, path: str, state: str, now: float) -> None:
        self.paths[path] = _Path(state, now, self.signature(path) if self.signature else None)
        self.touch(now)

    def ready(self, now: float) -> bool:
        """Whether the burst may be acted on at ``now``."""
        if self.began is None:
            return False
        if now - self.last < self.quiet and now - self.streak < self.patience:
            return False
        return all(self._whole(path, entry, now) for path, entry in self.paths.items())

    def _whole(self, path: str, entry: _Path, now: float) -> bool:
        if self.signature is not None and self.signature(path) != entry.seen:
            return False  # written since its last event: the events of that write are on their way
        if entry.state == GONE:
            return True
        if self.closes:
            if entry.state == WRITING:
                return False
            if entry.state == MADE and self.empty(path):
                return False  # made, its first write still to come
        elif now - entry.at < self.fallback:
            return False
        return self.complete(path) or now - entry.at >= self.grace

    def wait(self, now: float) -> float | None:
        """Seconds until the burst should be looked at again (None: nothing pending)."""
        if self.began is None:
            return None
        return max(0.0, min(self.quiet - (now - self.last), self.quiet))

    def take(self) -> list[str]:
        """The paths to act on (touched, and not as they were when last acted on), and the burst
        emptied for the next one."""
        paths = sorted(self.paths)
        if self.signature is not None:
            signatures = {path: self.paths[path].seen for path in paths}
            paths = [p for p in paths if p not in self.acted or self.acted[p] != signatures[p]]
            self.acted.update(signatures)
        self.paths = {}
        self.began = None
        return paths
