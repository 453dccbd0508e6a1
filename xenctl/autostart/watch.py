"""``xenctl watch``: keep the host booted and the specs applied as files change.

The watcher (watchdog) sees the auto directory and the spec directories. Events come in bursts
(an editor writes a temporary file, renames it, touches a backup), so they are debounced: the
watcher acts once nothing has moved for ``quiet`` seconds (or ``patience`` after the first event
of a burst, so a file written all the time cannot starve it), on everything the burst touched.
A spec file whose last line is unfinished (no final newline) is most likely still being written:
it gets ``grace`` seconds more. Editors' and packages' passing files (``temporary_file_name``)
and mere reads (xenctl's own, too) never count.

- The auto directory changed: at a booted boot runlevel, new entries start, in order (through
  ``boot(only=...)``); a removed entry stops nothing and is reported; a broken one is reported.
- A spec changed: the specs are planned and applied by the caller's ``apply`` (the same code as
  ``xenctl apply``, never with ``--destroy-data``). Specs that do not load are reported and
  nothing is applied: the host keeps the last good state, and the next save tries again.

``Watcher`` does the deciding and is driven by ``handle`` (so tests need no threads);
``run`` adds the observer, the debounce loop and the stop signal: the action in flight
finishes, and nothing new starts.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from xenctl.autostart.runlevels import BOOT_LEVELS, Report
from xenctl.engine.api import HostInfo
from xenctl.errors import XenctlError
from xenctl.filenames import temporary_file_name
from xenctl.xmconfig.auto import AutoDir, Broken, Entry

SPEC_SUFFIXES = (".yaml", ".yml")
CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})  # not opened, not closed_no_write


@dataclass
class Batch:
    """What one burst of events touched."""

    auto: bool = False
    specs: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.auto or bool(self.specs)


class Watcher:
    """What to do about a batch of changes. The callables are the commands' own code paths:
    ``host()`` reads the host, ``boot_new(files)`` boots those entries, ``apply()`` plans and
    applies the specs (raising XenctlError for specs that do not load), ``say`` reports."""

    def __init__(
        self,
        auto: AutoDir,
        spec_dirs: Iterable[str],
        *,
        host: Callable[[], HostInfo],
        boot_new: Callable[[set[str]], Report | None],
        apply: Callable[[], Any] | None,
        say: Callable[[str], None],
    ) -> None:
        self.auto = auto
        self.spec_dirs = [os.path.abspath(d) for d in spec_dirs]
        self.host = host
        self.boot_new = boot_new
        self.apply = apply
        self.say = say
        entries, broken = self.auto.read()
        self.known: dict[str, str] = _stamps(entries, broken)
        self.managed: set[str] = _managed(entries, broken)  # the entries an apply writes and removes

    def classify(self, path: str) -> Batch:
        """The batch one event's path belongs to (empty: not ours to act on)."""
        name = os.path.basename(path)
        if not name or temporary_file_name(name):
            return Batch()
        full = os.path.abspath(path)
        if os.path.dirname(full) == os.path.abspath(self.auto.path):
            return Batch(auto=True)
        if name.endswith(SPEC_SUFFIXES) and any(full == d or full.startswith(d + os.sep) for d in self.spec_dirs):
            return Batch(specs={full})
        return Batch()

    def handle_specs_now(self) -> None:
        """Apply the specs as they are (on start, before any change)."""
        if self.apply is not None:
            self._apply(set())

    def handle(self, batch: Batch) -> None:
        if batch.auto:
            self._entries()  # what was dropped in by hand, before an apply writes its own
        if batch.specs and self.apply is not None:
            self._apply(batch.specs)

    def _applied(self) -> None:
        """Entries the watcher's own apply wrote or removed are the specs' business: an apply
        starts and stops their domains as the specs say (a domain declared stopped stays so).

        Only those are taken as known: an apply writes and removes managed entries alone, so a
        hand-placed entry dropped in while it ran (or just before) is still new to ``_entries``,
        which starts it when its events come; a hand-placed one changed or removed meanwhile is
        still reported so.
        """
        entries, broken = self.auto.read()
        now = _stamps(entries, broken)
        managed = _managed(entries, broken)
        kept = {file: stamp for file, stamp in self.known.items() if file not in managed and file not in self.managed}
        self.known = {**kept, **{file: now[file] for file in managed}}
        self.managed = managed

    def _apply(self, changed: set[str]) -> None:
        what = f"specs changed ({', '.join(sorted(_shown(p) for p in changed))})" if changed else "specs"
        info = self.host()
        if info.runlevel not in BOOT_LEVELS:
            self.say(f"{what}: the host is at runlevel {info.runlevel}, so not applying")
            return
        self.say(f"{what}: planning")
        try:
            assert self.apply is not None
            self.apply()
        except XenctlError as exc:
            self.say(f"not applied; the host keeps the last good state:\n{exc.message}")
        finally:
            self._applied()

    def _entries(self) -> None:
        entries, broken = self.auto.read()
        now = _stamps(entries, broken)
        before, self.known = self.known, now
        self.managed = _managed(entries, broken)
        for file in sorted(set(before) - set(now)):
            self.say(f"entry {file} removed: its domain keeps running; it will not start at the next boot")
        new = {f for f in now if f not in before}
        changed = {f for f in now if f in before and before[f] != now[f]}
        for bad in broken:
            if bad.file in new or bad.file in changed:
                self.say(f"entry {bad.file} is broken, and skipped: {bad.reason}")
        mended = {f for f in changed if before[f].startswith("broken: ")}
        for file in sorted(changed - mended - {b.file for b in broken}):
            self.say(f"entry {file} changed: its domain runs on as it is; the change counts from its next start")
        startable = {e.file for e in entries if e.file in new or e.file in mended}
        if not startable:
            return
        info = self.host()
        if info.runlevel not in BOOT_LEVELS or not info.booted:
            listed = ", ".join(sorted(startable))
            self.say(f"new entries ({listed}) start at the next boot: the host is at runlevel {info.runlevel}")
            return
        try:
            self.boot_new(startable)
        except XenctlError as exc:
            self.say(f"could not start new entries: {exc.message}")


