"""Loading spec files: find them, parse them, check them against the schema, build the model.

``load_specs(paths)`` reads every ``*.yaml`` / ``*.yml`` file in the directories given (not their
subdirectories) and the files given by name, and returns one ``DesiredState``, or raises a
``SpecError`` that lists every problem at once: YAML errors, schema errors, and the semantic
checks of ``xenctl.spec.checks``. Each problem names its file, line, column and field path:

    specs/web.yaml:14:7: domains[web1].memory: '512 MB' is not a memory size; write 512M, 1G ...
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import re
import sys
import tempfile
import threading
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from xenctl.errors import SpecError, SpecIssue, one_line
from xenctl.spec import yamlfile
from xenctl.spec.cache import SpecCache, code_stamp
from xenctl.spec.checks import Capacity, check_desired
from xenctl.spec.devices import disk_choices_hold, disk_from_data, hvm_from_data, vif_from_data
from xenctl.spec.messages import describe_error
from xenctl.spec.model import (
    AutostartSpec,
    DesiredPower,
    DesiredState,
    DomainSpec,
    InstallSpec,
    NfsExportSpec,
    Origin,
    PathPart,
    StopMode,
    VolumeGroupSpec,
    VolumeKind,
    VolumeSpec,
)
from xenctl.spec.schema import schema
from xenctl.units import MIB, UnitError, parse_duration, parse_size

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_MEMORY = 16 * 1024 * 1024  # MiB: 16T, as the schema allows


@cache
def _validator() -> Any:
    """The reference validator: every error, with its path, for the messages."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


@cache
def _fast_check(directory: str | None = None) -> Any:
    """The schema compiled to Python (fastjsonschema): about ten times quicker than the reference
    validator on a file that is right, which most are. It stops at the first error, so a file it
    refuses is checked again by the reference validator for every error, worded.

    Making the code takes longer than checking a large file with it, so the compiled code is
    kept in the spec cache (``directory``), by this xenctl, the validator's version and Python's.
    """
    import fastjsonschema
    from fastjsonschema.ref_resolver import RefResolver

    formats: dict[str, Any] = {}
    definition = _without_choices(schema(), formats)
    stamp = "\0".join([code_stamp(), fastjsonschema.VERSION, sys.implementation.cache_tag or "", sys.version])
    name = f"validator-{hashlib.blake2b(stamp.encode(), digest_size=16).hexdigest()}.code"
    kept = os.path.join(directory, name) if directory else None
    code = None
    if kept:
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError), open(kept, "rb") as stream:
            code = marshal.load(stream)
    if not isinstance(code, types.CodeType):
        code = compile(fastjsonschema.compile_to_code(definition, formats=formats), "<spec schema>", "exec")
        if directory and kept:
            with contextlib.suppress(OSError):
                os.makedirs(directory, mode=0o700, exist_ok=True)
                fd, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
                with os.fdopen(fd, "wb") as stream:
                    marshal.dump(code, stream)
                os.replace(temporary, kept)
                for entry in os.scandir(directory):  # another xenctl's, or another Python's
                    if entry.name.startswith("validator-") and entry.name != name:
                        os.unlink(entry.path)
    scope: dict[str, Any] = {}
    exec(code, scope)
    check = scope[RefResolver.from_schema(definition, handlers={}, store={}).get_scope_name()]
    return functools.partial(check, custom_formats=formats)


def _without_choices(node: Any, formats: dict[str, Any]) -> Any:
    """The schema less what the compiled validator checks by raising and catching an exception:
    its "exactly one of these keys" rules (``x-choices``, checked by ``_choices_hold`` instead)
    and its "must not match" patterns (``not: {pattern}``, the names that are not allowed), made
    formats of their own. Together they were more than a third of the time of a large file."""
    if isinstance(node, list):
        return [_without_choices(v, formats) for v in node]
    if not isinstance(node, dict):
        return node
    built = {k: _without_choices(v, formats) for k, v in node.items() if not (k == "oneOf" and "x-choices" in node)}
    refused = node.get("not")
    if isinstance(refused, dict) and set(refused) == {"pattern"} and "format" not in node:
        name = f"x-not-{len(formats)}"
        formats[name] = _not_matching(re.compile(refused["pattern"]))
        del built["not"]
        built["format"] = name
    return built


