"""From a read config file to the domain it describes, and back to a config file.

``to_domain_config`` maps xm's keys (shared/XEN.md, section 5) onto ``DomainConfig``: ``name``
(default: the file's base name), ``memory`` (MiB, default 128), ``maxmem``, ``vcpus``,
``maxvcpus`` (xl), ``kernel``, ``ramdisk``, ``bootloader``, ``builder``, ``root``, ``extra``,
``disk``, ``vif``, ``on_poweroff``/``on_reboot``/``on_crash``, ``nfs_server`` + ``nfs_root``,
``ip``, ``uuid``, ``shadow_memory``, and for an HVM guest (``builder = 'hvm'``) its device model
and emulated hardware (``xmconfig.hvm``). A bare ``hvmloader`` or ``pv-grub*.gz`` kernel is the
file in Xen's boot directory, where xend looked for it. Keys it does not carry (``vfb``, ``pci``,
``cpus``, ...) are listed in ``ignored`` so callers can say what was left behind.

``write_config`` writes a domain as a file of plain literals: valid Python for xm and valid
``KEY = VALUE`` for xl, and read back by ``read_config`` to the same domain.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from xenctl.engine.api import DomainConfig, DomainDisk, HvmConfig, OnEvent, Vif
from xenctl.errors import ConfigError
from xenctl.xmconfig.disks import DiskSpecError, XmDisk, format_disk, format_vif, parse_disk, parse_vif
from xenctl.xmconfig.hvm import HVMLOADER, XEN_BOOT_DIR, hvm_lines, is_hvm, read_hvm, xen_path
from xenctl.xmconfig.hvm import KEYS as HVM_KEYS
from xenctl.xmconfig.reader import INTEGER, ConfigFile

CARRIED = (
    "name",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "kernel",
    "ramdisk",
    "bootloader",
    "builder",
    "root",
    "extra",
    "disk",
    "vif",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "nfs_server",
    "nfs_root",
    "ip",
    "uuid",
    "shadow_memory",
)
_ON_EVENTS = {e.value for e in OnEvent}


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ConfigDomain:
    """A domain read from a config file, with its parsed disks and what was not carried over."""

    config: DomainConfig
    disks: tuple[XmDisk, ...]
    ignored: tuple[str, ...]


class _Options:
    """A config's options read as the types xm gave them; each refusal names the key and its line."""

    def __init__(self, parsed: ConfigFile) -> None:
        self.parsed = parsed
        self.options = parsed.options

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{key}: {message}", file=self.parsed.path, line=self.parsed.lines.get(key))

    def integer(self, key: str, default: int | None, limit: int = 1 << 31) -> int | None:
        value = self.options.get(key, default)
        if value is None:
            return None
        if isinstance(value, str) and INTEGER.match(value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{_brief(value)} is not a whole number")
        if not 0 <= value <= limit:
            raise self.fail(key, f"{value} is out of range (0 to {limit})")
        return value

    def text(self, key: str) -> str | None:
        value = self.options.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"{_brief(value)} is not a string")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.options.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return list(value)

    def on_event(self, key: str, default: OnEvent) -> OnEvent:
        value = self.text(key)
        if value is None:
            return default
        if value not in _ON_EVENTS:
            raise self.fail(key, f"{_brief(value)} is not one of {', '.join(sorted(_ON_EVENTS))}")
        return OnEvent(value)

    def disks(self) -> tuple[list[XmDisk], tuple[DomainDisk, ...]]:
        """The disk entries as written, and as the engine connects them."""
        written: list[XmDisk] = []
        try:
            for entry in self.strings("disk"):
                written.append(parse_disk(entry))
            return written, tuple(d.to_domain_disk() for d in written)
        except DiskSpecError as exc:
            raise self.fail("disk", exc.reason) from None

    def vifs(self) -> tuple[Vif, ...]:
        try:
            return tuple(parse_vif(v) for v in self.strings("vif"))
        except DiskSpecError as exc:
            raise self.fail("vif", exc.reason) from None

    def boot(self) -> tuple[str, str | None, HvmConfig | None]:
        """(builder, kernel, HVM settings): an HVM guest's kernel is hvmloader unless it names
        another loader; a bare hvmloader or pv-grub is the file in Xen's boot directory."""
        builder = self.text("builder") or "linux"
        kernel = self.text("kernel")
        if is_hvm(builder):
            return "hvm", xen_path(kernel or HVMLOADER, XEN_BOOT_DIR), read_hvm(self.options, self.fail)
        if kernel is not None and kernel.startswith("pv-grub"):
            kernel = xen_path(kernel, XEN_BOOT_DIR)
        return builder, kernel, None


