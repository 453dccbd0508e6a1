"""xend's own configuration, ``<xen root>/xend-config.sxp``: what it decides on this host.

The file is S-expressions, ``(key value...)`` one after another, ``#`` to the end of a line a
comment, values plain words or quoted strings. It is parsed here, never evaluated: nothing in it
runs. Of its many keys xenctl reads those the simulated host acts on: ``dom0-min-mem`` and
``enable-dom0-ballooning`` (how far Domain-0 balloons down for a guest, and the floor of its
``mem-set``), ``dom0-cpus`` (Domain-0's vCPUs, 0 for all), and the relocation settings
(``xend-relocation-server``, ``-port``, ``-hosts-allow``), kept for migration. Other keys
(network scripts, VNC, the HTTP server) are passed over, as xend passes over what it does not know.

Where the file is present, xend's values win over the host profile's: a key it does not set
takes xend's default, as xend would (``dom0-min-mem`` 0, and ballooning then off). A key given
twice takes its first value, as xend's ``sxp.child_value`` does. A malformed file is one
``ConfigError`` naming the file and the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from xenctl.engine.sim.profile import HostProfile
from xenctl.errors import ConfigError

FILE_NAME = "xend-config.sxp"
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
_TRUE = ("yes", "y", "true", "1")  # xend's get_config_bool
_FALSE = ("no", "n", "false", "0")
_TOKEN = re.compile(r"""\s+|#[^\n]*|\(|\)|'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s()'"#]+""", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|" + r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_Convert = Callable[[list[str]], object]


@dataclass(frozen=True)
class Setting:
    """One value xend decides, and where it came from (``file:line``, or xend's default)."""

    key: str  # xend's name for it
    value: object
    source: str


@dataclass(frozen=True)
class XendConfig:
    """What ``xend-config.sxp`` decides on this host."""

    path: str
    dom0_min_mem: int  # MiB; 0: no floor, and no ballooning
    enable_dom0_ballooning: bool
    dom0_cpus: int  # 0: every CPU
    relocation_server: bool
    relocation_port: int
    relocation_hosts_allow: tuple[str, ...]  # regular expressions; none: any host
    settings: tuple[Setting, ...]  # each of the above, with its source


def read_xend_config(xen_root: str) -> XendConfig | None:
    """``<xen_root>/xend-config.sxp`` read safely, or None when there is no such file."""
    return xend_config_of(read_xend_bytes(xen_root), xen_root)


def read_xend_bytes(xen_root: str) -> bytes | None:
    """The bytes of ``<xen_root>/xend-config.sxp`` (None: no such file), up to what one may hold."""
    path = os.path.join(xen_root, FILE_NAME)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read xend's configuration: {exc.strerror}", file=path) from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 1024} KiB; not an xend-config.sxp", file=path)
    return data


def xend_config_of(data: bytes | None, xen_root: str) -> XendConfig | None:
    """The settings of the bytes ``read_xend_bytes`` gave; ConfigError with the line for any mistake."""
    if data is None:
        return None
    path = os.path.join(xen_root, FILE_NAME)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text", file=path, line=line) from None
    return parse_xend_config(text, path)


def parse_xend_config(text: str, path: str) -> XendConfig:
    """The settings of an xend-config.sxp's text; ConfigError with the line for any mistake."""
    found: dict[str, tuple[list[str], int]] = {}
    for key, words, line in _entries(text, path):
        found.setdefault(key, (words, line))  # the first one counts, as in xend

    def take(key: str, default: object, convert: _Convert) -> Setting:
        if key not in found:
            return Setting(key, default, "xend's default")
        values, line = found[key]
        try:
            return Setting(key, convert(values), f"{path}:{line}")
        except ValueError as exc:
            shown = " ".join(values)
            raise ConfigError(f"({key} {shown}): {exc}", file=path, line=line) from None

    min_mem = take("dom0-min-mem", 0, _whole("MB"))
    settings = (
        min_mem,
        take("enable-dom0-ballooning", min_mem.value != 0, _boolean),
        take("dom0-cpus", 0, _whole("CPUs")),
        take("xend-relocation-server", False, _boolean),
        take("xend-relocation-port", 8002, _port),
        take("xend-relocation-hosts-allow", (), _patterns),
    )
    values: list[object] = [setting.value for setting in settings]
    return XendConfig(
        path,
        dom0_min_mem=int(str(values[0])),
        enable_dom0_ballooning=values[1] is True,
        dom0_cpus=int(str(values[2])),
        relocation_server=values[3] is True,
        relocation_port=int(str(values[4])),
        relocation_hosts_allow=tuple(str(v) for v in values[5]) if isinstance(values[5], tuple) else (),
        settings=settings,
    )


