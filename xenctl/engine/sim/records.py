"""DomainConfig to and from plain data: for the host file's JSON column and for save files."""

from __future__ import annotations

from typing import Any

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, OnEvent, Vif

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
_EVENTS = ("on_poweroff", "on_reboot", "on_crash")


def config_to_dict(config: DomainConfig, *, with_disks: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {key: getattr(config, key) for key in _SCALARS}
    for key in _EVENTS:
        data[key] = getattr(config, key).value
    data["vifs"] = [{"bridge": v.bridge, "mac": v.mac} for v in config.vifs]
    if with_disks:
        data["disks"] = [disk_to_dict(d) for d in config.disks]
    return data


def disk_to_dict(disk: DomainDisk) -> dict[str, str]:
    return {"target": disk.target, "vdev": disk.vdev, "mode": disk.mode.value, "backend": disk.backend}


def disk_from_dict(data: dict[str, Any]) -> DomainDisk:
    return DomainDisk(
        target=str(data["target"]),
        vdev=str(data["vdev"]),
        mode=DiskMode(data.get("mode", "w")),
        backend=str(data.get("backend", "phy")),
    )


def config_from_dict(data: dict[str, Any], disks: tuple[DomainDisk, ...] | None = None) -> DomainConfig:
    values: dict[str, Any] = {key: data.get(key) for key in _SCALARS if data.get(key) is not None}
    for key in _EVENTS:
        if data.get(key):
            values[key] = OnEvent(data[key])
    values["vifs"] = tuple(Vif(bridge=v.get("bridge") or "xenbr0", mac=v.get("mac")) for v in data.get("vifs", ()))
    if disks is None:
        disks = tuple(disk_from_dict(d) for d in data.get("disks", ()))
    values["disks"] = disks
    return DomainConfig(**values)
