"""xendomains' settings: ``/etc/sysconfig/xendomains`` (or ``/etc/default/xendomains``), read safely.

For a host whose xen root is ``<etc>/xen`` the file is ``<etc>/sysconfig/xendomains``, else
``<etc>/default/xendomains``; without either, xendomains' defaults hold. The file is a shell
variable file, and xenctl reads it, never runs it: ``KEY=value``, ``KEY="value"`` or
``KEY='value'`` (``export`` allowed), comments and blank lines. Anything a shell would expand or
run (``$``, backquotes, a command after the value) is a mistake, reported with file and line.

What xenctl honours, as xendomains' ``stop`` and ``start`` did (Xen's tools/hotplug/Linux/init.d):

- ``XENDOMAINS_MIGRATE``: ``xm migrate``'s host and options to migrate each guest with at stop
  (``--live sim:///srv/xen2``: a host URI); a migration refused is said with its reason, counts
  as not stopped as asked, and falls through to the save (``stopping``).
- ``XENDOMAINS_SAVE`` (``/var/lib/xen/save``): save each guest there; empty: no save.
  xendomains' default directory is the host's own save directory.
- ``XENDOMAINS_SHUTDOWN`` (``--halt --wait``): a guest not saved is asked to shut down; without
  ``--wait`` it is not waited for; empty: not asked (``XENDOMAINS_SHUTDOWN_ALL``, the sweep over
  the guests still running, ``--all --halt --wait``, asks it then; empty too: it is left running).
- ``XENDOMAINS_STOP_MAXWAIT`` (300): seconds a guest may take to stop (0: no limit).
- ``XENDOMAINS_RESTORE`` (``true``): restore the saved guests at boot.
- ``XENDOMAINS_AUTO_ONLY`` (``false``): at stop, treat only the autostart entries' guests so;
  the others are left to the sweep.

These settings stop the guests whose entry has no ``xenctl-autostart`` line, and the guests
without an entry; an entry's own line says how its guest stops.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from xenctl.errors import ConfigError

XEN_SAVE_DIR = "/var/lib/xen/save"  # xendomains' default: the host's own save directory
DEFAULTS = {
    "XENDOMAINS_MIGRATE": "",
    "XENDOMAINS_SAVE": XEN_SAVE_DIR,
    "XENDOMAINS_SHUTDOWN": "--halt --wait",
    "XENDOMAINS_SHUTDOWN_ALL": "--all --halt --wait",
    "XENDOMAINS_STOP_MAXWAIT": "300",
    "XENDOMAINS_RESTORE": "true",
    "XENDOMAINS_AUTO_ONLY": "false",
}
SHUTDOWN_OPTIONS = {"--halt": "halt", "-H": "halt", "--wait": "wait", "-w": "wait"}
MAX_FILE = 1 << 20
_NAME = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_SPECIAL = set("$`;|&()<>\\")


@dataclass(frozen=True)
class Shutdown:
    """``xm shutdown``'s options: asked at all, and waited for."""

    asked: bool = True
    wait: bool = True


@dataclass(frozen=True)
class Settings:
    """What xendomains would do at stop and boot; ``file``: where it was read (None: defaults)."""

    file: str | None = None
    migrate: str = ""
    save: str = XEN_SAVE_DIR  # "": no save
    shutdown: Shutdown = Shutdown()
    shutdown_all: Shutdown = Shutdown()
    stop_maxwait: float = 300.0
    restore: bool = True
    auto_only: bool = False

    @property
    def source(self) -> str:
        return self.file or "xendomains' defaults"

    def save_dir(self, host_save_dir: str) -> str | None:
        """Where a guest is saved at stop: None if not at all."""
        if not self.save:
            return None
        return host_save_dir if os.path.normpath(self.save) == XEN_SAVE_DIR else self.save


def settings_file(xen_root: str) -> str | None:
    """The xendomains file beside a xen root ``<etc>/xen``: sysconfig, then default; None if neither."""
    etc = os.path.dirname(os.path.abspath(xen_root))
    for kind in ("sysconfig", "default"):
        path = os.path.join(etc, kind, "xendomains")
        if os.path.lexists(path):
            return path
    return None


