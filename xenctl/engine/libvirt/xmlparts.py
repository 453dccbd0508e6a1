"""The pieces of a domain's XML: sizes with their units, disks and interfaces, both ways."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from xenctl.engine.api import DiskMode, DomainDisk, Vif
from xenctl.errors import EngineError

# libvirt's size units, in bytes (its <memory unit=...>; KiB when none is given).
UNITS = {
    "b": 1, "bytes": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip
# xm's boot letters and libvirt's <boot dev=...>.
BOOT_DEVICES = {"a": "fd", "c": "hd", "d": "cdrom", "n": "network"}
# xm's disk backends and libvirt's <driver name=... type=...> on a Xen host.
_DRIVER_NAMES = ("phy", "file", "tap", "tap2", "qemu")


def kib(mib: int) -> int:
    return mib * 1024


def text_of(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def read_mib(element: ET.Element | None) -> int:
    """A <memory>-like element in MiB (0 when absent)."""
    if element is None or not (element.text or "").strip():
        return 0
    unit = element.get("unit", "KiB").lower()
    if unit not in UNITS or not (element.text or "").strip().isdigit():
        raise EngineError(f"a domain's XML: <{element.tag}> {element.text!r} {unit!r} is not a size", op="xml")
    return int((element.text or "0").strip()) * UNITS[unit] // UNITS["mib"]


# -- disks ------------------------------------------------------------------------------------


def disk_element(disk: DomainDisk, kind: str) -> ET.Element:
    """A <disk>: block for ``phy``, file for ``file`` and ``tap:*``, network for ``nbd``."""
    backend, _, subtype = disk.backend.partition(":")
    source_type = {"phy": "block", "nbd": "network"}.get(backend, "file")
    element = ET.Element("disk", type=source_type, device="cdrom" if disk.cdrom else "disk")
    if kind in ("xen", "test") and backend != "nbd":
        driver = {"name": backend}
        if subtype:
            driver["type"] = subtype
        ET.SubElement(element, "driver", driver)
    if disk.target and backend == "nbd":
        server, _, port = disk.target.partition(" ")
        source = ET.SubElement(element, "source", protocol="nbd")
        ET.SubElement(source, "host", {"name": server, **({"port": port} if port else {})})
    elif disk.target:
        ET.SubElement(element, "source", {"dev" if source_type == "block" else "file": disk.target})
    ET.SubElement(element, "target", dev=disk.vdev)
    if disk.mode is DiskMode.READ:
        ET.SubElement(element, "readonly")
    elif disk.mode is DiskMode.FORCE_WRITE:
        ET.SubElement(element, "shareable")
    return element


def read_disk(element: ET.Element) -> DomainDisk:
    source_type = element.get("type", "file")
    driver = element.find("driver")
    name = driver.get("name", "") if driver is not None else ""
    if source_type == "network":
        host = element.find("source/host")
        port = host.get("port") if host is not None else None
        target = " ".join(p for p in (host.get("name", "") if host is not None else "", port) if p)
        backend = "nbd"
    else:
        source = element.find("source")
        target = (source.get("dev") or source.get("file") or "") if source is not None else ""
        backend = name if name in _DRIVER_NAMES and name != "qemu" else ("phy" if source_type == "block" else "file")
        if backend in ("tap", "tap2") and driver is not None and driver.get("type"):
            backend = f"{backend}:{driver.get('type')}"
    mode = DiskMode.WRITE
    if element.find("readonly") is not None:
        mode = DiskMode.READ
    elif element.find("shareable") is not None:
        mode = DiskMode.FORCE_WRITE
    target_element = element.find("target")
    vdev = target_element.get("dev", "") if target_element is not None else ""
    return DomainDisk(target, vdev, mode, backend, cdrom=element.get("device") == "cdrom")


# -- interfaces -------------------------------------------------------------------------------


def interface_element(vif: Vif) -> ET.Element:
    element = ET.Element("interface", type="bridge")
    ET.SubElement(element, "source", bridge=vif.bridge)
    if vif.mac:
        ET.SubElement(element, "mac", address=vif.mac)
    if vif.model:
        ET.SubElement(element, "model", type=vif.model)
    return element


def read_interface(element: ET.Element) -> Vif:
    source = element.find("source")
    mac = element.find("mac")
    model = element.find("model")
    return Vif(
        bridge=(source.get("bridge") or source.get("network") or "") if source is not None else "",
        mac=mac.get("address") if mac is not None else None,
        model=model.get("type") if model is not None else None,
    )
