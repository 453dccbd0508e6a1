"""A domain's devices in a spec file, to the model and back: disks, network cards, HVM hardware.

The loader and ``dump`` share these so that what one writes the other reads to the same value.

- A disk names exactly one of ``volume``, ``phy``, ``file`` or ``nbd`` (``{host, port}``: a
  network block device), or none at all when it is a removable drive (``cdrom: true``) with no
  disc in it: an empty drive, as xm's ``,hdc:cdrom,r``.
- A vif may say ``type: ioemu`` (an emulated card, which an HVM guest's OS finds without Xen's
  drivers) and its ``model``.
- ``hvm`` makes the domain fully virtualised: its firmware (``loader``), device model and
  emulated hardware by xm's names, flags as true or false.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from xenctl.spec.model import HVMLOADER, QEMU_DM, DiskSpec, HvmSpec, VifSpec

DISK_CHOICES = ("volume", "phy", "file", "nbd")
_HVM_FIELDS = tuple(f.name for f in fields(HvmSpec))


def disk_choices_hold(disk: Any) -> bool:
    """Exactly one thing named, or none by a removable drive: what the schema's oneOf says."""
    if not isinstance(disk, dict):
        return False
    named = sum(1 for choice in DISK_CHOICES if choice in disk)
    return named == 1 or (named == 0 and disk.get("cdrom") is True)


def device_path(path: str) -> str:
    return path if path.startswith("/") else f"/dev/{path}"


def disk_from_data(data: dict[str, Any]) -> DiskSpec:
    nbd = data.get("nbd")
    cdrom = bool(data.get("cdrom", False))
    return DiskSpec(
        vdev=data["vdev"],
        mode=data.get("mode", "r" if cdrom else "w"),
        volume=data.get("volume"),
        phy=device_path(data["phy"]) if "phy" in data else None,
        file=data.get("file"),
        nbd=f"{nbd['host']} {nbd['port']}" if nbd else None,
        cdrom=cdrom,
    )


def disk_to_data(disk: DiskSpec) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in ("volume", "phy", "file"):
        if getattr(disk, key) is not None:
            data[key] = getattr(disk, key)
    if disk.nbd is not None:
        host, _, port = disk.nbd.partition(" ")
        data["nbd"] = {"host": host, "port": int(port)}
    data["vdev"] = disk.vdev
    if disk.cdrom:
        data["cdrom"] = True
    if disk.mode != ("r" if disk.cdrom else "w"):
        data["mode"] = disk.mode
    return data


def vif_from_data(data: dict[str, Any]) -> VifSpec:
    return VifSpec(data.get("bridge", "xenbr0"), data.get("mac"), data.get("type"), data.get("model"))


def vif_to_data(vif: VifSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"bridge": vif.bridge}
    for key in ("mac", "type", "model"):
        if getattr(vif, key):
            data[key] = getattr(vif, key)
    return data


def hvm_from_data(data: dict[str, Any]) -> HvmSpec:
    return HvmSpec(**{key: data[key] for key in _HVM_FIELDS if key in data})


def hvm_to_data(hvm: HvmSpec) -> dict[str, Any]:
    data = {key: value for key, value in asdict(hvm).items() if value is not None}
    if data.get("loader") == HVMLOADER:
        del data["loader"]
    if data.get("device_model") == QEMU_DM:
        del data["device_model"]
    return data
