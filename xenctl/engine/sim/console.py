"""What a simulated guest prints on its console, and when.

Lines are stored with the time they appear; ``xm console`` during a boot shows only the lines
printed so far. The text follows a Xen 3.x paravirtualised Linux guest (2.6.18-xen).
"""

from __future__ import annotations

from xenctl.engine.api import DomainConfig
from xenctl.engine.devices import vdev_number


def boot_lines(
    config: DomainConfig, start: float, up: float, *, crash: tuple[str, ...] = ()
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
    lines += [
        (at(0.01), f"Linux version 2.6.18-xen ({kernel}) #1 SMP"),
        (at(0.03), f"Kernel command line: {cmdline}".rstrip()),
        (at(0.05), f"Memory: {config.memory * 1024}k available"),
        (at(0.10), "Xen virtual console successfully installed as xvc0"),
    ]
    for disk in config.disks:
        lines.append((at(0.20), f"Registering block device {disk.vdev} ({disk.uname}, mode {disk.mode.value})"))
    for index, vif in enumerate(config.vifs):
        lines.append((at(0.25), f"netfront: eth{index}: bridge {vif.bridge}, mac {vif.mac or 'automatic'}"))
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
