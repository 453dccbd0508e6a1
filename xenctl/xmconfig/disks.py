"""The disk specification grammar of xm and xl, and vif entries, into typed values.

Two forms are read (shared/XEN.md, section 6):

- xl's: comma-separated ``key=value`` pairs, flags and positional values. Positional values fill
  target, format, vdev and access in that order (an empty one keeps the default); each
  parameter may be given once; ``target=`` must come last and takes the rest of the string,
  commas included. ``access`` is ``r``/``ro`` or ``w``/``rw``.
- the legacy form of xm configs, ``[<prefix>:]<target>,<vdev>[:<devtype>],<access>``, which xl
  still reads: ``phy:hda3,sda1,w``, ``file:/x.img,sda1,w``, ``tap:aio:/x.img,xvda,w``,
  ``,hdc:cdrom,r``. Here ``access`` may also be xm's ``w!``. Prefixes ``raw: qcow: qcow2: vhd:``
  set the format, ``iscsi: nbd: enbd: drbd:`` set ``script=block-<name>``, and ``phy: file: tap:
  tap2: tapdisk: aio: ioemu:`` are dropped, as xl drops them (xenctl remembers them to know a
  file from a device).

A target without a leading ``/`` gets ``/dev/`` prepended (``hda3`` is ``/dev/hda3``), unless a
script handles it (``nbd:134.100.233.115 20004`` is a network block device, its server and port).
Only a cdrom may lack a target: an empty removable drive (``,hdc:cdrom,r``, or xl's
``format=empty``), which holds no device. xm's ``ioemu:`` before a vdev (``ioemu:hda``: an
emulated disk only, in old HVM configs) is dropped, as the disk of an HVM guest is emulated anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from xenctl.engine.api import DiskMode, DomainDisk, Vif
from xenctl.errors import ConfigError

FORMATS = ("raw", "qcow", "qcow2", "vhd", "qed")
BACKENDTYPES = ("phy", "qdisk", "tap", "standalone")
FLAGS = ("discard", "no-discard", "trusted", "untrusted", "direct-io-safe")
_FORMAT_PREFIXES = ("raw", "qcow", "qcow2", "vhd")
_SCRIPT_PREFIXES = ("iscsi", "nbd", "enbd", "drbd")
_DROPPED_PREFIXES = ("phy", "file", "tap", "tap2", "tapdisk", "aio", "ioemu")
_ACCESS = {"r": "r", "ro": "r", "w": "w", "rw": "w"}
_PREFIX = re.compile(r"^[a-z][a-z0-9]*$")  # what xl's lexer takes for a "prefix:"


class DiskSpecError(ConfigError):
    """A disk or vif entry that does not parse; the message says which part and why."""


@dataclass(frozen=True)
class XmDisk:
    """One parsed disk entry. ``to_json`` gives the shape scripts rely on."""

    target: str | None
    vdev: str
    format: str = "raw"
    access: str = "w"  # "r", "w" or (xm only) "w!"
    devtype: str = "disk"  # "disk" or "cdrom"
    backendtype: str | None = None
    script: str | None = None
    backend: str | None = None  # the backend domain, if not Domain-0
    prefixes: tuple[str, ...] = ()  # the legacy prefixes, as written (phy, file, tap, aio ...)
    flags: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "vdev": self.vdev,
            "format": self.format,
            "access": self.access,
            "devtype": self.devtype,
            "backendtype": self.backendtype,
            "script": self.script,
        }

    def to_domain_disk(self) -> DomainDisk:
        """The disk as the engine connects it: a device (phy), a file on a loop device, tap, a
        network block device (nbd), or an empty removable drive."""
        cdrom = self.devtype == "cdrom"
        if not self.target:
            return DomainDisk("", self.vdev, DiskMode.READ, "phy", cdrom=True)
        if self.script is not None:
            if self.script != "block-nbd":
                raise DiskSpecError(f"{self.vdev}: xenctl connects no {self.script} disks (nbd: it does)")
            return DomainDisk(self.target, self.vdev, DiskMode(self.access), "nbd", cdrom=cdrom)
        if "tap" in self.prefixes or "tap2" in self.prefixes or self.backendtype == "tap":
            kind = "tap:" + next((p for p in self.prefixes if p not in ("tap", "tap2")), "aio")
        elif "file" in self.prefixes:
            kind = "file"
        elif "phy" in self.prefixes or self.backendtype == "phy" or self.target.startswith("/dev/"):
            kind = "phy"
        else:
            kind = "file"
        return DomainDisk(self.target, self.vdev, DiskMode(self.access), kind, cdrom=cdrom)


def parse_disk(spec: str) -> XmDisk:
    """Parse one disk entry in either form; raises DiskSpecError naming what is wrong."""
    if not isinstance(spec, str):
        raise DiskSpecError(f"a disk entry is a string, not {type(spec).__name__}")
    text = spec.lstrip()
    positional: list[str] = []
    keyed: dict[str, str] = {}
    flags: list[str] = []
    while True:
        if text.startswith("target="):
            keyed["target"] = text[len("target=") :]  # the rest, commas and all
            break
        token, comma, rest = text.partition(",")
        token = token.strip()
        if "=" in token:
            key, _, value = token.partition("=")
            key = key.strip()
            if key in keyed:
                raise DiskSpecError(f"{key} is given twice in {spec!r}")
            keyed[key] = value.strip()
        elif token in FLAGS or token == "cdrom":
            flags.append(token)
        else:
            positional.append(token)
        if not comma:
            break
        text = rest.lstrip()
    if _is_legacy(positional, keyed):
        return _legacy(spec, positional, keyed, flags)
    if len(positional) == 2 and not keyed and positional[1].split(":")[0] not in (*FORMATS, "empty", ""):
        raise DiskSpecError(f"Invalid disk specifier {spec!r}: xm's form is uname,dev,mode (phy:hda3,sda1,w)")
    return _modern(spec, positional, keyed, flags)


def _is_legacy(positional: list[str], keyed: dict[str, str]) -> bool:
    """xm's form, uname,dev,mode[,backend[,protocol]]: its second part is a vdev, where xl's would
    be a format."""
    if len(positional) not in (3, 4, 5) or keyed:
        return False
    second = positional[1].split(":")[0]
    if len(positional) > 3 and positional[2] not in ("r", "w", "w!", "ro", "rw"):
        return False
    return second not in (*FORMATS, "empty", "")


def _strip_prefixes(spec: str, target: str) -> tuple[str, list[str], str | None, str | None]:
    """Remove legacy ``prefix:`` parts from a target: (target, prefixes, format, script)."""
    prefixes: list[str] = []
    fmt: str | None = None
    script: str | None = None
    while True:
        head, colon, rest = target.partition(":")
        if not colon or not _PREFIX.match(head):
            break
        if head in _FORMAT_PREFIXES:
            fmt = head
        elif head in _SCRIPT_PREFIXES:
            script = f"block-{head}"
        elif head not in _DROPPED_PREFIXES:
            raise DiskSpecError(f"unknown deprecated disk prefix {head!r} in {spec!r}")
        prefixes.append(head)
        target = rest
    return target, prefixes, fmt, script


def _legacy(spec: str, positional: list[str], keyed: dict[str, str], flags: list[str]) -> XmDisk:
    raw_target, vdev_part, access_part = positional[:3]
    backend = positional[3] or None if len(positional) > 3 else None  # a driver domain; protocol after
    target, prefixes, fmt, script = _strip_prefixes(spec, raw_target)
    vdev, _, devtype = vdev_part.removeprefix("ioemu:").partition(":")
    devtype = devtype or ("cdrom" if "cdrom" in flags else "disk")
    if devtype not in ("disk", "cdrom"):
        raise DiskSpecError(f"unknown value for type {devtype!r} in {spec!r}")
    if access_part not in ("r", "w", "w!", "ro", "rw"):
        raise DiskSpecError(f"Invalid mode {access_part!r} in {spec!r}; use r, w or w!")
    access = "w!" if access_part == "w!" else _ACCESS[access_part]
    return _finish(spec, target or None, vdev, fmt, access, devtype, None, script, backend, prefixes, flags)


def _modern(spec: str, positional: list[str], keyed: dict[str, str], flags: list[str]) -> XmDisk:
    names = ("target", "format", "vdev", "access")
    values: dict[str, str | None] = {}
    if len(positional) > len(names):
        raise DiskSpecError(f"too many positional parameters in {spec!r}")
    for name, value in zip(names, positional, strict=False):
        values[name] = value or None
    for key, value in keyed.items():
        if key in names:
            if values.get(key) is not None:
                raise DiskSpecError(f"{key} is given twice in {spec!r}")
            values[key] = value
        elif key not in ("devtype", "backendtype", "script", "backend"):
            raise DiskSpecError(f"unknown parameter {key!r} in {spec!r}")
    devtype = keyed.get("devtype") or ("cdrom" if "cdrom" in flags else "disk")
    if devtype not in ("disk", "cdrom"):
        raise DiskSpecError(f"unknown value for type {devtype!r} in {spec!r}")
    backendtype = keyed.get("backendtype")
    if backendtype is not None and backendtype not in BACKENDTYPES:
        raise DiskSpecError(f"unknown value for backendtype {backendtype!r} in {spec!r}")
    fmt = values.get("format")
    if fmt == "empty":  # xl's empty removable drive
        if devtype != "cdrom":
            raise DiskSpecError(f"only a removable drive (cdrom) may be empty in {spec!r}")
        if values.get("target"):
            raise DiskSpecError(f"an empty drive (format=empty) takes no target in {spec!r}")
    elif fmt is not None and fmt not in FORMATS:
        raise DiskSpecError(f"unknown value for format {fmt!r} in {spec!r}")
    access_text = values.get("access")
    if access_text is not None and access_text not in _ACCESS:
        raise DiskSpecError(f"unknown value for access {access_text!r} in {spec!r}")
    target, prefixes, prefix_format, script = _strip_prefixes(spec, values.get("target") or "")
    if prefix_format is not None:
        fmt = fmt or prefix_format
    script = keyed.get("script") or script
    access = _ACCESS[access_text] if access_text else ("r" if devtype == "cdrom" else "w")
    return _finish(
        spec,
        target or None,
        values.get("vdev") or "",
        fmt,
        access,
        devtype,
        backendtype,
        script,
        keyed.get("backend"),
        prefixes,
        flags,
    )


def _finish(
    spec: str,
    target: str | None,
    vdev: str,
    fmt: str | None,
    access: str,
    devtype: str,
    backendtype: str | None,
    script: str | None,
    backend: str | None,
    prefixes: list[str],
    flags: list[str],
) -> XmDisk:
    if not vdev:
        raise DiskSpecError(f"no vdev specified in {spec!r}")
    if devtype == "cdrom" and access != "r":
        raise DiskSpecError(f"a cdrom is read-only; {spec!r} asks for {access}")
    if target is None:
        if devtype != "cdrom":
            raise DiskSpecError(f"no target specified (and device not removable) in {spec!r}")
        return XmDisk("", vdev, "empty", "r", "cdrom", backendtype, script, backend, tuple(prefixes), tuple(flags))
    if not target.startswith("/") and script is None:
        target = f"/dev/{target}"
    return XmDisk(
        target, vdev, fmt or "raw", access, devtype, backendtype, script, backend, tuple(prefixes), tuple(flags)
    )


def format_disk(disk: DomainDisk) -> str:
    """A disk as xm writes it: ``phy:/dev/hda3,sda1,w``; xl reads it too (except ``w!``). An
    empty removable drive is ``,hdc:cdrom,r``, a removable drive with a disc ``...,hdc:cdrom,r``.

    A target with a comma cannot be said that way; it is written in xl's form, ``target=`` last.
    """
    vdev = f"{disk.vdev}:cdrom" if disk.cdrom else disk.vdev
    if disk.empty:
        return f",{vdev},r"
    if "," in disk.target:
        if disk.mode.value == "w!":
            raise DiskSpecError(f"{disk.target!r} has a comma, which only xl's form can write, and xl has no w!")
        cdrom = ", devtype=cdrom" if disk.cdrom else ""
        return f"vdev={disk.vdev}, access={disk.mode.value}{cdrom}, target={disk.target}"
    return f"{disk.backend}:{disk.target},{vdev},{disk.mode.value}"


def parse_vif(spec: str) -> Vif:
    """One vif entry: ``''`` (defaults), or ``mac=00:16:3e:..., bridge=xenbr0, ...``."""
    if not isinstance(spec, str):
        raise DiskSpecError(f"a vif entry is a string, not {type(spec).__name__}")
    settings: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key, equals, value = part.partition("=")
        if not equals:
            raise DiskSpecError(f"vif setting {part!r} is not key=value in {spec!r}")
        settings[key.strip()] = value.strip()
    kind = settings.get("type") or None
    if kind not in (None, "ioemu", "netfront"):
        raise DiskSpecError(f"vif type {kind!r} is not ioemu or netfront in {spec!r}")
    return Vif(
        bridge=settings.get("bridge") or "xenbr0",
        mac=settings.get("mac") or None,
        type=kind,
        model=settings.get("model") or None,
    )


def format_vif(vif: Vif) -> str:
    parts = [f"type={vif.type}"] if vif.type else []
    parts += [f"mac={vif.mac}"] if vif.mac else []
    parts.append(f"bridge={vif.bridge}")
    parts += [f"model={vif.model}"] if vif.model else []
    return ", ".join(parts)