def to_domain_config(parsed: ConfigFile) -> ConfigDomain:
    read = _Options(parsed)
    options = parsed.options
    written, disks = read.disks()
    vifs = read.vifs()
    name = read.text("name") or os.path.basename(parsed.path)
    if bool(options.get("nfs_server")) != bool(options.get("nfs_root")):
        given = "nfs_server" if options.get("nfs_server") else "nfs_root"
        raise read.fail(given, "Must set nfs root and nfs server")
    memory = read.integer("memory", 128)
    vcpus = read.integer("vcpus", 1)
    builder, kernel, hvm = read.boot()
    config = DomainConfig(
        name=name,
        memory=128 if memory is None else memory,  # 0 or less is Xen's to refuse, not ours to mend
        maxmem=read.integer("maxmem", None),
        vcpus=1 if vcpus is None else vcpus,
        maxvcpus=read.integer("maxvcpus", None),
        kernel=kernel,
        ramdisk=read.text("ramdisk"),
        bootloader=read.text("bootloader"),
        builder=builder,
        root=read.text("root"),
        extra=read.text("extra"),
        disks=disks,
        vifs=vifs,
        on_poweroff=read.on_event("on_poweroff", OnEvent.DESTROY),
        on_reboot=read.on_event("on_reboot", OnEvent.RESTART),
        on_crash=read.on_event("on_crash", OnEvent.RESTART),
        nfs_server=read.text("nfs_server"),
        nfs_root=read.text("nfs_root"),
        ip=read.text("ip"),
        uuid=read.text("uuid"),
        shadow_memory=read.integer("shadow_memory", 0) or 0,
        hvm=hvm,
    )
    ignored = tuple(key for key in options if key not in CARRIED and (hvm is None or key not in HVM_KEYS))
    return ConfigDomain(config, tuple(written), ignored)


def _literal(value: Any) -> str:
    """A Python literal that xl reads the same way (double-quoted strings, [lists], numbers).

    Strings are written as JSON writes them: quotes, backslashes and every control character
    escaped, which Python reads back the same.
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[ " + ", ".join(_literal(v) for v in value) + " ]" if value else "[]"
    return str(value)


def config_lines(config: DomainConfig) -> list[tuple[str, Any]]:
    """The config's settings as (key, value) pairs, defaults left out, in xmexample1's order."""
    items: list[tuple[str, Any]] = []
    for key in ("kernel", "ramdisk", "bootloader"):
        if getattr(config, key) is not None:
            items.append((key, getattr(config, key)))
    if config.builder != "linux":
        items.append(("builder", config.builder))
    if config.hvm is not None:
        items += hvm_lines(config.hvm)
    items.append(("memory", config.memory))
    if config.maxmem is not None:
        items.append(("maxmem", config.maxmem))
    items.append(("name", config.name))
    if config.uuid is not None:
        items.append(("uuid", config.uuid))
    items.append(("vcpus", config.vcpus))
    if config.maxvcpus is not None:
        items.append(("maxvcpus", config.maxvcpus))
    if config.vifs:
        items.append(("vif", [format_vif(v) for v in config.vifs]))
    if config.disks:
        items.append(("disk", [format_disk(d) for d in config.disks]))
    for key in ("root", "extra", "nfs_server", "nfs_root", "ip"):
        if getattr(config, key) is not None:
            items.append((key, getattr(config, key)))
    for key, default in (
        ("on_poweroff", OnEvent.DESTROY),
        ("on_reboot", OnEvent.RESTART),
        ("on_crash", OnEvent.RESTART),
    ):
        if getattr(config, key) is not default:
            items.append((key, getattr(config, key).value))
    if config.shadow_memory:
        items.append(("shadow_memory", config.shadow_memory))
    return items


def write_config(config: DomainConfig, *, header: str = "") -> str:
    """The domain as an xm/xl config file; ``header`` becomes comment lines at the top."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"{key} = {_literal(value)}" for key, value in config_lines(config)]
    return "\n".join(lines) + "\n"
