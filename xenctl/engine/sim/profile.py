"""Reading a host profile: the hardware and Domain-0 setup a simulated host is built from.

The profile itself is ``profile_model.HostProfile`` (re-exported here); this module reads one from
a file or from plain data, checking every field, and holds the built-in default.

A profile is a YAML file (``xenctl host init --profile FILE``) or the built-in default, a
plausible 2008 server. Every field is optional; a missing one takes the default's value. Sizes
and durations are written as people write them (``16G``, ``196M``, ``8s``).

The fields, with xend's and Linux's names where they have one::

    name: xen1                    # the host's name
    memory: 16G                   # physical memory
    xen_reserved: 64M             # held by the hypervisor itself
    cpus: 8                       # physical CPUs
    hvm: true                     # VT-x or AMD-V, enabled in the BIOS: xen_caps lists hvm-3.0-*;
                                  # without it, fully virtualised (HVM) guests cannot be created
    dom0:
      memory: 1G                  # dom0_mem= on Xen's command line; null: all that Xen leaves
      min_mem: 196M               # (dom0-min-mem 196) in xend-config.sxp; 0 turns ballooning off
      ballooning: true            # (enable-dom0-ballooning yes)
      vcpus: 8                    # default: every physical CPU
    max_loop: 8                   # loop devices (max_loop=n)
    bridges: [xenbr0]
    disks:                        # physical disks and their partitions
      hda:
        size: 80G
        partitions:
          hda1: {size: 20G, filesystem: ext3, mount: /, mode: rw}
      sdb: {size: 100G, shared: true, partitions: {sdb1: {size: 10G}}}   # a SAN LUN
                                  # other hosts see too: a guest on it can migrate
    nfs_servers:                  # NFS servers outside the host and what they export
      2.3.4.5: [/path/to/root]
    storage_root: /var/lib/xen/images   # where image files live on the simulated host
    save_dir: save                # where stop-by-save writes; relative to the home directory
    runlevel: 3
    guest_write_rate: 1M          # what a running guest writes to each read-write disk a second
    snapshot_memory: 8M           # Domain-0 memory each LVM snapshot holds (device-mapper's
                                  # exception store): Domain-0 cannot balloon it away, so it comes
                                  # out of what Domain-0 can give to guests; 0 leaves it out
    migration: {bandwidth: 119M, dirty_rate: 0.02}   # bytes a second to another host (a
                                  # gigabit link), and the share of its memory a guest dirties
                                  # each second while it moves live (docs/migration.md)
    durations: {boot: 8s, shutdown: 4s, save: 3s, restore: 2s, lv_create: 500ms,
                image_create: 4s, mkfs: 2s}   # image_create is per GiB of a non-sparse image
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from xenctl.engine.sim.profile_fields import Reader, kind_of
from xenctl.engine.sim.profile_model import DURATION_KEYS, DiskProfile, Durations, HostProfile, PartitionProfile
from xenctl.errors import ProfileError
from xenctl.units import MIB

__all__ = [
    "DURATION_KEYS",
    "DiskProfile",
    "Durations",
    "HostProfile",
    "PartitionProfile",
    "default_profile",
    "load_profile",
    "profile_from_dict",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


_DEFAULT_PROFILE: dict[str, Any] = {
    "name": "xen1",
    "memory": "16G",
    "xen_reserved": "64M",
    "cpus": 8,
    "dom0": {"memory": "1G", "min_mem": "196M", "ballooning": True},
    "max_loop": 8,
    "bridges": ["xenbr0", "xenbr1"],
    "disks": {
        "hda": {
            "size": "80G",
            "partitions": {
                "hda1": {"size": "20G", "filesystem": "ext3", "mount": "/", "mode": "rw"},
                "hda2": {"size": "20G", "filesystem": "ext3", "mount": "/var", "mode": "rw"},
                "hda3": {"size": "20G", "filesystem": "ext3"},
                "hda4": {"size": "10G", "filesystem": "ext3"},
            },
        },
        "sda": {
            "size": "146G",
            "partitions": {
                "sda1": {"size": "10G", "filesystem": "ext3"},
                "sda2": {"size": "10G", "filesystem": "ext3"},
                "sda3": {"size": "10G", "filesystem": "ext3"},
                "sda5": {"size": "4G", "filesystem": "ext3", "mount": "/srv/xen-usr", "mode": "ro"},
                "sda6": {"size": "4G", "filesystem": "ext3"},
                "sda7": {"size": "8G", "filesystem": "ext3"},
                "sda8": {"size": "8G", "filesystem": "ext3"},
                "sda9": {"size": "8G", "filesystem": "ext3"},
                "sda10": {"size": "40G"},
                "sda11": {"size": "8G", "filesystem": "ext3"},
                "sda12": {"size": "20G"},
            },
        },
    },
    "nfs_servers": {"2.3.4.5": ["/path/to/root", "/export/roots/debian"]},
    "storage_root": "/var/lib/xen/images",
    "save_dir": "save",
    "runlevel": 3,
    "guest_write_rate": "1M",
    "snapshot_memory": "8M",
    "durations": {
        "boot": "8s",
        "shutdown": "4s",
        "save": "3s",
        "restore": "2s",
        "lv_create": "500ms",
        "image_create": "4s",
        "mkfs": "2s",
    },
}


def default_profile() -> HostProfile:
    """The built-in profile: a 16 GiB, 8-CPU server with an IDE and a SCSI disk."""
    return profile_from_dict(_DEFAULT_PROFILE, file="<built-in profile>")


def load_profile(path: str) -> HostProfile:
    """Read a profile file; any mistake is one ``ProfileError`` naming the file and field."""
    import yaml

    not_one = "not a host profile (a YAML mapping of host settings, such as 'memory: 16G')"
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read(4 * 1024 * 1024)
        if any(line.lstrip().startswith("(") for line in _code_lines(text)):
            raise ProfileError(
                "this is xend's configuration (an xend-config.sxp), not a host profile; "
                "xenctl reads it from <xen root>/xend-config.sxp",
                file=path,
            )
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ProfileError(f"cannot read the profile: {exc.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise ProfileError(f"{not_one}: it is not UTF-8 text", file=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise ProfileError(f"{not_one}: this line is not YAML", file=where) from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ProfileError(f"{not_one}; found {kind_of(data)}", file=path)
    return profile_from_dict(data, file=path)


def _code_lines(text: str) -> list[str]:
    """The first lines of a file that are not blank or comments: where an S-expression shows."""
    return [line for line in text.splitlines()[:50] if line.strip() and not line.lstrip().startswith("#")][:3]


def _with_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """The built-in profile overlaid by ``data``: ``dom0`` and ``durations`` field by field, the rest
    whole (a profile that names its disks names all of them)."""
    merged = dict(_DEFAULT_PROFILE)
    for key, value in data.items():
        default = _DEFAULT_PROFILE.get(key)
        if isinstance(default, dict) and isinstance(value, Mapping) and key in ("dom0", "durations"):
            merged[key] = {**default, **value}
        else:
            merged[key] = value
    return merged


_FIELDS = (
    "name",
    "memory",
    "xen_reserved",
    "cpus",
    "hvm",
    "dom0",
    "max_loop",
    "bridges",
    "disks",
    "nfs_servers",
    "storage_root",
    "save_dir",
    "runlevel",
    "guest_write_rate",
    "snapshot_memory",
    "migration",
    "durations",
)


def profile_from_dict(data: object, *, file: str) -> HostProfile:
    """Build a profile from plain data, checking every field against Xen's and Linux's limits.

    Any field ``data`` leaves out takes the built-in profile's value.
    """
    base = HostProfile()
    top = Reader(data, file, "")
    top = Reader(_with_defaults(top.data), file, "")
    top.check_keys(_FIELDS)
    name = top.string("name", base.name) or base.name
    if not _NAME_RE.match(name):
        raise top.fail("name", f"{name!r} is not a host name")
    memory, xen_reserved = _read_memory(top, base)
    cpus = top.integer("cpus", base.cpus, 1, 4096)
    dom0 = Reader(top.data.get("dom0", {}), file, "dom0")
    dom0_memory, dom0_min_mem, dom0_vcpus = _read_dom0(dom0, base, memory - xen_reserved, cpus)
    bridges = top.data.get("bridges", list(base.bridges))
    if not isinstance(bridges, list) or not all(isinstance(b, str) and _NAME_RE.match(b) for b in bridges):
        raise top.fail("bridges", "must be a list of bridge names such as xenbr0")
    disks = tuple(_read_disks(top.data.get("disks", {}), file))
    nfs = _read_nfs(top.data.get("nfs_servers", {}), file)
    storage_root, save_dir = _read_paths(top, base)
    durations = _read_durations(top.data.get("durations", {}), file)
    return HostProfile(
        name=name,
        memory=memory,
        xen_reserved=xen_reserved,
        cpus=cpus,
        hvm=top.boolean("hvm", base.hvm),
        dom0_memory=dom0_memory,
        dom0_min_mem=dom0_min_mem,
        dom0_ballooning=dom0.boolean("ballooning", base.dom0_ballooning),
        dom0_vcpus=dom0_vcpus,
        max_loop=top.integer("max_loop", base.max_loop, 0, 256),
        bridges=tuple(bridges),
        disks=disks,
        nfs_servers=nfs,
        storage_root=storage_root,
        save_dir=save_dir,
        runlevel=top.integer("runlevel", base.runlevel, 0, 6),
        guest_write_rate=_write_rate(top, base.guest_write_rate),
        snapshot_memory=_snapshot_memory(top, base.snapshot_memory),
        durations=durations,
        **_read_migration(Reader(top.data.get("migration", {}), file, "migration"), base),
    )


def _read_memory(top: Reader, base: HostProfile) -> tuple[int, int]:
    """The host's memory and what Xen holds of it, in MiB."""
    memory = top.size("memory", base.memory * MIB) // MIB
    xen_reserved = top.size("xen_reserved", base.xen_reserved * MIB) // MIB
    if memory < 256:
        raise top.fail("memory", f"{memory}M is too little for a Xen host (at least 256M)")
    if xen_reserved >= memory:
        raise top.fail("xen_reserved", "leaves no memory for Domain-0")
    return memory, xen_reserved


