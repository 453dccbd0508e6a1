"""DomainConfig to and from plain data: for the host file's JSON column and for save files."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, OnEvent, Vif

_SCALARS = (
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
    "nfs_server",
    "nfs_root",
    "ip",
    "uuid",
    "shadow_memory",
)
_SCALAR_SET = frozenset(_SCALARS)
_EVENTS = ("on_poweroff", "on_reboot", "on_crash")


_DEFAULTS = DomainConfig(name="")


def config_to_dict(config: DomainConfig, *, with_disks: bool = True) -> dict[str, Any]:
    """The fields that differ from the defaults (so a large host's file stays small and quick)."""
    data: dict[str, Any] = {"name": config.name}
    for key in _SCALARS:
        value = getattr(config, key)
        if value is not None and value != getattr(_DEFAULTS, key):
            data[key] = value
    for key in _EVENTS:
        if getattr(config, key) != getattr(_DEFAULTS, key):
            data[key] = getattr(config, key).value
    if config.vifs:
        data["vifs"] = [_vif_to_dict(v) for v in config.vifs]
    if config.hvm is not None:
        data["hvm"] = {key: value for key, value in asdict(config.hvm).items() if value is not None}
    if with_disks:
        data["disks"] = [disk_to_dict(d) for d in config.disks]
    else:  # the disks table has no column for it: which of them are removable drives
        cdroms = [d.vdev for d in config.disks if d.cdrom]
        if cdroms:
            data["cdroms"] = cdroms
    return data


def _vif_to_dict(vif: Vif) -> dict[str, str | None]:
    data = {"bridge": vif.bridge, "mac": vif.mac}
    if vif.type is not None or vif.model is not None:
        data.update(type=vif.type, model=vif.model)
    return data


def disk_to_dict(disk: DomainDisk) -> dict[str, Any]:
    data: dict[str, Any] = {"target": disk.target, "vdev": disk.vdev, "mode": disk.mode.value, "backend": disk.backend}
    if disk.cdrom:
        data["cdrom"] = True
    return data


# Enum members by value: a dict lookup is several times cheaper than calling the enum, and a
# snapshot of a large host makes tens of thousands of them.
MODES = {mode.value: mode for mode in DiskMode}
ON_EVENTS = {event.value: event for event in OnEvent}


def disk_from_dict(data: dict[str, Any]) -> DomainDisk:
    return DomainDisk(
        target=str(data["target"]),
        vdev=str(data["vdev"]),
        mode=MODES[data.get("mode", "w")],
        backend=str(data.get("backend", "phy")),
        cdrom=bool(data.get("cdrom", False)),
    )


def config_from_dict(data: dict[str, Any], disks: tuple[DomainDisk, ...] | None = None) -> DomainConfig:
    values: dict[str, Any] = {key: value for key, value in data.items() if key in _SCALAR_SET and value is not None}
    for key in _EVENTS:
        if data.get(key):
            values[key] = ON_EVENTS[data[key]]
    values["vifs"] = tuple(
        Vif(bridge=v.get("bridge") or "xenbr0", mac=v.get("mac"), type=v.get("type"), model=v.get("model"))
        for v in data.get("vifs", ())
    )
    if disks is None:
        disks = tuple(disk_from_dict(d) for d in data.get("disks", ()))
    cdroms = set(data.get("cdroms", ()))
    if cdroms:
        disks = tuple(replace(d, cdrom=True) if d.vdev in cdroms else d for d in disks)
    values["disks"] = disks
    if data.get("hvm") is not None:
        values["hvm"] = HvmConfig(**data["hvm"])
    return DomainConfig(**values)
