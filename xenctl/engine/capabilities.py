"""What a host can do, as its driver reports it; the planner holds no hypervisor's constants."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a host can do, as its driver reports it: the planner asks, and never plans a step
    the host says it cannot take (it names the object, the step and the reason instead).

    The numbers are the host's own arithmetic: what the hypervisor takes per guest beyond its
    memory, and how its volume manager rounds and spends space. A driver that cannot tell
    reports what is safe (a larger overhead, a coarser extent).
    """

    live_memory: bool = False  # a running guest's memory changes in place (xm mem-set)
    live_vcpus: bool = False  # a running guest's online vCPUs change in place (xm vcpu-set)
    live_disks: bool = False  # block devices attach to and detach from a running guest
    pause: bool = False  # a guest can be paused and resumed
    save_restore: bool = False  # a guest can be saved to a file and restored from it
    console: bool = False  # a guest's console output can be read
    migration: bool = False  # a guest can move to another host
    hvm: bool = False  # fully virtualised guests (hvmloader and a device model)
    volume_groups: bool = False  # volume groups can be made and removed
    logical_volumes: bool = False  # logical volumes can be made and removed
    snapshots: bool = False  # copy-on-write snapshots of logical volumes
    images: bool = False  # image files under the storage root
    filesystems: bool = False  # volumes can be formatted (mkfs) and filled (populate) on the host
    nfs_exports: bool = False  # NFS exports can be declared (served by the host or a guest)
    grow: frozenset[str] = frozenset()  # the volume kinds that grow in place: "lvm", "snapshot", "file"
    loop_devices: bool = False  # each file-backed disk holds one of ``HostInfo.max_loop`` loop devices
    domain_overhead: int = 0  # MiB the hypervisor needs beyond a guest's memory to build it
    extent_size: int = 1  # bytes; logical volume sizes round up to it
    pv_metadata: int = 0  # bytes each physical volume keeps for the volume manager's metadata
    # (capability, reason) for what the host cannot do, by the field's name; a kind of volume
    # that does not grow is ``grow:<kind>`` (``grow`` when none does).
    why_not: tuple[tuple[str, str], ...] = ()

    def reason(self, capability: str) -> str:
        """Why the host cannot do ``capability``, as its driver put it."""
        given = dict(self.why_not)
        found = given.get(capability) or (given.get("grow") if capability.startswith("grow:") else None)
        return found or "the host's driver does not offer it"
