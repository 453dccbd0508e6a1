"""Loading spec files: find them, parse them, check them against the schema, build the model.

``load_specs(paths)`` reads every ``*.yaml`` / ``*.yml`` file in the directories given (not their
subdirectories) and the files given by name, and returns one ``DesiredState``, or raises a
``SpecError`` that lists every problem at once: YAML errors, schema errors, and the semantic
checks of ``xenctl.spec.checks``. Each problem names its file, line, column and field path:

    specs/web.yaml:14:7: domains[web1].memory: '512 MB' is not a memory size; write 512M, 1G ...
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import NamedTuple

from xenctl.errors import SpecError, SpecIssue
from xenctl.spec import yamlfile
from xenctl.spec.build import build_file, build_quickly
from xenctl.spec.cache import SpecCache
from xenctl.spec.checks import Capacity, check_desired, passes_quickly, storage_root_of
from xenctl.spec.files import real_paths, spec_files
from xenctl.spec.locate import Locator, parse_file
from xenctl.spec.model import DesiredState
from xenctl.spec.parted import Facts, FileRecord, Part, PartedDesired, merge
from xenctl.spec.validate import fast_check, schema_issues, valid_quickly


class Loaded(NamedTuple):
    """One spec file as ``load_specs`` found it."""

    real: str  # its real path
    text: str
    entry: str  # where its model is cached ("" without a cache)
    model: DesiredState | None  # None: not read, its text being the one the last plan recorded
    facts: Facts | None  # None: unknown (no cache)


def load_specs(
    paths: Sequence[str],
    capacity: Capacity | None = None,
    *,
    cache_dir: str | None = None,
    models: dict[str, Loaded] | None = None,
    known: dict[str, FileRecord] | None = None,
) -> DesiredState:
    """Load, check and merge the specs at ``paths``; raises SpecError listing every problem.

    With ``cache_dir``, a file whose text was loaded before (same text, same xenctl) is not
    parsed or checked against the schema again: its model comes from the cache. The checks
    across files run again whenever any file or the host's capacity has changed. ``models``,
    when given, is filled with what was found of each file, by path.

    ``known``: the last plan's records of the files, by cache entry. A file whose text is one of
    them is not read unless the checks must look at it: the state returned is then a
    ``PartedDesired``, which reads it when a plan asks for one of its objects.
    """
    files, issues = spec_files(paths)
    texts = []
    for path in files:
        try:
            texts.append((path, yamlfile.read_text(path)))
        except yamlfile.YamlProblem as problem:
            issues.append(SpecIssue(path, problem.line, problem.column, "", problem.message))
    return _load(texts, issues, capacity, tuple(files), SpecCache(cache_dir) if cache_dir else None, models, known)


def load_spec_texts(sources: Sequence[tuple[str, str]], capacity: Capacity | None = None) -> DesiredState:
    """The same from (file name, text) pairs already read: what a saved plan carries."""
    return _load(list(sources), [], capacity, tuple(name for name, _text in sources), None)


def read_sources(desired: DesiredState) -> list[tuple[str, str]]:
    """The text of every file a desired state was loaded from."""
    return [(path, yamlfile.read_text(path)) for path in desired.files]


def _load(
    texts: list[tuple[str, str]],
    issues: list[SpecIssue],
    capacity: Capacity | None,
    files: tuple[str, ...],
    cache: SpecCache | None,
    models: dict[str, Loaded] | None = None,
    known: dict[str, FileRecord] | None = None,
) -> DesiredState:
    checked_against = repr(capacity)
    locator = Locator()
    names = [path for path, _text in texts]
    reals = dict(zip(names, real_paths(names), strict=True))
    entries = {path: cache.entry(reals[path], text) for path, text in texts} if cache else {}
    passed = bool(cache and not issues and cache.passed_checks(list(entries.values()), checked_against))
    found = _find(texts, reals, entries, known or {}, cache, issues, locator)
    if cache:
        cache.prune(keep=4 * len(texts) + 16)
    if models is not None:
        models.update(found)
    root = storage_root_of(capacity)
    structures = [f.facts.structure if f.facts else "" for f in found.values()]
    summaries = [f.facts.summary for f in found.values() if f.facts]
    # Files edited only where no check across objects looks (a domain's memory, say) keep the
    # structure that passed those checks: only the checks of each object and of memory are left,
    # and the files' summaries answer those, so an edit costs what it changed.
    checked = bool(cache and cache.passed_structure_checks(structures, root))
    quick = checked and len(summaries) == len(found) and passes_quickly(summaries, capacity)
    if not issues and (passed or quick) and any(f.model is None for f in found.values()):
        assert cache is not None  # a file is left unread only with a cache
        if not passed:
            cache.mark_checked(list(entries.values()), checked_against)
        return _parted(found, files, cache)
    parts = [f.model if f.model is not None else _read(path, f, cache) for path, f in found.items()]
    desired = merge(parts, files)
    if not issues and not passed and not quick:
        for origin, message, point_at in check_desired(desired, capacity, structure=not checked):
            issues.append(locator.issue(origin, message, point_at=point_at))
    if issues:
        raise SpecError(issues)
    if cache and not passed:
        cache.mark_checked(list(entries.values()), checked_against)
        cache.mark_structure_checked(structures, root)
    return desired


def _find(
    texts: list[tuple[str, str]],
    reals: dict[str, str],
    entries: dict[str, str],
    known: dict[str, FileRecord],
    cache: SpecCache | None,
    issues: list[SpecIssue],
    locator: Locator,
) -> dict[str, Loaded]:
    """What is found of each file that builds, in order: from the last plan's records (left
    unread), from the spec cache, or parsed and built (and cached)."""
    found: dict[str, Loaded] = {}
    unknown = [(path, text) for path, text in texts if entries.get(path) not in known]  # to read or build
    helper = _Helper.start(cache, unknown, entries) if cache else None
    try:
        for path, text in texts:
            entry = entries.get(path, "")
            record = known.get(entry) if entry else None
            if record is not None:  # as the last plan knew it: read only if asked for
                locator.texts[path] = text
                found[path] = Loaded(record.path, text, entry, None, record.facts)
                continue
            if helper is not None:
                helper.wait_for(path)
            real = reals[path]
            cached, facts = cache.kept_at(entry, path) if cache else (None, None)
            if cached is not None:
                locator.texts[path] = text  # parsed again only if a check across files names it
                found[path] = Loaded(real, text, entry, cached, facts)
                continue
            built = _build(path, text, issues, locator, cache)
            if built is not None:
                found[path] = Loaded(real, text, entry, built, cache.put(path, text, built) if cache else None)
    finally:
        if helper is not None:
            helper.finish()
    return found


def _parted(found: dict[str, Loaded], files: tuple[str, ...], cache: SpecCache) -> PartedDesired:
    """The specs, each file unread until a plan asks for something of it."""

    def part(path: str, loaded: Loaded) -> Part:
        assert loaded.facts is not None  # every file's summary answered the checks
        return Part(loaded.facts, loaded.model, lambda: _read(path, loaded, cache))

    return PartedDesired([part(path, f) for path, f in found.items()], files)


def _read(path: str, loaded: Loaded, cache: SpecCache | None) -> DesiredState:
    """The model of a file left unread: from the cache, or its text built again (the cache pruned)."""
    model = cache.kept_at(loaded.entry, path)[0] if cache else None
    if model is None:
        issues: list[SpecIssue] = []
        model = _build(path, loaded.text, issues, Locator(), cache)
        if model is None:  # the same text, checked by this xenctl before: it builds as it did
            raise SpecError(issues)
        if cache:
            cache.put(path, loaded.text, model)
    return model


def _build(
    path: str, text: str, issues: list[SpecIssue], locator: Locator, cache: SpecCache | None
) -> DesiredState | None:
    """One file not in the cache, parsed, validated and built (None, with its issues, if wrong)."""
    loaded = parse_file(path, text, issues)
    if loaded is None:
        return None
    locator.files[path] = loaded
    built = build_quickly(loaded, locator) if valid_quickly(loaded.data, cache) else None
    if built is None:
        refused = schema_issues(loaded, locator)
        if refused:
            issues.extend(refused)
            return None
        built = build_file(loaded, locator, issues)
    if built is not None:
        # Its parsed values are let go (a cold load of 40,000 objects held 80 MiB of them):
        # a check across files that names it parses it again, as for a file from the cache.
        del locator.files[path]
        locator.texts[path] = text
    return built


class _Helper:
    """A child process that parses, checks and caches the second half of the files not cached
    yet, while this process does the first half: a cold load of many files takes half the time
    on a machine with two cores or more.

    The child only fills the cache, with files that pass every check of their own; whatever it
    did not cache (a file with a problem, a child that died) this process loads itself, the
    usual way, so every problem is found and worded as always. It says through a pipe when it
    is done with each file, so this process reads each model back as soon as it is written,
    while the child builds the next, rather than all of them once the child has ended.
    """

    SMALLEST = 8  # fewer files to parse than this are not worth a process

    def __init__(self, pid: int, paths: list[str], progress: int) -> None:
        self.pid = pid
        self.order = {path: i for i, path in enumerate(paths)}  # the child's files, in its order
        self.progress = progress  # the pipe's reading end: a byte for each file the child is done with
        self.done = 0  # how many of its files the child said it is done with

    @classmethod
    def start(cls, cache: SpecCache, texts: list[tuple[str, str]], entries: dict[str, str]) -> _Helper | None:
        if (os.cpu_count() or 1) < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
            return None  # forking a process with threads is not safe; one core gains nothing
        missing = [(path, text) for path, text in texts if not os.path.exists(entries[path])]
        if len(missing) < cls.SMALLEST:
            return None
        theirs = missing[_halfway(missing) :]
        fast_check(cache.directory)  # compiled once, before the fork, for both processes
        try:
            reading, writing = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(reading)
            os.close(writing)
            return None
        if pid == 0:  # the child: cache what it can, and leave without running anything of the parent's
            try:
                os.close(reading)
                for path, text in theirs:
                    loaded = parse_file(path, text, [])
                    if loaded is not None and valid_quickly(loaded.data, cache):
                        locator = Locator()
                        locator.files[path] = loaded
                        built = build_quickly(loaded, locator)
                        if built is not None:
                            cache.put(path, text, built)
                    os.write(writing, b".")
            finally:
                os._exit(0)
        os.close(writing)
        return cls(pid, [path for path, _text in theirs], reading)

    def wait_for(self, path: str) -> None:
        """Wait until the child is done with ``path`` if it is one of its files (or has ended)."""
        wanted = self.order.get(path)
        while self.pid and wanted is not None and self.done <= wanted:
            said = os.read(self.progress, 4096)
            if not said:  # it has ended (or died): what it did not cache is loaded here
                self.finish()
            self.done += len(said)

    def finish(self) -> None:
        """Let the child's pipe and process go (at most once)."""
        if self.pid:
            os.close(self.progress)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


def _halfway(missing: list[tuple[str, str]]) -> int:
    """Where the child's share starts, by the length of the text (a short file costs little).
    This process also reads the child's models back, about a tenth of the work of building
    them, so its own share is that much less than half: both are done at about the same time."""
    total = sum(len(text) for _path, text in missing)
    ours = total * (1 - _READ_BACK) / (2 - _READ_BACK)
    seen = 0
    for i, (_path, text) in enumerate(missing):
        seen += len(text)
        if seen >= ours:
            return max(1, min(i + 1, len(missing) - 1))
    return len(missing) // 2


_READ_BACK = 0.1  # reading a file's model back from the cache, as a part of building it