def _not_matching(pattern: re.Pattern[str]) -> Any:
    return lambda value: not isinstance(value, str) or pattern.search(value) is None


def _one_of(item: Any, choices: tuple[str, ...]) -> bool:
    return isinstance(item, dict) and sum(1 for choice in choices if choice in item) == 1


_VOLUME_CHOICES = ("lvm", "file", "partition")


def _choices_hold(data: dict[str, Any]) -> bool:
    """The ``x-choices`` rules, on a file the compiled validator passed (so the shapes are right)."""
    for domain in data.get("domains") or ():
        if not all(disk_choices_hold(disk) for disk in domain.get("disks") or ()):
            return False
    storage = data.get("storage") or {}
    return all(_one_of(volume, _VOLUME_CHOICES) for volume in storage.get("volumes") or ())


def _valid_quickly(data: dict[str, Any], cache: SpecCache | None) -> bool:
    import fastjsonschema

    try:
        _fast_check(cache.directory if cache else None)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return _choices_hold(data)


def spec_files(paths: Sequence[str]) -> tuple[list[str], list[SpecIssue]]:
    """The spec files named by ``paths``: files as given, directories' ``*.yaml`` files by name."""
    files: list[str] = []
    issues: list[SpecIssue] = []
    for path in paths:
        if os.path.isdir(path):
            try:
                names = os.listdir(path)
            except OSError as exc:
                issues.append(SpecIssue(path, None, None, "", f"cannot read the directory: {exc.strerror}"))
                continue
            found = sorted(
                os.path.join(path, name)
                for name in names
                if name.endswith(SPEC_SUFFIXES)
                and not name.startswith(".")
                and os.path.isfile(os.path.join(path, name))
            )
            if not found:
                issues.append(SpecIssue(path, None, None, "", "no *.yaml spec files in this directory"))
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            issues.append(SpecIssue(path, None, None, "", "no such file or directory"))
    unique = list(dict.fromkeys(os.path.normpath(f) for f in files))
    return unique, issues


@dataclass
class _File:
    path: str
    text: str
    data: dict[str, Any]
    tree: Any = None  # the composed YAML, made once, the first time a problem needs a line

    def locate(self, path: tuple[PathPart, ...], *, key: bool = False) -> tuple[int, int] | None:
        if self.tree is None:
            self.tree = yamlfile.compose(self.text) or False
        return yamlfile.locate(self.tree or None, path, key=key)


class _Locator:
    """Turns an Origin into file, line, column and a readable field path."""

    def __init__(self) -> None:
        self.files: dict[str, _File] = {}
        self.texts: dict[str, str] = {}  # files that came from the cache, parsed only if needed

    def file(self, name: str) -> _File | None:
        if name not in self.files and name in self.texts:
            self.files[name] = _File(name, self.texts[name], yamlfile.parse(self.texts[name]) or {})
        return self.files.get(name)

    def issue(
        self, origin: Origin, message: str, *, point_at: tuple[PathPart, ...] | None = None, at_key: bool = False
    ) -> SpecIssue:
        message = _PLACE_RE.sub(self._place, message)
        spec = self.file(origin.file)
        if spec is None:
            return SpecIssue(origin.file, None, None, render_path(None, origin.path), message)
        path = point_at if point_at is not None else origin.path
        where = spec.locate(path, key=at_key)
        line, column = where if where else (None, None)
        return SpecIssue(origin.file, line, column, render_path(spec.data, path), message)

    def _place(self, match: re.Match[str]) -> str:
        file, raw = match.group(1), match.group(2)
        path = tuple(int(p) if p.isdigit() else p for p in raw.split("/") if p)
        spec = self.file(file)
        where = spec.locate(path) if spec else None
        return f"{file}:{where[0]}" if where else file


_PLACE_RE = re.compile(r"\{at:([^|}]*)\|([^}]*)\}")


