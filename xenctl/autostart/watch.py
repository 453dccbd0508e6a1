"""``xenctl watch``: keep the host booted and the specs applied as files change.

The watcher (watchdog) sees the auto directory and the spec directories. A burst of events is
acted on as soon as every file it touched is whole: closed by its writer (inotify's close-write)
or moved into place, parsing, its last line finished; and nothing has moved for ``quiet``
seconds (0.05 by default), so the rest of a burst (an editor's rename after its write) is taken
in with it. A file still open for writing is never acted on; one closed but not parsing gets
``grace`` seconds for a second write before it is reported (``settle`` holds the rules).
Editors' and packages' passing files (``temporary_file_name``) and mere reads (xenctl's own,
too) never count.

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
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from xenctl.autostart.runlevels import BOOT_LEVELS, Report
from xenctl.autostart.settle import Burst
from xenctl.engine.api import HostInfo
from xenctl.errors import XenctlError
from xenctl.filenames import temporary_file_name
from xenctl.xmconfig.auto import AutoDir, Broken, Entry

SPEC_SUFFIXES = (".yaml", ".yml")
QUIET_S = 0.05  # a burst is acted on once its files are whole and it has been still this long
ECHO_S = 2.0  # events of spec files whose content was applied less than this ago are that write's echoes
FALLBACK_QUIET_S = 1.0  # without inotify's closes: the stillness that says a write is done
POLL_S = 0.2  # how often the loop looks for directories made anew
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
        self.last_applied: tuple[dict[str, str | None], float] = ({}, 0.0)  # changed files' contents, and when

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

    def complete(self, path: str) -> bool:
        """Whether the file at ``path`` reads as whole: an auto entry that parses, a spec whose
        YAML parses, each with its last line finished (a file that is not there is done with)."""
        if not os.path.lexists(path):
            return True
        if unfinished([path]):
            return False
        if os.path.dirname(os.path.abspath(path)) == os.path.abspath(self.auto.path):
            return isinstance(self.auto.read_one(os.path.basename(path)), Entry)
        from xenctl.spec.yamlfile import YamlProblem, parse, read_text

        try:
            parse(read_text(path))
        except YamlProblem:
            return False
        return True

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
        contents = {path: _content(path) for path in changed}
        seen, at = self.last_applied
        if changed and contents.items() <= seen.items() and time.monotonic() - at < ECHO_S:
            return  # one write's later events, after its content was applied: nothing new
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
            self.last_applied = (contents, time.monotonic())
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


def _content(path: str) -> str | None:
    """A digest of the file's bytes (None: not there or unreadable)."""
    try:
        with open(path, "rb") as stream:
            return hashlib.blake2b(stream.read(), digest_size=16).hexdigest()
    except OSError:
        return None


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
    quiet: float = QUIET_S,
    patience: float = 3.0,
    grace: float = 2.0,
    ready: Callable[[], None] | None = None,
) -> None:
    """Watch until ``stop`` is set: act on each burst of events once its files are whole and it
    has been still ``quiet`` seconds (``settle.Burst`` decides)."""
    events: queue.Queue[tuple[str, str, str]] = queue.Queue()
    observer, directories = _observe(watcher, events)
    burst = Burst(
        watcher.complete,
        _empty,
        signature=_signature,
        quiet=quiet,
        grace=grace,
        patience=patience,
        closes=type(observer).__name__ == "InotifyObserver",  # the kernel says when a writer is done
        fallback=max(quiet, FALLBACK_QUIET_S),
    )
    extra = Batch()  # directories made anew: nothing to wait for
    observer.start()
    if ready is not None:
        ready()
    try:
        while not stop.is_set():
            wait = burst.wait(time.monotonic())
            try:
                kind, path, dest = events.get(timeout=POLL_S if wait is None else min(max(wait, 0.005), POLL_S))
            except queue.Empty:
                # A directory removed and made again (rsync --delete, rm -rf and a copy, a swapped
                # symlink) is a new one to the kernel: watch it anew, and read it as changed.
                for directory in directories.recreated():
                    is_auto = directory == os.path.abspath(watcher.auto.path)
                    extra = _merge(extra, Batch(auto=True) if is_auto else Batch(specs={directory}))
                    burst.touch(time.monotonic())
            else:
                ours = [p for p in (path, dest) if p and watcher.classify(p)]
                if ours:
                    burst.event(kind, path if path in ours else "", time.monotonic(), dest if dest in ours else "")
            if not burst.ready(time.monotonic()):
                continue
            batch = extra
            for touched in burst.take():
                batch = _merge(batch, watcher.classify(touched))
            extra = Batch()
            if batch and not stop.is_set():
                try:
                    watcher.handle(batch)
                except XenctlError as exc:  # the host or a directory unreadable for now: say so, watch on
                    watcher.say(f"Error: {exc.message}")
    finally:
        observer.stop()
        observer.join(timeout=5)


def _observe(watcher: Watcher, events: queue.Queue[tuple[str, str, str]]) -> tuple[Any, Directories]:
    """An observer (not started) of the auto directory and the spec directories, putting each
    change (its type, path and destination) on ``events``."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.is_directory and event.event_type == "deleted":
                directories.gone(os.fsdecode(event.src_path))  # a watched directory itself, perhaps
            if event.is_directory or event.event_type not in CHANGES:
                return  # reading a file (xenctl's own reads too) is no change
            dest = os.fsdecode(getattr(event, "dest_path", "") or "")
            events.put((event.event_type, os.fsdecode(event.src_path), dest))

    os.makedirs(watcher.auto.path, exist_ok=True)
    observer = Observer()
    directories = Directories(observer, Handler())
    directories.watch(os.path.abspath(watcher.auto.path), recursive=False)
    for directory in watcher.spec_dirs:
        directories.watch(directory, recursive=True)
    return observer, directories


def _signature(path: str) -> object:
    """What changes with every write to the file at ``path`` (None: not there)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _empty(path: str) -> bool:
    try:
        return os.path.getsize(path) == 0
    except OSError:
        return False


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
