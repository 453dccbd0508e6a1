"""The desired state back as spec YAML: what ``xenctl new`` and ``xenctl import`` write.

``dump_spec(desired)`` writes one file's worth of YAML that ``load_specs`` reads back to the same
model: sizes and durations in their shortest exact spelling, defaults left out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

from xenctl.spec.devices import disk_to_data, hvm_to_data, vif_to_data
from xenctl.spec.model import (
    AutostartSpec,
    DesiredPower,
    DesiredState,
    DomainSpec,
    NfsExportSpec,
    StopMode,
    VolumeGroupSpec,
    VolumeKind,
    VolumeSpec,
)
from xenctl.units import GIB, KIB, MIB, TIB, format_duration, format_size


def _memory(mib: int) -> str:
    return _size(mib * MIB)


# The digits the schema allows before each unit (so every size fits in 4 EiB).
_SIZE_DIGITS = (("T", TIB, 5), ("G", GIB, 8), ("M", MIB, 12), ("K", KIB, 15))


def _size(size: int) -> str:
    """A size as the schema accepts it: the largest unit that holds it whole within its digits,
    else in M with decimals (a whole number of KiB is at most ten decimals of a MiB)."""
    for unit, factor, digits in _SIZE_DIGITS:
        if size % factor == 0 and size // factor < 10**digits:
            return f"{size // factor}{unit}"
    if size % KIB == 0:
        return f"{Decimal(size) / MIB:f}".rstrip("0").rstrip(".") + "M"
    return format_size(size)


def domain_to_data(domain: DomainSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"name": domain.name, "memory": _memory(domain.memory)}
    if domain.maxmem is not None:
        data["maxmem"] = _memory(domain.maxmem)
    if domain.vcpus != 1:
        data["vcpus"] = domain.vcpus
    if domain.maxvcpus is not None:
        data["maxvcpus"] = domain.maxvcpus
    for key in ("kernel", "ramdisk", "bootloader", "root", "extra", "nfs_root", "ip"):
        if getattr(domain, key) is not None:
            data[key] = getattr(domain, key)
    if domain.hvm is not None:
        data["hvm"] = hvm_to_data(domain.hvm)
    if domain.disks:
        data["disks"] = [disk_to_data(d) for d in domain.disks]
    if domain.vifs:
        data["vifs"] = [vif_to_data(v) for v in domain.vifs]
    for key, default in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "restart")):
        if getattr(domain, key) != default:
            data[key] = getattr(domain, key)
    if domain.state is not DesiredPower.RUNNING:
        data["state"] = domain.state.value
    if domain.depends_on:
        data["depends_on"] = list(domain.depends_on)
    if domain.install is not None:
        data["install"] = {"location": domain.install.location}
        if domain.install.kickstart:
            data["install"]["kickstart"] = domain.install.kickstart
    if domain.graphics:
        data["graphics"] = True
    return data


def volume_to_data(volume: VolumeSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"name": volume.name}
    if volume.kind in (VolumeKind.LVM, VolumeKind.SNAPSHOT):
        lvm: dict[str, Any] = {"vg": volume.vg, "size": _size(volume.size or 0)}
        if volume.snapshot_of is not None:
            lvm["snapshot_of"] = volume.snapshot_of
        data["lvm"] = lvm
    elif volume.kind is VolumeKind.FILE:
        image: dict[str, Any] = {"path": volume.path, "size": _size(volume.size or 0)}
        if not volume.sparse:
            image["sparse"] = False
        data["file"] = image
    else:
        data["partition"] = volume.path
    if volume.filesystem is not None:
        data["filesystem"] = volume.filesystem
    if volume.populate is not None:
        data["populate"] = volume.populate
    return data


def _group_to_data(group: VolumeGroupSpec) -> dict[str, Any]:
    return {"name": group.name, "pvs": list(group.pvs)}


def _export_to_data(export: NfsExportSpec) -> dict[str, Any]:
    return {"name": export.name, "server": export.server, "path": export.path}


def autostart_to_data(entry: AutostartSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"domain": entry.domain}
    if entry.file is not None:
        data["file"] = entry.file
    if entry.order is not None:
        data["order"] = entry.order
    if entry.after:
        data["after"] = list(entry.after)
    if entry.up:
        data["up"] = format_duration(entry.up)
    if entry.stop is not StopMode.SHUTDOWN:
        data["stop"] = entry.stop.value
    if entry.stop_timeout != 300.0:
        data["stop_timeout"] = format_duration(entry.stop_timeout)
    if entry.on_timeout != "destroy":
        data["on_timeout"] = entry.on_timeout
    return data


def desired_to_data(desired: DesiredState) -> dict[str, Any]:
    data: dict[str, Any] = {}
    storage: dict[str, Any] = {}
    if desired.volume_groups:
        storage["volume_groups"] = [_group_to_data(g) for g in desired.volume_groups]
    if desired.volumes:
        storage["volumes"] = [volume_to_data(v) for v in desired.volumes]
    if desired.nfs_exports:
        storage["nfs_exports"] = [_export_to_data(e) for e in desired.nfs_exports]
    if storage:
        data["storage"] = storage
    if desired.domains:
        data["domains"] = [domain_to_data(d) for d in desired.domains]
    if desired.autostart:
        data["autostart"] = [autostart_to_data(a) for a in desired.autostart]
    return data


class _Dumper(yaml.SafeDumper):
    """Quotes every string a YAML 1.1 reader could misread (no, 0755, 1:30), as our loader would refuse it."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    node: yaml.ScalarNode = dumper.represent_scalar("tag:yaml.org,2002:str", value)
    from xenctl.spec.yamlfile import needs_quotes

    if needs_quotes(value):
        node.style = "'"
    return node


_Dumper.add_representer(str, _represent_str)


def dump_spec(desired: DesiredState, *, header: str = "") -> str:
    """YAML text for ``desired``; ``header`` becomes comment lines at the top."""
    data = desired_to_data(desired)
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100) if data else ""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + body
