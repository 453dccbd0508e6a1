"""What the simulated Xen 3.x host can do, and its numbers, as ``Driver.capabilities`` reports them."""

from __future__ import annotations

from dataclasses import replace

from xenctl.engine.api import Capabilities
from xenctl.engine.sim.profile import HostProfile

# Xen 3.x with LVM2 and the loop driver, as shared/XEN.md describes it: xend needs 2 MiB beyond a
# guest's memory to build it, LVM rounds to 4 MiB extents and keeps 1 MiB of each PV for itself.
CAPABILITIES = Capabilities(
    live_memory=True,
    live_vcpus=True,
    live_disks=True,
    pause=True,
    save_restore=True,
    console=True,
    migration=True,
    hvm=True,
    volume_groups=True,
    logical_volumes=True,
    snapshots=True,
    images=True,
    filesystems=True,
    nfs_exports=True,
    grow=frozenset({"lvm", "snapshot", "file"}),
    loop_devices=True,
    domain_overhead=2,
    extent_size=4 * 1024 * 1024,
    pv_metadata=1024 * 1024,
)


def capabilities_of(profile: HostProfile) -> Capabilities:
    """The simulated host's capabilities: Xen's, less HVM where its profile's CPU lacks it."""
    if profile.hvm:
        return CAPABILITIES
    return replace(
        CAPABILITIES,
        hvm=False,
        why_not=(*CAPABILITIES.why_not, ("hvm", "the host's processor has no VT-x or AMD-V (profile: hvm: false)")),
    )