def render_path(data: Any, path: Iterable[PathPart]) -> str:
    """``domains[web1].memory``: list items by their name where they have one, else by index."""
    text = ""
    node = data
    for part in path:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = None
            if isinstance(item, dict):
                label = item.get("name") or item.get("domain") or item.get("vdev")
            text += f"[{one_line(label)}]" if isinstance(label, str) and label else f"[{part}]"
            node = item
        else:
            text += f".{one_line(part)}" if text else one_line(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


def load_specs(
    paths: Sequence[str],
    capacity: Capacity | None = None,
    *,
    cache_dir: str | None = None,
    models: dict[str, tuple[str, DesiredState]] | None = None,
) -> DesiredState:
    """Load, check and merge the specs at ``paths``; raises SpecError listing every problem.

    With ``cache_dir``, a file whose text was loaded before (same text, same xenctl) is not
    parsed or checked against the schema again: its model comes from the cache. The checks
    across files run again whenever any file or the host's capacity has changed. ``models``,
    when given, is filled with each file's text and model, by path.
    """
    files, issues = spec_files(paths)
    texts = []
    for path in files:
        try:
            texts.append((path, yamlfile.read_text(path)))
        except yamlfile.YamlProblem as problem:
            issues.append(SpecIssue(path, problem.line, problem.column, "", problem.message))
    return _load(texts, issues, capacity, tuple(files), SpecCache(cache_dir) if cache_dir else None, models)


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
    models: dict[str, tuple[str, DesiredState]] | None = None,
) -> DesiredState:
    checked_against = repr(capacity)
    passed = bool(cache and not issues and cache.passed_checks(texts, checked_against))
    locator = _Locator()
    parts: list[DesiredState] = []
    entries = {path: cache.entry(path, text) for path, text in texts} if cache else {}
    helper = _Helper.start(cache, texts, entries) if cache else None
    for path, text in texts:
        if helper is not None:
            helper.wait_for(path)
        cached = cache.model_at(entries[path]) if cache else None
        if cached is not None:
            locator.texts[path] = text  # parsed again only if a check across files names it
            parts.append(cached)
            if models is not None:
                models[path] = (text, cached)
            continue
        loaded = _read(path, text, issues)
        if loaded is None:
            continue
        locator.files[path] = loaded
        built = _build_quickly(loaded, locator) if _valid_quickly(loaded.data, cache) else None
        if built is None:
            schema_issues = _schema_issues(loaded, locator)
            if schema_issues:
                issues.extend(schema_issues)
                continue
            built = _build_file(loaded, locator, issues)
        if built is not None:
            parts.append(built)
            if models is not None:
                models[path] = (text, built)
            if cache:
                cache.put(path, text, built)
    if cache:
        cache.prune(keep=4 * len(texts) + 16)
    desired = merge(parts, files)
    if not issues and not passed:
        for origin, message, point_at in check_desired(desired, capacity):
            issues.append(locator.issue(origin, message, point_at=point_at))
    if issues:
        raise SpecError(issues)
    if cache and not passed:
        cache.mark_checked(texts, checked_against)
    return desired


class _Helper:
    """A child process that parses, checks and caches the second half of the files not cached
    yet, while this process does the first half: a cold load of many files takes half the time
    on a machine with two cores or more.

    The child only fills the cache, with files that pass every check of their own; whatever it
    did not cache (a file with a problem, a child that died) this process loads itself, the
    usual way, so every problem is found and worded as always.
    """

    SMALLEST = 8  # fewer files to parse than this are not worth a process

    def __init__(self, pid: int, paths: set[str]) -> None:
        self.pid = pid
        self.paths = paths

    @classmethod
    def start(cls, cache: SpecCache, texts: list[tuple[str, str]], entries: dict[str, str]) -> _Helper | None:
        if (os.cpu_count() or 1) < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
            return None  # forking a process with threads is not safe; one core gains nothing
        missing = [(path, text) for path, text in texts if not os.path.exists(entries[path])]
        if len(missing) < cls.SMALLEST:
            return None
        theirs = missing[len(missing) // 2 :]
        _fast_check(cache.directory)  # compiled once, before the fork, for both processes
        try:
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:  # the child: cache what it can, and leave without running anything of the parent's
            try:
                for path, text in theirs:
                    loaded = _read(path, text, [])
                    if loaded is not None and _valid_quickly(loaded.data, cache):
                        locator = _Locator()
                        locator.files[path] = loaded
                        built = _build_quickly(loaded, locator)
                        if built is not None:
                            cache.put(path, text, built)
            finally:
                os._exit(0)
        return cls(pid, {path for path, _text in theirs})

    def wait_for(self, path: str) -> None:
        """Wait for the child before the first of its files (at most once)."""
        if self.pid and path in self.paths:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


def _read(path: str, text: str, issues: list[SpecIssue]) -> _File | None:
    try:
        data = yamlfile.parse(text)
    except yamlfile.YamlProblem as problem:
        issues.append(SpecIssue(path, problem.line, problem.column, "", problem.message))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false"}.get(
            type(data), "a value"
        )
        issues.append(
            SpecIssue(path, 1, 1, "", f"a spec file is a mapping with domains, storage or autostart; this is {kind}")
        )
        return None
    return _File(path, text, data)


