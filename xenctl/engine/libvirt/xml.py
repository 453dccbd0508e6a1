"""A domain's config and libvirt's domain XML, both ways, in one place (docs/libvirt.md has the table).

``domain_xml(config, owner, kind)`` writes what ``virDomainDefineXML`` takes; ``read_domain(text)``
reads what ``virDomainGetXMLDesc`` gives back into a ``DomainConfig`` and the ownership mark.
What libvirt holds natively it holds (memory, vCPUs, the kernel or loader, disks, interfaces, the
lifecycle actions); what only an xm config has (``root``, ``extra``, ``ip``, the NFS root, xm's
HVM keys) travels in xenctl's own element under ``<metadata>``, beside the owner, so a domain
xenctl made reads back exactly as it was given. A hand-made domain has no such element: its
kernel command line is its ``extra``, and its owner is None.

Normal form: ``maxmem`` reads back as None when it equals ``memory``, ``maxvcpus`` when it equals
``vcpus`` (the ceilings, which the planner compares, are the same either way).

XML is parsed with no DOCTYPE and so no entities at all: libvirt never writes one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields, replace
from typing import Any
from xml.parsers import expat

from xenctl.engine.api import DomainConfig, DomainDisk, HvmConfig, OnEvent, Owner, Vif
from xenctl.engine.libvirt.xmlparts import (
    BOOT_DEVICES,
    disk_element,
    interface_element,
    kib,
    read_disk,
    read_interface,
    read_mib,
    text_of,
)
from xenctl.errors import EngineError

NAMESPACE = "http://xenctl.org/xmlns/libvirt/domain/1"
PREFIX = "xenctl"
_NS = f"{{{NAMESPACE}}}"
PV_TYPES = ("linux", "xen")  # libvirt's Xen driver says linux; its test driver knows only xen
HVM_KEYS = tuple(f.name for f in fields(HvmConfig) if f.name not in ("device_model", "boot"))
QEMU_TYPES = ("qemu", "kvm")  # domain types of libvirt's QEMU driver: every guest is hvm there
HVMLOADER = "/usr/lib/xen/boot/hvmloader"  # Xen's firmware and device model: not written on QEMU
QEMU_DM = HvmConfig().device_model
XM_KEYS = ("root", "extra", "nfs_server", "nfs_root", "ip", "shadow_memory")


@dataclass(frozen=True, slots=True)
class ReadDomain:
    """A domain's XML, read: its config and xenctl's mark on it (None: hand-made)."""

    config: DomainConfig
    owner: Owner | None
    uuid: str


def parse(text: str, what: str = "libvirt's XML") -> ET.Element:
    """XML, refusing a DOCTYPE (and so every entity, internal or external): a first pass by expat
    with the declaration refused, then ElementTree on text known to declare nothing. Text with
    no ``<!`` at all can declare nothing: it is parsed once (libvirt's XML, every time)."""

    def refuse(*_args: object) -> None:
        raise EngineError(f"{what}: refused, it declares a DOCTYPE", op="xml")

    if "<!" not in text:  # no declaration of any kind (nor a comment): one parse, by ElementTree
        try:
            return ET.fromstring(text)
        except ET.ParseError as exc:
            raise EngineError(f"{what}: not XML: {exc}", op="xml") from None
    checker = expat.ParserCreate()
    checker.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    checker.StartDoctypeDeclHandler = refuse
    checker.EntityDeclHandler = refuse
    try:
        checker.Parse(text, True)
        return ET.fromstring(text)
    except (expat.ExpatError, ET.ParseError) as exc:
        raise EngineError(f"{what}: not XML: {exc}", op="xml") from None


# -- config -> XML ------------------------------------------------------------------------------


def cmdline(config: DomainConfig) -> str:
    """The kernel command line, as xm makes it from root, ip, the NFS root and extra."""
    parts = []
    if config.root:
        parts.append(f"root={config.root}")
    if config.ip:
        parts.append(f"ip={config.ip}")
    if config.nfs_server and config.nfs_root:
        parts.append(f"nfsroot={config.nfs_server}:{config.nfs_root}")
    if config.extra:
        parts.append(config.extra)
    return " ".join(parts)


def domain_xml(config: DomainConfig, owner: Owner | None = None, kind: str = "xen") -> str:
    """The XML ``virDomainDefineXML`` takes for ``config``; ``kind`` is the domain type (xen,
    qemu, kvm, test)."""
    root = ET.Element("domain", type=kind)
    ET.SubElement(root, "name").text = config.name
    if config.uuid:
        ET.SubElement(root, "uuid").text = config.uuid
    ET.SubElement(root, "memory", unit="KiB").text = str(kib(config.memory_ceiling))
    ET.SubElement(root, "currentMemory", unit="KiB").text = str(kib(config.memory))
    ET.SubElement(root, "vcpu", current=str(config.vcpus)).text = str(config.vcpu_ceiling)
    if config.bootloader:
        ET.SubElement(root, "bootloader").text = config.bootloader
    _os(root, config, kind)
    if config.hvm is not None:
        features = ET.SubElement(root, "features")
        for name in ("acpi", "apic", "pae"):
            if getattr(config.hvm, name):
                ET.SubElement(features, name)
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        ET.SubElement(root, event).text = getattr(config, event).value
    devices = ET.SubElement(root, "devices")
    if config.hvm is not None and not (kind in QEMU_TYPES and config.hvm.device_model == QEMU_DM):
        ET.SubElement(devices, "emulator").text = config.hvm.device_model
    for disk in config.disks:
        devices.append(disk_element(disk, kind))
    for vif in config.vifs:
        devices.append(interface_element(vif))
    root.append(_metadata(config, owner, kind))
    return ET.tostring(root, encoding="unicode")


def _os(root: ET.Element, config: DomainConfig, kind: str) -> None:
    os_ = ET.SubElement(root, "os")
    if config.hvm is not None:
        ET.SubElement(os_, "type").text = "hvm"
        if config.kernel and not (kind in QEMU_TYPES and config.kernel == HVMLOADER):
            ET.SubElement(os_, "loader").text = config.kernel
        for letter in config.hvm.boot or "":
            ET.SubElement(os_, "boot", dev=BOOT_DEVICES.get(letter, "hd"))
        return
    # QEMU has no PV guests: a kernel of its own is QEMU's direct kernel boot of a full guest.
    ET.SubElement(os_, "type").text = "hvm" if kind in QEMU_TYPES else "linux" if kind == "xen" else "xen"
    for tag, value in (("kernel", config.kernel), ("initrd", config.ramdisk), ("cmdline", cmdline(config))):
        if value:
            ET.SubElement(os_, tag).text = value


def owner_element(owner: Owner | None, xm: dict[str, str] | None = None, ns: str = _NS) -> ET.Element:
    """xenctl's element (in its namespace): the owner, and the xm keys libvirt does not hold."""
    mark = ET.Element(f"{ns}domain")
    if owner is not None:
        ET.SubElement(mark, f"{ns}owner", {"managed-by": owner.managed_by, "source": owner.source})
    if xm:
        ET.SubElement(mark, f"{ns}xm", dict(sorted(xm.items())))
    return mark


def metadata_text(owner: Owner | None, xm: dict[str, str]) -> str:
    """xenctl's element as ``virDomainSetMetadata`` takes it: without its namespace, which libvirt
    puts on it (with the prefix and URI it is given)."""
    return ET.tostring(owner_element(owner, xm, ns=""), encoding="unicode")


def xm_values(config: DomainConfig, kind: str = "xen") -> dict[str, str]:
    """The xm keys of ``config`` that libvirt's XML does not hold (as text; None left out).

    On QEMU (``kind`` qemu or kvm) every guest is ``hvm`` to libvirt, and libvirt fills in its own
    emulator and boot order: xenctl's element then holds the builder, and an HVM guest's loader,
    device model and boot order as the config gave them."""
    values: dict[str, object] = {key: getattr(config, key) for key in XM_KEYS}
    if kind in QEMU_TYPES:
        values["builder"] = "hvm" if config.hvm is not None else "linux"
        if config.hvm is not None:
            values.update({"hvm.loader": config.kernel, "hvm.device_model": config.hvm.device_model})
            values["hvm.boot"] = config.hvm.boot
        if config.disks:  # Xen's backends (phy, file, tap:aio) are nothing to QEMU
            values["disk_backends"] = ",".join(disk.backend for disk in config.disks)
    values["shadow_memory"] = config.shadow_memory or None
    if config.hvm is not None:
        values.update({f"hvm.{key}": getattr(config.hvm, key) for key in HVM_KEYS})
    if any(vif.type for vif in config.vifs):
        values["vif_types"] = ",".join(vif.type or "" for vif in config.vifs)
    return {key: _text(value) for key, value in values.items() if value is not None}


def _text(value: object) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def _metadata(config: DomainConfig, owner: Owner | None, kind: str) -> ET.Element:
    metadata = ET.Element("metadata")
    metadata.append(owner_element(owner, xm_values(config, kind)))
    return metadata


# -- XML -> config ------------------------------------------------------------------------------


def read_domain(text: str) -> ReadDomain:
    """A domain's config and owner from libvirt's XML of it."""
    root = parse(text, "a domain's XML")
    name = text_of(root, "name")
    if root.tag != "domain" or not name:
        raise EngineError("a domain's XML: no <domain> with a <name>", op="xml")
    owner, xm = _read_mark(root)
    memory = read_mib(root.find("currentMemory")) or read_mib(root.find("memory"))
    ceiling = read_mib(root.find("memory")) or memory
    vcpu = root.find("vcpu")
    most = int(vcpu.text or 1) if vcpu is not None else 1
    online = int(vcpu.get("current", most)) if vcpu is not None else most
    devices = root.find("devices")
    found = devices if devices is not None else ET.Element("devices")
    vifs = tuple(read_interface(e) for e in found.findall("interface"))
    config = DomainConfig(
        name=name,
        uuid=text_of(root, "uuid"),
        memory=memory,
        maxmem=ceiling if ceiling != memory else None,
        vcpus=online,
        maxvcpus=most if most != online else None,
        bootloader=text_of(root, "bootloader"),
        disks=_backends(
            tuple(read_disk(e) for e in found.findall("disk") if e.get("device", "disk") in ("disk", "cdrom")),
            xm.get("disk_backends"),
        ),
        vifs=_vif_types(vifs, xm.get("vif_types")),
        on_poweroff=_event(root, "on_poweroff", OnEvent.DESTROY),
        on_reboot=_event(root, "on_reboot", OnEvent.RESTART),
        on_crash=_event(root, "on_crash", OnEvent.RESTART),
    )
    config = _read_os(root, config, found, xm)
    return ReadDomain(config, owner, config.uuid or "")


def _read_mark(root: ET.Element) -> tuple[Owner | None, dict[str, str]]:
    mark = root.find(f"metadata/{_NS}domain")
    if mark is None:
        return None, {}
    found = mark.find(f"{_NS}owner")
    owner = Owner(found.get("managed-by", ""), found.get("source", "")) if found is not None else None
    xm = mark.find(f"{_NS}xm")
    return owner, dict(xm.attrib) if xm is not None else {}


def _event(root: ET.Element, tag: str, default: OnEvent) -> OnEvent:
    value = text_of(root, tag)
    try:
        return OnEvent(value) if value else default
    except ValueError:
        raise EngineError(f"a domain's XML: <{tag}> {value!r} is not an action xenctl knows", op="xml") from None


def _backends(disks: tuple[DomainDisk, ...], backends: str | None) -> tuple[DomainDisk, ...]:
    kinds = (backends or "").split(",")
    if backends is None or len(kinds) != len(disks):
        return disks
    return tuple(replace(disk, backend=kind) for disk, kind in zip(disks, kinds, strict=True))


def _vif_types(vifs: tuple[Vif, ...], types: str | None) -> tuple[Vif, ...]:
    kinds = (types or "").split(",")
    if types is None or len(kinds) != len(vifs):
        return vifs
    return tuple(replace(vif, type=kind or None) for vif, kind in zip(vifs, kinds, strict=True))


def _read_os(root: ET.Element, config: DomainConfig, devices: ET.Element, xm: dict[str, str]) -> DomainConfig:
    kind = text_of(root, "os/type") or "linux"
    if kind == "hvm" and xm.get("builder") == "linux":
        kind = "linux"  # a kernel booted directly by QEMU: a PV config to xenctl
    if kind == "hvm":
        boot = "".join(
            next((k for k, v in BOOT_DEVICES.items() if v == e.get("dev")), "c") for e in root.findall("os/boot")
        )
        features = ("acpi", "apic", "pae")
        flags: dict[str, Any] = {name: True for name in features if root.find(f"features/{name}") is not None}
        emulator = text_of(devices, "emulator") or HvmConfig().device_model
        loader = text_of(root, "os/loader")
        if xm.get("builder") == "hvm":  # made by xenctl on QEMU: as the config gave them
            boot, emulator, loader = xm.get("hvm.boot", ""), xm["hvm.device_model"], xm.get("hvm.loader")
        hvm = HvmConfig(device_model=emulator, boot=boot or None)
        given: dict[str, Any] = {key: _hvm_value(key, xm[f"hvm.{key}"]) for key in HVM_KEYS if f"hvm.{key}" in xm}
        hvm = replace(hvm, **{**flags, **given})
        return replace(config, builder="hvm", hvm=hvm, kernel=loader, **_xm_fields(xm, ""))
    if kind not in PV_TYPES:
        raise EngineError(f"{config.name}: its XML has <os><type>{kind}</type>, neither PV nor HVM", op="xml")
    line = text_of(root, "os/cmdline") or ""
    kernel, ramdisk = text_of(root, "os/kernel"), text_of(root, "os/initrd")
    return replace(config, kernel=kernel, ramdisk=ramdisk, **_xm_fields(xm, line))


def _xm_fields(xm: dict[str, str], line: str) -> dict[str, Any]:
    """root, extra, ip and the NFS root from xenctl's element, when they still make the command
    line libvirt holds (else it was edited by hand: the whole line is ``extra``)."""
    given: dict[str, Any] = {key: xm[key] for key in XM_KEYS if key in xm and key != "shadow_memory"}
    given["shadow_memory"] = int(xm.get("shadow_memory", "0"))
    if cmdline(replace(DomainConfig(name="-"), **given)) != line:
        given = {"extra": line or None, "shadow_memory": given["shadow_memory"]}
    return given


def _hvm_value(key: str, text: str) -> object:
    kind = next(f.type for f in fields(HvmConfig) if f.name == key)
    if "bool" in str(kind):
        return text == "1"
    if "int" in str(kind):
        return int(text)
    return text