def _entries(text: str, path: str) -> list[tuple[str, list[str], int]]:
    """Each top-level ``(key value...)``: its key, its plain values and its line. Nested lists
    (xend has some, such as ``(xend-relocation-ssl ...)``) are read for balance, and skipped."""
    entries: list[tuple[str, list[str], int]] = []
    stack: list[tuple[list[str], int]] = []  # the words and the line of each open '('
    line = 1
    for match in _TOKEN.finditer(text):
        token = match.group()
        start_line = line
        line += token.count("\n")
        if token[0].isspace() or token[0] == "#":
            continue
        if token == "(":
            if len(stack) >= MAX_DEPTH:
                raise ConfigError("lists nest too deeply", file=path, line=start_line)
            stack.append(([], start_line))
        elif token == ")":
            if not stack:
                raise ConfigError("a ')' without its '('", file=path, line=start_line)
            words, opened = stack.pop()
            if stack:
                stack[-1][0].append("(...)")
            elif not words or words[0] == "(...)":
                raise ConfigError("an entry needs a key: (key value)", file=path, line=opened)
            else:
                entries.append((words[0], words[1:], opened))
        elif not stack:
            raise ConfigError(f"{_short(token)} is outside any (key value)", file=path, line=start_line)
        else:
            stack[-1][0].append(_unquote(token, path, start_line))
    if stack:
        raise ConfigError("this '(' is never closed", file=path, line=stack[-1][1])
    return entries


def _unquote(token: str, path: str, line: int) -> str:
    if token[0] not in "'\"":
        return token
    if not _QUOTED.fullmatch(token):
        raise ConfigError("this quoted string is never closed", file=path, line=line)
    return re.sub(r"\\(.)", r"\1", token[1:-1], flags=re.DOTALL)


def _short(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown)


def _one(values: list[str]) -> str:
    if len(values) != 1:
        raise ValueError(f"takes one value, not {len(values)}")
    return values[0]


def _whole(unit: str) -> _Convert:
    def convert(values: list[str]) -> object:
        value = _one(values)
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise ValueError(f"{_short(value)} is not a whole number of {unit}")
        return int(value)

    return convert


def _boolean(values: list[str]) -> object:
    value = _one(values).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{_short(values[0])} is not yes or no")


def _port(values: list[str]) -> object:
    value = _one(values)
    if not value.isascii() or not value.isdigit() or not 0 < int(value[:6]) < 65536:
        raise ValueError(f"{_short(value)} is not a port number (1 to 65535)")
    return int(value)


def _patterns(values: list[str]) -> object:
    patterns = tuple(word for value in values for word in value.split())
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{_short(pattern)} is not a regular expression ({exc})") from None
    return patterns


def overlay(profile: HostProfile, xend: XendConfig | None) -> HostProfile:
    """The host profile with what xend's configuration decides in its place."""
    if xend is None:
        return profile
    lines = {setting.key: setting.source.rpartition(":")[2] for setting in xend.settings}
    if xend.dom0_cpus > profile.cpus:
        line = int(lines["dom0-cpus"])
        raise ConfigError(f"(dom0-cpus {xend.dom0_cpus}): the host has {profile.cpus} CPUs", file=xend.path, line=line)
    if xend.dom0_min_mem > profile.dom0_initial_memory:
        line = int(lines["dom0-min-mem"])
        raise ConfigError(
            f"(dom0-min-mem {xend.dom0_min_mem}): more than Domain-0's {profile.dom0_initial_memory} MB",
            file=xend.path,
            line=line,
        )
    return replace(
        profile,
        dom0_min_mem=xend.dom0_min_mem,
        dom0_ballooning=xend.enable_dom0_ballooning,
        dom0_vcpus=xend.dom0_cpus or None,
    )