def _read_dom0(dom0: Reader, base: HostProfile, available: int, cpus: int) -> tuple[int | None, int, int | None]:
    """Domain-0's memory (None: all that Xen leaves), its floor for ballooning, and its vCPUs."""
    dom0.check_keys(("memory", "min_mem", "ballooning", "vcpus"))
    dom0_memory = dom0.size_mib("memory", None)  # null: all the memory Xen leaves
    dom0_min_mem = dom0.size_mib("min_mem", base.dom0_min_mem) or 0
    if dom0_memory is not None and not 64 <= dom0_memory <= available:
        raise dom0.fail("memory", f"{dom0_memory}M must be between 64M and {available}M")
    if dom0_min_mem > (dom0_memory if dom0_memory is not None else available):
        raise dom0.fail("min_mem", f"{dom0_min_mem}M is more than Domain-0's memory")
    dom0_vcpus_raw = dom0.data.get("vcpus")
    dom0_vcpus = None if dom0_vcpus_raw is None else dom0.integer("vcpus", 1, 1, cpus)
    return dom0_memory, dom0_min_mem, dom0_vcpus


def _read_paths(top: Reader, base: HostProfile) -> tuple[str, str]:
    """Where image files live on the host, and where stop-by-save writes."""
    storage_root = top.string("storage_root", base.storage_root) or base.storage_root
    if not storage_root.startswith("/") or "\0" in storage_root:
        raise top.fail("storage_root", f"{storage_root!r} must be an absolute path")
    save_dir = top.string("save_dir", base.save_dir) or base.save_dir
    if "\0" in save_dir:
        raise top.fail("save_dir", "must be a path")
    return storage_root.rstrip("/") or "/", save_dir