def read_settings(xen_root: str) -> Settings:
    """xendomains' settings for the host of this xen root; ConfigError (file, line) if malformed."""
    path = settings_file(xen_root)
    if path is None:
        return Settings()
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror}", file=path) from None
    if len(data) > MAX_FILE:
        raise ConfigError(f"larger than {MAX_FILE // 1024} KiB; a settings file is not", file=path)
    return parse_settings(data.decode("utf-8", errors="replace"), path)


def parse_settings(text: str, path: str) -> Settings:
    values = dict(DEFAULTS)
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _NAME.match(stripped)
        if match is None:
            raise ConfigError("expected KEY=value: xenctl reads this file, never runs it", file=path, line=number)
        values[match.group(1)] = shell_value(stripped[match.end() :], path, number)
        lines[match.group(1)] = number

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{key}: {message}", file=path, line=lines.get(key))

    save = values["XENDOMAINS_SAVE"]
    if save and not os.path.isabs(save):
        raise fail("XENDOMAINS_SAVE", f"{save!r} is not an absolute directory (empty: do not save)")
    maxwait = values["XENDOMAINS_STOP_MAXWAIT"] or "0"
    if not maxwait.isdigit() or not maxwait.isascii():
        raise fail("XENDOMAINS_STOP_MAXWAIT", f"{maxwait!r} is not a whole number of seconds (0: no limit)")
    flags = {}
    for key in ("XENDOMAINS_RESTORE", "XENDOMAINS_AUTO_ONLY"):
        if values[key] not in ("true", "false", ""):
            raise fail(key, f"{values[key]!r} is not true or false")
        flags[key] = values[key] == "true"
    return Settings(
        file=path,
        migrate=values["XENDOMAINS_MIGRATE"].strip(),
        save=save,
        shutdown=_shutdown(values, "XENDOMAINS_SHUTDOWN", fail),
        shutdown_all=_shutdown(values, "XENDOMAINS_SHUTDOWN_ALL", fail),
        stop_maxwait=float(int(maxwait)),
        restore=flags["XENDOMAINS_RESTORE"],
        auto_only=flags["XENDOMAINS_AUTO_ONLY"],
    )


def _shutdown(values: dict[str, str], key: str, fail: Callable[[str, str], ConfigError]) -> Shutdown:
    words = values[key].split()
    if not words:
        return Shutdown(asked=False, wait=False)
    allowed = {**SHUTDOWN_OPTIONS, **({"--all": "all", "-a": "all"} if key.endswith("_ALL") else {})}
    for word in words:
        if word not in allowed:
            raise fail(key, f"{word!r} is not an option xenctl takes here ({', '.join(sorted(allowed))})")
    return Shutdown(asked=True, wait=any(SHUTDOWN_OPTIONS.get(w) == "wait" for w in words))


def shell_value(rest: str, path: str, line: int) -> str:
    """A shell assignment's value, as the shell would take it, if it expands and runs nothing:
    quoted and bare pieces run together, then nothing or a comment."""
    value: list[str] = []
    i = 0

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{message}: xenctl reads this file, never runs it", file=path, line=line)

    while i < len(rest) and not rest[i].isspace():
        char = rest[i]
        if char in "'\"":
            end = rest.find(char, i + 1)
            if end < 0:
                raise fail(f"a {char} that is never closed")
            piece = rest[i + 1 : end]
            if char == '"' and any(c in piece for c in "$`\\"):
                raise fail("a value the shell would expand ($, ` or \\)")
            value.append(piece)
            i = end + 1
        elif char in _SPECIAL:
            raise fail(f"{char!r} in a value: the shell would expand or run it")
        else:
            value.append(char)
            i += 1
    tail = rest[i:].strip()
    if tail and not tail.startswith("#"):
        raise fail(f"{tail.split()[0]!r} after the value would run as a command")
    return "".join(value)
