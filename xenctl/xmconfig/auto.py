"""Autostart entries: the xm config files in ``<xen root>/auto``, read safely and written atomically.

An entry is a file, or a symlink to one, holding an xm/xl config file: xendomains ran
``xm create`` on each. Entries that xenctl writes from a spec start with a header that marks
them managed and carry their ordering in one comment line that xm and xl pass over::

    # Managed by xenctl from specs/web.yaml: 'xenctl apply' rewrites or removes this file.
    # xenctl-autostart: {"order": 10, "after": ["db"], "up": 5.0, "stop": "save", ...}
    kernel = "/boot/vmlinuz-2.6.18-xen"
    ...

A hand-placed entry may carry the same metadata line to take part in the ordering; it is never
rewritten or removed. Reading never fails as a whole: an entry that cannot be used (unreadable,
not a config, a symlink to nothing, or out of the xen root's tree while that is refused) is
returned as broken, with the reason, and the others are still there to boot.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from xenctl.engine.api import DomainConfig
from xenctl.errors import ConfigError, XenctlError
from xenctl.filenames import temporary_file_name
from xenctl.xmconfig.domain import to_domain_config, write_config
from xenctl.xmconfig.reader import parse_config

MANAGED_MARK = "# Managed by xenctl"
META_PREFIX = "# xenctl-autostart:"
STOP_MODES = ("save", "shutdown")
ON_TIMEOUT = ("destroy", "leave")
DEFAULT_STOP_TIMEOUT = 300.0
MAX_ENTRY = 1 << 20  # bytes: a config file is a few hundred


class EntryError(XenctlError):
    """An entry xenctl will not write or remove: it is someone else's, or the name cannot be one."""


@dataclass(frozen=True)
class Ordering:
    """When an entry starts and how it stops: the metadata line, with its defaults."""

    order: int | None = None
    after: tuple[str, ...] = ()
    up: float = 0.0  # seconds after this domain is up before its dependents start
    stop: str = "shutdown"
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    on_timeout: str = "destroy"

    def to_json(self) -> str:
        data: dict[str, object] = {}
        if self.order is not None:
            data["order"] = self.order
        if self.after:
            data["after"] = list(self.after)
        data.update(up=self.up, stop=self.stop, stop_timeout=self.stop_timeout, on_timeout=self.on_timeout)
        return json.dumps(data, separators=(", ", ": "))

    @property
    def ordered(self) -> bool:
        """It says when it starts: an order number or domains to start after."""
        return self.order is not None or bool(self.after)


