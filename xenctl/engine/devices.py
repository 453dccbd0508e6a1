"""Xen's names for block devices: virtual device numbers and Domain-0 device paths.

xend names a virtual block device (vbd) by the Linux device number of the guest's device name
(``sda1`` is 2049), and its messages say ``Device 2049 (vbd) could not be connected``.
"""

from __future__ import annotations

import posixpath
import re

_VDEV_RE = re.compile(r"^(?:/dev/)?(hd|sd|xvd)([a-z]+)(\d*)$")


def vdev_number(vdev: str) -> int | None:
    """The Linux device number of a guest device name (``hda``, ``sda1``, ``xvdb2``), or None.

    ``hd``: IDE majors 3, 22, 33, 34 ... two disks each with 64 minors; ``sd``: major 8 with 16
    minors a disk; ``xvd``: major 202 with 16 minors a disk (xen-blkfront).
    """
    match = _VDEV_RE.match(vdev.split(":")[0])
    if not match:
        return None
    kind, letters, part = match.groups()
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - ord("a") + 1)
    index -= 1
    partition = int(part) if part else 0
    if kind == "hd":
        ide_majors = (3, 22, 33, 34, 56, 57, 88, 89, 90, 91)
        if index >= 2 * len(ide_majors) or partition > 63:
            return None
        return ide_majors[index // 2] * 256 + (index % 2) * 64 + partition
    if partition > 15:
        return None
    if kind == "sd":
        return 8 * 256 + index * 16 + partition if index < 16 else None
    return 202 * 256 + index * 16 + partition if index < 16 else None


def device_path(target: str) -> str:
    """A ``phy:`` target as a path: a relative name gets ``/dev/`` (``hda3`` is ``/dev/hda3``)."""
    path = target if target.startswith("/") else f"/dev/{target}"
    return posixpath.normpath(path)