def _read_durations(data: object, file: str) -> Durations:
    reader = Reader(data, file, "durations")
    reader.check_keys(DURATION_KEYS)
    return Durations(**{key: reader.duration(key, getattr(Durations(), key)) for key in DURATION_KEYS})


def _write_rate(top: Reader, default: int) -> int:
    rate = top.size("guest_write_rate", default)
    if rate > 1 << 30:
        raise top.fail("guest_write_rate", "is more than a guest of this era could write (at most 1G a second)")
    return rate


def _read_migration(reader: Reader, base: HostProfile) -> dict[str, Any]:
    """The link to other hosts (bytes a second) and the share of memory a moving guest dirties."""
    reader.check_keys(("bandwidth", "dirty_rate"))
    bandwidth = reader.size("bandwidth", base.migration_bandwidth)
    if not 1 <= bandwidth <= 1 << 40:
        raise reader.fail("bandwidth", "must be from 1 byte to 1T a second")
    share = reader.data.get("dirty_rate", base.dirty_rate)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise reader.fail("dirty_rate", f"{share!r} is not a share of memory from 0 to 1")
    return {"migration_bandwidth": bandwidth, "dirty_rate": float(share)}


def _snapshot_memory(top: Reader, default: int) -> int:
    cost = top.size_mib("snapshot_memory", default) or 0
    if cost > 1024:
        raise top.fail("snapshot_memory", f"{cost}M is more than a snapshot of this era held (at most 1G)")
    return cost


