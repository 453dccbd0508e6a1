"""What a simulated guest prints on its console, and when.

Lines are stored with the time they appear; ``xm console`` during a boot shows only the lines
printed so far. The text follows a Xen 3.x paravirtualised Linux guest (2.6.18-xen).
"""

from __future__ import annotations

from xenctl.engine.api import DomainConfig


def boot_lines(
    config: DomainConfig, domid: int, start: float, up: float, *, crash: str | None = None
) -> list[tuple[float, str]]:
    """A boot from ``start`` to ``up``; ``crash`` names why the guest panics at the end, if it does."""
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
    lines: list[tuple[float, str]] = [(at(0.0), f"Started domain {config.name} (id={domid})")]
    if config.bootloader:
        lines.append((at(0.0), f"{config.bootloader}: booting the default entry"))
    lines += [
        (at(0.02), f"Linux version 2.6.18-xen ({kernel}) #1 SMP"),
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
        return [*lines, (up, crash), (up, "Kernel panic - not syncing: Attempted to kill init!")]
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


NFS_ROOT_FAILURE = "VFS: Unable to mount root fs via NFS, trying floppy."
INJECTED_CRASH = "Oops: 0000 [#1] SMP (injected crash at boot)"
