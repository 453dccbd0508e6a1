"""The one table of how each field of each kind of object can change on a live host.

``diff`` consults only this table to decide between updating in place, restarting, replacing
or retaining. Two domain fields depend on the live object: ``memory`` and ``vcpus`` change live
(mem-set, vcpu-set) up to the domain's current ceiling (maxmem, maxvcpus) and need a restart
beyond it; ``live_or_restart`` says which.
"""

from __future__ import annotations

from xenctl.reconcile.changes import ChangeClass, Kind

LIVE, RESTART, GROW, REPLACE, IMMUTABLE = (
    ChangeClass.LIVE,
    ChangeClass.RESTART,
    ChangeClass.GROW_ONLY,
    ChangeClass.REPLACE,
    ChangeClass.IMMUTABLE,
)

FIELDS: dict[Kind, dict[str, ChangeClass]] = {
    Kind.DOMAIN: {
        "memory": LIVE,  # mem-set, up to the live ceiling (else RESTART)
        "vcpus": LIVE,  # vcpu-set, up to the live ceiling (else RESTART)
        "state": LIVE,  # pause, unpause
        "disks": LIVE,  # block-attach, block-detach
        "maxmem": RESTART,
        "maxvcpus": RESTART,
        "kernel": RESTART,
        "ramdisk": RESTART,
        "bootloader": RESTART,
        "root": RESTART,
        "extra": RESTART,
        "vifs": RESTART,
        "hvm": RESTART,  # the device model and emulated hardware are fixed when the domain is built
        "nfs_root": RESTART,
        "ip": RESTART,
        "on_poweroff": RESTART,
        "on_reboot": RESTART,
        "on_crash": RESTART,
        "name": IMMUTABLE,
    },
    Kind.VOLUME: {
        "size": GROW,  # lvextend, or growing an image file
        "filesystem": REPLACE,  # mkfs again: the data is lost
        "vg": REPLACE,
        "snapshot_of": REPLACE,
        "path": REPLACE,
        "kind": REPLACE,
        "sparse": IMMUTABLE,  # how the file was first written; nothing to change afterwards
        "populate": IMMUTABLE,  # what was copied in when it was made
    },
    Kind.VOLUME_GROUP: {
        "pvs": REPLACE,  # xenctl does not vgextend or vgreduce
    },
    Kind.NFS_EXPORT: {
        "server": REPLACE,
        "path": REPLACE,
    },
}


def change_class(kind: Kind, field: str) -> ChangeClass:
    return FIELDS[kind][field]


def live_or_restart(wanted: int, ceiling: int, live: bool = True) -> ChangeClass:
    """memory and vcpus: live up to the domain's ceiling on a host that changes them live, a
    restart beyond it (or on a host that cannot)."""
    return LIVE if live and wanted <= ceiling else RESTART
