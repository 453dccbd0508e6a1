"""What a simulated guest prints on its console, and when.

Lines are stored with the time they appear; ``xm console`` during a boot shows only the lines
printed so far. The text follows a Xen 3.x paravirtualised Linux guest (2.6.18-xen). A fully
virtualised (HVM) guest starts in ``hvmloader`` and its emulated BIOS, with the device model
(``qemu-dm``) serving its disks, network card and display, and boots from the first drive of its
boot order; a pv-grub kernel reads the menu.lst its ``extra`` names before it loads Linux.
"""

from __future__ import annotations

import os

from xenctl.engine.api import DomainConfig
from xenctl.engine.devices import vdev_number


def boot_lines(
    config: DomainConfig, domid: int, start: float, up: float, *, crash: tuple[str, ...] = ()
) -> list[tuple[float, str]]:
    """A boot from ``start`` to ``up``; ``crash``: the lines with which the guest panics at the end,
    if it does. Only the guest's own words: ``Started domain`` is xm create's, not the console's."""
    span = max(up - start, 0.0)

    def at(fraction: float) -> float:
        return start + span * fraction

    kernel = config.kernel or "/boot/vmlinuz-2.6.18-xen"
    parts = [f"root={config.root}" if config.root else "", config.extra or ""]
    if config.ip:
        parts.append(f"ip={config.ip}")  # what xm built from ip=, as XEN.md says
    if config.nfs_server and config.nfs_root:
        parts.append(f"nfsroot={config.nfs_server}:{config.nfs_root}")
    cmdline = " ".join(part for part in parts if part)
    lines: list[tuple[float, str]] = []
    if config.bootloader:
        lines.append((at(0.0), f"{config.bootloader}: booting the default entry"))
    if config.hvm is not None:
        lines += [(at(fraction), text) for fraction, text in firmware_lines(config, domid)]
        kernel, cmdline = "/boot/vmlinuz-2.6.18", "ro root=/dev/hda1"
    elif os.path.basename(kernel).startswith("pv-grub"):
        lines += [
            (at(0.0), "    GNU GRUB  version 0.97 (pv-grub)"),
            (at(0.01), f"Reading the menu from {config.extra or '(hd0,0)/boot/grub/menu.lst'}"),
        ]
        kernel, cmdline = "/boot/vmlinuz-2.6.18-xen", "ro root=/dev/xvda1"
    lines += [
        (at(0.01), f"Linux version 2.6.18-xen ({kernel}) #1 SMP"),
        (at(0.03), f"Kernel command line: {cmdline}".rstrip()),
        (at(0.05), f"Memory: {config.memory * 1024}k available"),
    ]
    if config.hvm is None:
        lines.append((at(0.10), "Xen virtual console successfully installed as xvc0"))
    for disk in config.disks:
        media = "no disc" if disk.empty else disk.uname
        kind = "removable drive" if disk.cdrom else "block device"
        lines.append((at(0.20), f"Registering {kind} {disk.vdev} ({media}, mode {disk.mode.value})"))
    for index, vif in enumerate(config.vifs):
        driver = f"ioemu ({vif.model or 'rtl8139'})" if vif.type == "ioemu" else "netfront"
        lines.append((at(0.25), f"{driver}: eth{index}: bridge {vif.bridge}, mac {vif.mac or 'automatic'}"))
    if config.nfs_root:
        lines.append((at(0.40), f"Looking up port of RPC 100003/2 on {config.nfs_server}"))
    if crash:
        return [*lines, *((up, line) for line in crash)]
    fs = "nfs" if config.nfs_root else "ext3"
    lines += [
        (at(0.50), f"VFS: Mounted root ({fs} filesystem) readonly."),
        (at(0.60), "INIT: version 2.86 booting"),
        (at(0.90), "INIT: Entering runlevel: 2"),
        (up, f"{config.name} login:"),
    ]
    return lines


def firmware_lines(config: DomainConfig, domid: int) -> list[tuple[float, str]]:
    """What an HVM guest shows before its OS: the device model, hvmloader, the BIOS, the boot drive."""
    hvm = config.hvm
    if hvm is None:
        return []
    drives = {"a": "Floppy", "c": "Hard Disk", "d": "CD-Rom", "n": "Network"}
    first = drives.get((hvm.boot or "c")[:1], "Hard Disk")
    lines = [(0.0, f"Device model {hvm.device_model} started for domain {domid}")]
    if hvm.vnc is not False and not hvm.nographic:
        display = hvm.vncdisplay if hvm.vncdisplay is not None else domid
        lines.append((0.0, f"VNC server on {hvm.vnclisten or '127.0.0.1'}:{5900 + display}"))
    lines += [
        (0.005, f"HVM Loader ({config.kernel})"),
        (0.006, "Loading ROMBIOS ..."),
        (0.010, f"Booting from {first}..."),
    ]
    return lines


def shutdown_lines(reason: str, start: float, end: float) -> list[tuple[float, str]]:
    level = "6" if reason == "reboot" else "0"
    final = "Restarting system." if reason == "reboot" else "System halted."
    return [
        (start, f"INIT: Switching to runlevel: {level}"),
        (start, f"The system is going down for {'reboot' if reason == 'reboot' else 'system halt'} NOW!"),
        (end, final),
    ]


KILLED_INIT = "Kernel panic - not syncing: Attempted to kill init!"
NFS_ROOT_FAILURE = ("VFS: Unable to mount root fs via NFS, trying floppy.", KILLED_INIT)
INJECTED_CRASH = ("Oops: 0000 [#1] SMP (injected crash at boot)", KILLED_INIT)


def no_root_filesystem(vdev: str) -> tuple[str, ...]:
    """Linux's panic when the root device holds no filesystem it can mount."""
    block = _block_numbers(vdev)
    return (
        f'VFS: Cannot open root device "{vdev}" or unknown-block({block})',
        'Please append a correct "root=" boot option',
        f"Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block({block})",
    )


def _block_numbers(vdev: str) -> str:
    """major,minor of a Linux disk name, as the kernel prints them (sda1 is 8,1)."""
    number = vdev_number(vdev) or 0
    return f"{number // 256},{number % 256}"


def crash_reason(texts: list[str]) -> str:
    """Why a guest crashed, from its console: the first line of its panic."""
    starts = (NFS_ROOT_FAILURE[0], INJECTED_CRASH[0], "VFS: Cannot open root device")
    for text in texts:
        if text.startswith(starts):
            return text
    return next((text for text in texts if text.startswith("Kernel panic")), "")