def _read_disks(data: object, file: str) -> list[DiskProfile]:
    disks_reader = Reader(data, file, "disks")
    disks = []
    seen: set[str] = set()
    for disk_name, disk_data in disks_reader.data.items():
        disk = Reader(disk_data, file, f"disks.{disk_name}")
        disk.check_keys(("size", "partitions", "shared"))
        if not isinstance(disk_name, str) or not re.match(r"^(hd|sd|xvd)[a-z]+$", disk_name):
            raise disks_reader.fail(str(disk_name), "is not a disk name such as hda or sda")
        size = disk.size("size", None)
        parts_reader = Reader(disk.data.get("partitions", {}), file, f"disks.{disk_name}.partitions")
        partitions = []
        used = 0
        for part_name, part_data in parts_reader.data.items():
            if not isinstance(part_name, str) or not re.match(rf"^{disk_name}\d+$", part_name):
                raise parts_reader.fail(str(part_name), f"is not a partition of {disk_name}")
            if part_name in seen:
                raise parts_reader.fail(part_name, "is declared twice")
            seen.add(part_name)
            part = Reader(part_data, file, f"{parts_reader.path}.{part_name}")
            part.check_keys(("size", "filesystem", "mount", "mode"))
            mount = part.string("mount", None)
            mode = part.string("mode", "rw" if mount else None)
            if mode not in (None, "ro", "rw") or (mode and not mount):
                raise part.fail("mode", "must be ro or rw, with a mount point")
            filesystem = part.string("filesystem", None)
            part_size = part.size("size", None)
            used += part_size
            partitions.append(PartitionProfile(part_name, part_size, filesystem, mount, mode))
        if used > size:
            raise disk.fail("partitions", f"add up to more than the disk's {size // MIB}M")
        disks.append(DiskProfile(disk_name, size, tuple(partitions), disk.boolean("shared", False)))
    return disks


def _read_nfs(data: object, file: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    reader = Reader(data, file, "nfs_servers")
    servers = []
    for server, paths in reader.data.items():
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise reader.fail(str(server), "must be a list of exported absolute paths")
        if len(set(paths)) != len(paths):
            raise reader.fail(str(server), "names an export twice")
        servers.append((str(server), tuple(paths)))
    return tuple(servers)
