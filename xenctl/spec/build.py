"""Building the model of one schema-valid spec file: the conversions that can still fail.

Sizes, memory and durations are parsed here; a value the schema's patterns allow but that cannot
be held (memory past 16T, a size of a fraction of a KiB) is an issue at its field.
"""

from __future__ import annotations

from typing import Any

from xenctl.errors import SpecIssue
from xenctl.spec.devices import disk_from_data, hvm_from_data, vif_from_data
from xenctl.spec.locate import Locator, SpecFile
from xenctl.spec.model import (
    AutostartSpec,
    DesiredPower,
    DesiredState,
    DomainSpec,
    HostSpec,
    InstallSpec,
    NfsExportSpec,
    Origin,
    StopMode,
    VolumeGroupSpec,
    VolumeKind,
    VolumeSpec,
)
from xenctl.units import MIB, UnitError, parse_duration, parse_size

MAX_MEMORY = 16 * 1024 * 1024  # MiB: 16T, as the schema allows


def _memory(value: Any, at: Origin, field: tuple[str, ...], locator: Locator, issues: list[SpecIssue]) -> int:
    """Memory in MiB: a bare number is MiB (as in xm configs), a size must be whole MiB. (The
    field's origin, ``at`` and ``field``, is made only for an issue: 10,000 domains make none.)"""
    if isinstance(value, int):
        return value
    origin = at.at(*field)
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


def build_quickly(spec: SpecFile, locator: Locator) -> DesiredState | None:
    """Build a file the fast check passed; None sends it to the reference validator instead
    (should the two validators ever disagree, the reference one speaks)."""
    found: list[SpecIssue] = []
    try:
        built = build_file(spec, locator, found)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return built if not found else None


def build_file(spec: SpecFile, locator: Locator, issues: list[SpecIssue]) -> DesiredState | None:
    """The model of one schema-valid file (only value conversions can still fail here)."""
    data = spec.data
    base = Origin(spec.path)
    before = len(issues)
    storage = data.get("storage") or {}
    vgs = tuple(
        VolumeGroupSpec(
            vg["name"], tuple(_dev(p) for p in vg["pvs"]), base.at("storage", "volume_groups", i), vg.get("host")
        )
        for i, vg in enumerate(storage.get("volume_groups") or ())
    )
    volumes = []
    for i, v in enumerate(storage.get("volumes") or ()):
        origin = Origin(spec.path, ("storage", "volumes", i))
        try:
            volumes.append(_volume(v, origin))
        except UnitError as exc:  # a size the pattern allows but bytes cannot hold (0.1K)
            kind = "lvm" if "lvm" in v else "file"
            issues.append(locator.issue(origin.at(kind, "size"), str(exc)))
    exports = tuple(
        NfsExportSpec(e["name"], e["server"], e["path"], base.at("storage", "nfs_exports", i), e.get("host"))
        for i, e in enumerate(storage.get("nfs_exports") or ())
    )
    domains = tuple(
        _domain(d, Origin(spec.path, ("domains", i)), locator, issues) for i, d in enumerate(data.get("domains") or ())
    )
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
    hosts = tuple(_host(h, base.at("hosts", i), locator, issues) for i, h in enumerate(data.get("hosts") or ()))
    if len(issues) > before:
        return None
    return DesiredState(domains, vgs, tuple(volumes), exports, tuple(autostart), (spec.path,), hosts)


def _host(data: dict[str, Any], origin: Origin, locator: Locator, issues: list[SpecIssue]) -> HostSpec:
    capacity = data.get("capacity") or {}
    memory = None
    if "memory" in capacity:
        memory = _memory(capacity["memory"], origin, ("capacity", "memory"), locator, issues)
    return HostSpec(
        name=data["name"],
        connect=data["connect"],
        labels=tuple(data.get("labels") or ()),
        memory=memory,
        vcpus=int(capacity["vcpus"]) if "vcpus" in capacity else None,
        origin=origin,
    )


def _dev(path: str) -> str:
    return path if path.startswith("/") else f"/dev/{path}"


def _volume(data: dict[str, Any], origin: Origin) -> VolumeSpec:
    if "lvm" in data:  # most volumes: made with no dict of common fields
        lvm = data["lvm"]
        snapshot_of = lvm.get("snapshot_of")
        return VolumeSpec(
            data["name"],
            VolumeKind.SNAPSHOT if snapshot_of else VolumeKind.LVM,
            size=parse_size(lvm["size"], whole_kib=True),
            vg=lvm["vg"],
            snapshot_of=snapshot_of,
            filesystem=data.get("filesystem"),
            populate=data.get("populate"),
            origin=origin,
            host=data.get("host"),
        )
    common: dict[str, Any] = {
        "filesystem": data.get("filesystem"),
        "populate": data.get("populate"),
        "origin": origin,
        "host": data.get("host"),
    }
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


def _domain(data: dict[str, Any], origin: Origin, locator: Locator, issues: list[SpecIssue]) -> DomainSpec:
    memory = _memory(data.get("memory", 128), origin, ("memory",), locator, issues)
    maxmem = _memory(data["maxmem"], origin, ("maxmem",), locator, issues) if "maxmem" in data else None
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
        host=data.get("host"),
        spread=data.get("spread"),
        host_labels=tuple(data.get("host_labels") or ()),
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