def _schema_issues(spec: _File, locator: _Locator) -> list[SpecIssue]:
    found: dict[tuple[object, ...], SpecIssue] = {}
    for error in _validator().iter_errors(spec.data):
        path = tuple(error.absolute_path)
        message, point_at = describe_error(error, path)
        issue = locator.issue(Origin(spec.path, path), message, point_at=point_at, at_key=point_at is not None)
        found.setdefault((issue.line, issue.column, issue.path, issue.message), issue)  # one mistake, one line
    return list(found.values())


def _memory(value: Any, origin: Origin, locator: _Locator, issues: list[SpecIssue]) -> int:
    """Memory in MiB: a bare number is MiB (as in xm configs), a size must be whole MiB."""
    if isinstance(value, int):
        return value
    try:
        size = parse_size(value)
    except UnitError as exc:
        issues.append(locator.issue(origin, str(exc)))
        return 1
    if size > MAX_MEMORY * MIB:
        issues.append(locator.issue(origin, f"{value!r} is more memory than any Xen host has (at most 16T)"))
        return 1
    if size % MIB or size == 0:
        issues.append(locator.issue(origin, f"{value!r} is not a whole number of MiB"))
        return max(size // MIB, 1)
    return size // MIB


def _build_quickly(spec: _File, locator: _Locator) -> DesiredState | None:
    """Build a file the fast check passed; None sends it to the reference validator instead
    (should the two validators ever disagree, the reference one speaks)."""
    found: list[SpecIssue] = []
    try:
        built = _build_file(spec, locator, found)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return built if not found else None


def _build_file(spec: _File, locator: _Locator, issues: list[SpecIssue]) -> DesiredState | None:
    """The model of one schema-valid file (only value conversions can still fail here)."""
    data = spec.data
    base = Origin(spec.path)
    before = len(issues)
    storage = data.get("storage") or {}
    vgs = tuple(
        VolumeGroupSpec(vg["name"], tuple(_dev(p) for p in vg["pvs"]), base.at("storage", "volume_groups", i))
        for i, vg in enumerate(storage.get("volume_groups") or ())
    )
    volumes = []
    for i, v in enumerate(storage.get("volumes") or ()):
        origin = base.at("storage", "volumes", i)
        try:
            volumes.append(_volume(v, origin))
        except UnitError as exc:  # a size the pattern allows but bytes cannot hold (0.1K)
            kind = "lvm" if "lvm" in v else "file"
            issues.append(locator.issue(origin.at(kind, "size"), str(exc)))
    exports = tuple(
        NfsExportSpec(e["name"], e["server"], e["path"], base.at("storage", "nfs_exports", i))
        for i, e in enumerate(storage.get("nfs_exports") or ())
    )
    domains = tuple(_domain(d, base.at("domains", i), locator, issues) for i, d in enumerate(data.get("domains") or ()))
    autostart = []
    for i, entry in enumerate(data.get("autostart") or ()):
        origin = base.at("autostart", i)
        problems = []
        for field in ("up", "stop_timeout"):
            try:
                parse_duration(entry.get(field, 0))
            except UnitError as exc:  # a duration the pattern allows but too long (2778h)
                problems.append(locator.issue(origin.at(field), str(exc)))
        if problems:
            issues.extend(problems)
        else:
            autostart.append(_autostart(entry, origin))
    if len(issues) > before:
        return None
    return DesiredState(domains, vgs, tuple(volumes), exports, tuple(autostart), (spec.path,))


def _dev(path: str) -> str:
    return path if path.startswith("/") else f"/dev/{path}"


def _volume(data: dict[str, Any], origin: Origin) -> VolumeSpec:
    common: dict[str, Any] = {"filesystem": data.get("filesystem"), "populate": data.get("populate"), "origin": origin}
    if "lvm" in data:
        lvm = data["lvm"]
        kind = VolumeKind.SNAPSHOT if lvm.get("snapshot_of") else VolumeKind.LVM
        return VolumeSpec(
            data["name"],
            kind,
            size=parse_size(lvm["size"], whole_kib=True),
            vg=lvm["vg"],
            snapshot_of=lvm.get("snapshot_of"),
            **common,
        )
    if "file" in data:
        image = data["file"]
        return VolumeSpec(
            data["name"],
            VolumeKind.FILE,
            size=parse_size(image["size"], whole_kib=True),
            path=image["path"],
            sparse=image.get("sparse", True),
            **common,
        )
    return VolumeSpec(data["name"], VolumeKind.PARTITION, path=_dev(data["partition"]), **common)


def _domain(data: dict[str, Any], origin: Origin, locator: _Locator, issues: list[SpecIssue]) -> DomainSpec:
    memory = _memory(data.get("memory", 128), origin.at("memory"), locator, issues)
    maxmem = _memory(data["maxmem"], origin.at("maxmem"), locator, issues) if "maxmem" in data else None
    install = data.get("install")
    return DomainSpec(
        name=data["name"],
        memory=memory,
        maxmem=maxmem,
        vcpus=int(data.get("vcpus", 1)),  # the schema's integers include 2.0
        maxvcpus=int(data["maxvcpus"]) if "maxvcpus" in data else None,
        kernel=data.get("kernel"),
        ramdisk=data.get("ramdisk"),
        bootloader=data.get("bootloader"),
        root=data.get("root"),
        extra=data.get("extra"),
        disks=tuple(disk_from_data(d) for d in data.get("disks") or ()),
        nfs_root=data.get("nfs_root"),
        vifs=tuple(vif_from_data(v) for v in data.get("vifs") or ()),
        ip=data.get("ip"),
        on_poweroff=data.get("on_poweroff", "destroy"),
        on_reboot=data.get("on_reboot", "restart"),
        on_crash=data.get("on_crash", "restart"),
        state=DesiredPower(data.get("state", "running")),
        depends_on=tuple(data.get("depends_on") or ()),
        install=InstallSpec(install["location"], install.get("kickstart")) if install else None,
        graphics=data.get("graphics", False),
        hvm=hvm_from_data(data["hvm"]) if "hvm" in data else None,
        origin=origin,
    )


def _autostart(data: dict[str, Any], origin: Origin) -> AutostartSpec:
    return AutostartSpec(
        domain=data["domain"],
        file=data.get("file"),
        order=int(data["order"]) if "order" in data else None,
        after=tuple(data.get("after") or ()),
        up=parse_duration(data["up"]) if "up" in data else 0.0,
        stop=StopMode(data.get("stop", "shutdown")),
        stop_timeout=parse_duration(data["stop_timeout"]) if "stop_timeout" in data else 300.0,
        on_timeout=data.get("on_timeout", "destroy"),
        origin=origin,
    )


def merge(parts: Sequence[DesiredState], files: tuple[str, ...]) -> DesiredState:
    """One desired state from several files' (duplicates are left for the checks to name)."""

    def gather(attr: str, key: str) -> tuple[Any, ...]:
        items = [item for part in parts for item in getattr(part, attr)]
        return tuple(sorted(items, key=lambda item: (getattr(item, key), item.origin.file, item.origin.path)))

    return DesiredState(
        domains=gather("domains", "name"),
        volume_groups=gather("volume_groups", "name"),
        volumes=gather("volumes", "name"),
        nfs_exports=gather("nfs_exports", "name"),
        autostart=gather("autostart", "domain"),
        files=files,
    )