def _managed(entries: Iterable[Entry], broken: Iterable[Broken]) -> set[str]:
    return {e.file for e in entries if e.managed} | {b.file for b in broken if b.managed}


def _stamps(entries: Iterable[Entry], broken: Iterable[Broken]) -> dict[str, str]:
    """Each entry's file name -> its digest, or why it is broken."""
    found = {e.file: e.digest for e in entries}
    found.update((b.file, "broken: " + b.reason) for b in broken)
    return found


def run(
    watcher: Watcher,
    *,
    stop: threading.Event,
    quiet: float = 1.0,
    patience: float = 3.0,
    grace: float = 2.0,
    ready: Callable[[], None] | None = None,
) -> None:
    """Watch until ``stop`` is set: act on each burst of events once it settles."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    events: queue.Queue[str] = queue.Queue()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.is_directory and event.event_type == "deleted":
                directories.gone(os.fsdecode(event.src_path))  # a watched directory itself, perhaps
            if event.is_directory or event.event_type not in CHANGES:
                return  # reading a file (xenctl's own reads too) is no change
            for path in (event.src_path, getattr(event, "dest_path", "")):
                if path:
                    events.put(os.fsdecode(path))

    os.makedirs(watcher.auto.path, exist_ok=True)
    observer = Observer()
    handler = Handler()
    directories = Directories(observer, handler)
    directories.watch(os.path.abspath(watcher.auto.path), recursive=False)
    for directory in watcher.spec_dirs:
        directories.watch(directory, recursive=True)
    observer.start()
    if ready is not None:
        ready()
    try:
        while not stop.is_set():
            try:
                batch = watcher.classify(events.get(timeout=0.2))
            except queue.Empty:
                # A directory removed and made again (rsync --delete, rm -rf and a copy, a swapped
                # symlink) is a new one to the kernel: watch it anew, and read it as changed.
                batch = Batch()
                for directory in directories.recreated():
                    is_auto = directory == os.path.abspath(watcher.auto.path)
                    batch = _merge(batch, Batch(auto=True) if is_auto else Batch(specs={directory}))
                if not batch:
                    continue
            batch = _settle(events, watcher, batch, quiet, patience)
            if unfinished(batch.specs):  # half a file: give the writer time to finish it
                batch = _settle(events, watcher, batch, grace, grace)
            if batch and not stop.is_set():
                try:
                    watcher.handle(batch)
                except XenctlError as exc:  # the host or a directory unreadable for now: say so, watch on
                    watcher.say(f"Error: {exc.message}")
    finally:
        observer.stop()
        observer.join(timeout=5)


class Directories:
    """The directories watched, each by its identity (device and inode) when it was scheduled."""

    def __init__(self, observer: Any, handler: Any) -> None:
        self.observer = observer
        self.handler = handler
        self.watched: dict[str, tuple[tuple[int, int] | None, Any, bool]] = {}
        self.lost: set[str] = set()  # removed since they were scheduled (a new one may reuse the inode)
        self.lock = threading.Lock()

    def gone(self, path: str) -> None:
        path = os.path.abspath(path)
        with self.lock:
            if path in self.watched:
                self.lost.add(path)

    def watch(self, directory: str, *, recursive: bool) -> None:
        identity = _identity(directory)
        scheduled = self.observer.schedule(self.handler, directory, recursive=recursive) if identity else None
        self.watched[directory] = (identity, scheduled, recursive)

    def recreated(self) -> list[str]:
        changed = []
        for directory, (identity, scheduled, recursive) in list(self.watched.items()):
            now = _identity(directory)
            with self.lock:
                lost = directory in self.lost
            if now == identity and not lost:
                continue
            if now is None and lost:
                continue  # not there yet: look again later
            with self.lock:
                self.lost.discard(directory)
            if scheduled is not None:
                with contextlib.suppress(KeyError, OSError):
                    self.observer.unschedule(scheduled)
            with contextlib.suppress(OSError):
                self.watch(directory, recursive=recursive)
            changed.append(directory)
        return changed


def _identity(directory: str) -> tuple[int, int] | None:
    try:
        info = os.stat(directory)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _settle(events: queue.Queue[str], watcher: Watcher, batch: Batch, quiet: float, patience: float) -> Batch:
    """Take in events until none has come for ``quiet`` seconds, or ``patience`` has passed."""
    began = last = time.monotonic()
    while time.monotonic() - began < patience:
        try:
            path = events.get(timeout=max(0.0, quiet - (time.monotonic() - last)))
        except queue.Empty:
            break
        batch = _merge(batch, watcher.classify(path))
        last = time.monotonic()
    return batch


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def unfinished(paths: Iterable[str]) -> list[str]:
    """Spec files whose last line is not finished yet: no final newline (still being written,
    most likely; a file saved so for good is applied once it has stood still a while)."""
    found = []
    for path in paths:
        try:
            with open(path, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                if stream.tell() == 0:
                    continue
                stream.seek(-1, os.SEEK_END)
                if stream.read(1) != b"\n":
                    found.append(path)
        except OSError:
            continue  # gone or unreadable: the load says so
    return found


def _merge(a: Batch, b: Batch) -> Batch:
    return Batch(a.auto or b.auto, a.specs | b.specs)
