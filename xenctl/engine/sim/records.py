"""DomainConfig to and from plain data: for the host file's JSON column and for save files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields, replace
from itertools import repeat
from typing import Any

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, OnEvent, Vif
from xenctl.engine.trusted import copier, filler, maker
from xenctl.errors import StoreError

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


# Positional constructors for values read back from the host file (see ``engine.trusted``).
make_disk = maker(DomainDisk, cdrom=False)  # which are removable drives is in the config's record
make_vif = maker(Vif)
make_config = maker(DomainConfig)
# A config whose record has nothing but scalars and interfaces: the defaults, what the record gives.
_fill_config = filler(DomainConfig, _DEFAULTS, "disks", "vifs")
_PLAIN_KEYS = frozenset((*_SCALARS, "vifs"))
_CONFIG_DEFAULTS = {f.name: getattr(_DEFAULTS, f.name) for f in fields(DomainConfig)}


def disk_from_dict(data: dict[str, Any]) -> DomainDisk:
    return DomainDisk(
        target=str(data["target"]),
        vdev=str(data["vdev"]),
        mode=MODES[data.get("mode", "w")],
        backend=str(data.get("backend", "phy")),
        cdrom=bool(data.get("cdrom", False)),
    )


def config_from_dict(data: dict[str, Any], disks: tuple[DomainDisk, ...] | None = None) -> DomainConfig:
    """The config ``config_to_dict`` wrote: a field missing (or null) takes its default."""
    get = data.get
    if disks is None:
        disks = tuple(disk_from_dict(d) for d in get("disks", ()))
    listed = get("vifs")
    vifs = _vifs_from(listed) if listed else ()
    if data.keys() <= _PLAIN_KEYS:  # scalars and interfaces, as most guests have: no more to read
        return _fill_config(data, disks, vifs)
    cdroms = get("cdroms")
    if cdroms:
        disks = tuple(replace(d, cdrom=True) if d.vdev in cdroms else d for d in disks)
    hvm = get("hvm")
    # The scalars given (not null) over the defaults; the keys that are no scalars are not read.
    if None in data.values():
        data = {key: value for key, value in data.items() if value is not None}
    v = {**_CONFIG_DEFAULTS, **data}
    return make_config(
        v["name"],
        v["memory"],
        v["maxmem"],
        v["vcpus"],
        v["maxvcpus"],
        v["kernel"],
        v["ramdisk"],
        v["bootloader"],
        v["builder"],
        v["root"],
        v["extra"],
        disks,
        vifs,
        ON_EVENTS[data["on_poweroff"]] if get("on_poweroff") else _DEFAULTS.on_poweroff,
        ON_EVENTS[data["on_reboot"]] if get("on_reboot") else _DEFAULTS.on_reboot,
        ON_EVENTS[data["on_crash"]] if get("on_crash") else _DEFAULTS.on_crash,
        v["nfs_server"],
        v["nfs_root"],
        v["ip"],
        v["uuid"],
        v["shadow_memory"],
        None if hvm is None else HvmConfig(**hvm),
    )


def _vifs_from(listed: list[dict[str, Any]]) -> tuple[Vif, ...]:
    return tuple(make_vif(v.get("bridge") or "xenbr0", v.get("mac"), v.get("type"), v.get("model")) for v in listed)


def stored_record(config: DomainConfig) -> tuple[str, str | None]:
    """The domains table's record of ``config``, and the MACs of its interfaces (a JSON array, or
    None for a guest with none) for the column beside it. The record holds what differs from the
    defaults but for the disks (their own table), the name and the uuid (the row's own columns)
    and the MACs (each guest's own): guests made from one template have one record, and a reader
    parses it once for them all."""
    data = config_to_dict(config, with_disks=False)
    del data["name"]
    data.pop("uuid", None)
    vifs = data.get("vifs")
    macs = json.dumps([vif.pop("mac") for vif in vifs]) if vifs else None
    return json.dumps(data), macs


def renamed_record(text: str, name: str) -> str:
    """The record ``text`` of a guest whose row takes another name (xend's ``migrating-<name>``
    while it is saved), keeping the name its config has."""
    return json.dumps({"name": name, **json.loads(text)})


def record_dict(text: str, name: str, uuid: str, macs: str | None) -> dict[str, Any]:
    """A stored record as ``config_to_dict`` makes one, of the row with this name, uuid and MACs."""
    data = _parse_all([text], lambda _k: name, "record", dict)[0]
    own = None if macs is None else _parse_all([macs], lambda _k: name, "list of MACs", list)[0]
    return _whole(data, name, uuid, own)


def _parse_all(texts: list[str], name_of: Callable[[int], str], what: str, kind: type) -> list[Any]:
    """The JSON ``texts`` parsed, all in one call into the decoder, each a ``kind``; one that is
    not is the host file's damage, said with its guest's name (``name_of`` its index)."""
    try:
        values: list[Any] = json.loads("[" + ",".join(texts) + "]")
    except json.JSONDecodeError:
        values = []
    if len(values) == len(texts) and all(map(isinstance, values, repeat(kind))):
        return values
    for k, text in enumerate(texts):  # which one: a text may hold a comma, too
        name = name_of(k)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"domain {name}: its {what} in the host file is not JSON ({exc.msg})") from None
        if type(value) is not kind:
            raise StoreError(f"domain {name}: its {what} in the host file is not a JSON {kind.__name__}")
    raise StoreError(f"the host file's domains do not read back one {what} each")


def _whole(data: dict[str, Any], name: str, uuid: str, macs: list[str | None] | None) -> dict[str, Any]:
    if macs is not None:
        vifs = data.get("vifs") or []
        _check_macs(name, macs, len(vifs))
        for vif, mac in zip(vifs, macs, strict=True):
            vif["mac"] = mac
    return {"name": name, "uuid": uuid, **data}


def _check_macs(name: str, macs: list[str | None], interfaces: int) -> None:
    if len(macs) != interfaces:
        raise StoreError(f"domain {name}: {len(macs)} MACs stored for {interfaces} interfaces")


def config_from_row(row: sqlite3.Row, disks: tuple[DomainDisk, ...]) -> DomainConfig:
    """The config of a row of the domains table (its ``name``, ``uuid``, ``record`` and ``macs``)
    with ``disks``."""
    return config_from_dict(record_dict(row["record"], row["name"], row["uuid"], row["macs"]), disks)


_renamed = copier(DomainConfig, "name", "uuid", "disks")
_renamed_with_vifs = copier(DomainConfig, "name", "uuid", "disks", "vifs")
_with_mac = copier(Vif, "mac")


def configs_from_records(
    texts: Sequence[str],
    names: Sequence[str],
    uuids: Sequence[str],
    macs: Sequence[str | None],
    disks: Sequence[tuple[DomainDisk, ...]],
) -> list[DomainConfig]:
    """The configs of the domains table's records (``texts`` and ``macs``, as ``stored_record``
    wrote them) of guests with these names, uuids and disks, each distinct record parsed once.

    Guests made from one template have one record: the first guest's config is parsed (all of the
    distinct records in one call into the decoder, and all the MACs in another), and each other is
    a copy of its fields with its own name, uuid, disks and MACs. A record that names its config
    (its row took another name), keeps MACs or marks removable drives among the disks is parsed
    for each guest.
    """
    first: dict[str, int] = {}
    like: list[int] = []  # for each record: the first record like it (itself when it is parsed)
    for i, text in enumerate(texts):
        j = first.setdefault(text, i)
        if j == i and ('"name"' in text or '"uuid"' in text or '"mac"' in text or '"cdroms"' in text):
            first[text] = -1  # parsed for each guest
        like.append(i if j < 0 else j)
    parse = [i for i, j in enumerate(like) if i == j]
    records = _parse_all([texts[i] for i in parse], lambda k: names[parse[k]], "record", dict)
    parsed = dict(zip(parse, records, strict=True))
    mac_lists = _mac_lists(macs, names)
    configs: list[DomainConfig] = []
    add = configs.append
    for i, j in enumerate(like):
        own = mac_lists[i]
        if i == j:
            add(config_from_dict(_whole(parsed[i], names[i], uuids[i], own), disks[i]))
        elif own is None:
            add(_renamed(configs[j], names[i], uuids[i], disks[i]))
        else:
            vifs = configs[j].vifs
            _check_macs(names[i], own, len(vifs))
            add(_renamed_with_vifs(configs[j], names[i], uuids[i], disks[i], tuple(map(_with_mac, vifs, own))))
    return configs


def _mac_lists(macs: Sequence[str | None], names: Sequence[str]) -> list[list[str | None] | None]:
    """Each guest's MACs (None: no interface), all parsed in one call into the decoder."""
    given = [i for i, text in enumerate(macs) if text is not None]  # (their names, for a damaged one)
    if not given:
        return [None] * len(macs)
    texts = [text for text in macs if text is not None]
    parsed = iter(_parse_all(texts, lambda k: names[given[k]], "list of MACs", list))
    return [None if text is None else next(parsed) for text in macs]