@dataclass(frozen=True)
class Entry:
    """A usable entry: its file, the domain it creates, and how it is ordered."""

    file: str  # the name in the auto directory
    path: str  # the path in the auto directory (a symlink's own path)
    config: DomainConfig
    ordering: Ordering = field(default_factory=Ordering)
    has_metadata: bool = False
    managed: bool = False
    source: str = ""  # the spec file a managed entry was written from
    digest: str = ""  # of the file's bytes

    @property
    def domain(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class Broken:
    """An entry that cannot be used, and why; it is reported and skipped."""

    file: str
    path: str
    reason: str
    managed: bool = False


@dataclass(frozen=True)
class Listing:
    """What the auto directory holds at one moment."""

    directory: str
    entries: tuple[Entry, ...] = ()
    broken: tuple[Broken, ...] = ()


@dataclass(frozen=True)
class AutoDir:
    """The auto directory of a xen root. ``outside_links``: follow symlinks that leave the xen
    root's tree (refused unless configured: a link to /home/someone/vm.cfg is someone else's)."""

    xen_root: str
    outside_links: bool = False

    @property
    def path(self) -> str:
        return os.path.join(self.xen_root, "auto")

    def entry_path(self, file: str) -> str:
        return os.path.join(self.path, file)

    def names(self) -> list[str]:
        """The entries' file names, sorted, editors' passing files left out; none if no directory."""
        try:
            found = os.listdir(self.path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise EntryError(f"{self.path}: cannot read the auto directory: {exc.strerror}") from None
        return sorted(name for name in found if not temporary_file_name(name))

    def passed_over(self) -> list[str]:
        """The files the auto directory holds that are no entries: editors' and packages' passing files."""
        try:
            return sorted(name for name in os.listdir(self.path) if temporary_file_name(name))
        except OSError:
            return []

    def read(self) -> tuple[tuple[Entry, ...], tuple[Broken, ...]]:
        """Every entry, in file-name order: the usable ones and the broken ones."""
        entries: list[Entry] = []
        broken: list[Broken] = []
        for name in self.names():
            got = self.read_one(name)
            (entries if isinstance(got, Entry) else broken).append(got)  # type: ignore[arg-type]
        return tuple(entries), tuple(broken)

    def listing(self) -> Listing:
        entries, broken = self.read()
        return Listing(self.path, entries, broken)

    def read_one(self, name: str) -> Entry | Broken:
        path = self.entry_path(name)
        try:
            data = self._read_bytes(path)
        except _Refused as exc:
            return Broken(name, path, str(exc))
        text = data.decode("utf-8", errors="replace")
        managed, source = _managed(text)
        if os.path.islink(path):
            managed = False  # a symlink is placed by hand, whatever the file it points at says
        try:
            ordering, has_metadata = _ordering(text, path)
            parsed = parse_config(text, path)
            config = to_domain_config(parsed).config
        except ConfigError as exc:
            return Broken(name, path, exc.message, managed)
        digest = hashlib.sha256(data).hexdigest()
        return Entry(name, path, config, ordering, has_metadata, managed, source, digest)

    def _read_bytes(self, path: str) -> bytes:
        try:
            info = os.lstat(path)
        except OSError as exc:
            raise _Refused(f"cannot read it: {exc.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            try:
                os.stat(path)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _Refused("a loop of symlinks") from None
                raise _Refused(f"a symlink to {os.readlink(path)}, which does not exist") from None
            target = os.path.realpath(path)
            root = os.path.realpath(self.xen_root)
            if not self.outside_links and os.path.commonpath([root, target]) != root:
                raise _Refused(
                    f"a symlink to {target}, outside {self.xen_root}; "
                    "xenctl follows such links only with --allow-outside-links"
                )
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang the boot
        except IsADirectoryError:
            raise _Refused("a directory, not a config file") from None
        except OSError as exc:
            raise _Refused(f"cannot read it: {exc.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _Refused(
                    "a directory, not a config file" if stat.S_ISDIR(os.fstat(fd).st_mode) else "not a regular file"
                )
            with os.fdopen(fd, "rb", closefd=False) as stream:
                data = stream.read(MAX_ENTRY + 1)
        except OSError as exc:
            raise _Refused(f"cannot read it: {exc.strerror}") from None
        finally:
            os.close(fd)
        if len(data) > MAX_ENTRY:
            raise _Refused(f"larger than {MAX_ENTRY // 1024} KiB; a config file is not")
        return data

    # -- writing ---------------------------------------------------------------------------

    def write(self, file: str, text: str) -> None:
        """Write a managed entry whole (a temporary file renamed over it), never over a hand-placed one."""
        _check_name(file)
        path = self.entry_path(file)
        self._refuse_unmanaged(file, "rewrite")
        try:
            os.makedirs(self.path, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{file}.", suffix=".tmp", dir=self.path)
        except OSError as exc:
            raise EntryError(f"{path}: cannot write the entry: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError):
                raise EntryError(f"{path}: cannot write the entry: {exc.strerror}") from None
            raise
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def remove(self, file: str) -> None:
        """Remove a managed entry; a hand-placed one is refused, a missing one is fine."""
        _check_name(file)
        self._refuse_unmanaged(file, "remove")
        try:
            os.unlink(self.entry_path(file))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise EntryError(f"{self.entry_path(file)}: cannot remove the entry: {exc.strerror}") from None

    def _refuse_unmanaged(self, file: str, doing: str) -> None:
        path = self.entry_path(file)
        if not os.path.lexists(path):
            return
        if os.path.islink(path):
            raise EntryError(f"{path} is a symlink placed by hand; xenctl will not {doing} it")
        got = self.read_one(file)
        if not got.managed:
            raise EntryError(f"{path} was placed by hand; xenctl will not {doing} it")


class _Refused(Exception):
    pass


def _check_name(file: str) -> None:
    if not file or "/" in file or "\0" in file or file in (".", "..") or temporary_file_name(file):
        raise EntryError(f"{file!r} cannot be an entry's file name in the auto directory")


def _header_lines(text: str) -> Iterator[str]:
    """The comment lines at the top of the file, before the first setting."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return
        yield stripped


def _managed(text: str) -> tuple[bool, str]:
    for line in _header_lines(text):
        if line.startswith(MANAGED_MARK):
            rest = line[len(MANAGED_MARK) :].strip()
            source = rest[len("from ") :].split(": 'xenctl apply'", 1)[0] if rest.startswith("from ") else ""
            return True, source
    return False, ""


def _ordering(text: str, path: str) -> tuple[Ordering, bool]:
    """The metadata line's ordering (defaults when there is none); ConfigError if it is wrong."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line.startswith(META_PREFIX):
            continue
        try:
            data = json.loads(line[len(META_PREFIX) :])
        except ValueError:
            raise ConfigError("the xenctl-autostart line is not JSON", file=path, line=number) from None
        return _ordering_from(data, path, number), True
    return Ordering(), False


def _ordering_from(data: object, path: str, line: int) -> Ordering:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"xenctl-autostart: {message}", file=path, line=line)

    if not isinstance(data, dict):
        raise fail("expected a JSON object")
    unknown = sorted(set(data) - {"order", "after", "up", "stop", "stop_timeout", "on_timeout"})
    if unknown:
        raise fail(f"unknown field {unknown[0]!r}")
    order = data.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 9999):
        raise fail(f"order {order!r} is not a whole number from 0 to 9999")
    after = data.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) and a for a in after):
        raise fail("after must be a list of domain names")

    def seconds(key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1e7:
            raise fail(f"{key} {value!r} is not a number of seconds")
        return float(value)

    stop = data.get("stop", "shutdown")
    if stop not in STOP_MODES:
        raise fail(f"stop {stop!r} is not one of {', '.join(STOP_MODES)}")
    on_timeout = data.get("on_timeout", "destroy")
    if on_timeout not in ON_TIMEOUT:
        raise fail(f"on_timeout {on_timeout!r} is not one of {', '.join(ON_TIMEOUT)}")
    return Ordering(
        order=order,
        after=tuple(after),
        up=seconds("up", 0.0),
        stop=stop,
        stop_timeout=seconds("stop_timeout", DEFAULT_STOP_TIMEOUT),
        on_timeout=on_timeout,
    )


def render_entry(config: DomainConfig, ordering: Ordering, source: str) -> str:
    """A managed entry's text: the header, the metadata line, then the config as xm writes it."""
    shown = "".join(c if c.isprintable() else "?" for c in source)  # one comment line, whatever the file's name
    header = f"{MANAGED_MARK} from {shown}: 'xenctl apply' rewrites or removes this file."
    return f"{header}\n{META_PREFIX} {ordering.to_json()}\n" + write_config(config)
