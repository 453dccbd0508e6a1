"""Steps a host says it cannot take: the planner asks the driver's capabilities, and a plan that
needs one names the object, the step and the host's reason instead of failing half-way.

Changes the host can make another way are planned that way by ``diff`` (memory or vCPUs that
cannot change live are a restart); what is left here has no other way.
"""

from __future__ import annotations

from collections.abc import Callable

from xenctl.engine.api import Capabilities, HostState
from xenctl.reconcile.changes import Action, Change, Kind
from xenctl.spec.model import DesiredPower, DesiredState, VolumeKind

_MAKES = (Action.CREATE, Action.REPLACE)
_Refuse = Callable[[Change, str, str], None]  # the change, the step, the capability it needs
# What making a volume of each kind needs, and the step as the plan names it.
_VOLUME_STEPS = {
    VolumeKind.LVM: ("logical_volumes", "create a logical volume"),
    VolumeKind.SNAPSHOT: ("snapshots", "create a copy-on-write snapshot"),
    VolumeKind.FILE: ("images", "create an image file"),
}


def unsupported_steps(desired: DesiredState, live: HostState, changes: list[Change]) -> list[str]:
    """One line for each change that needs what the host says it cannot do."""
    caps = live.host.capabilities
    problems: list[str] = []

    def refuse(change: Change, step: str, capability: str) -> None:
        problems.append(f"cannot be done on this host: {change.address}: {step}: {caps.reason(capability)}")

    # A host that makes and fills every kind of volume refuses none the plan makes (a cold plan
    # makes tens of thousands).
    makes_any = caps.filesystems and all(getattr(caps, capability) for capability, _step in _VOLUME_STEPS.values())
    for change in changes:
        if change.kind is Kind.VOLUME:
            if not (makes_any and change.action in _MAKES):
                _volume(desired, caps, change, refuse)
        elif change.kind is Kind.VOLUME_GROUP and change.action in _MAKES and not caps.volume_groups:
            refuse(change, "create a volume group", "volume_groups")
        elif change.kind is Kind.NFS_EXPORT and change.action in _MAKES and not caps.nfs_exports:
            refuse(change, "export an NFS root", "nfs_exports")
        elif change.kind is Kind.DOMAIN and not caps.pause:
            spec = desired.domain(change.name)
            pausing = change.action in (Action.PAUSE, Action.RESUME) or (
                spec is not None
                and spec.state is DesiredPower.PAUSED
                and change.action in (Action.CREATE, Action.START)
            )
            if pausing or any(f.name == "state" for f in change.fields):
                refuse(change, "pause or resume a domain", "pause")
    return problems


def _volume(desired: DesiredState, caps: Capabilities, change: Change, refuse: _Refuse) -> None:
    spec = desired.volume(change.name)
    if spec is None:
        return
    if change.action in _MAKES and spec.kind in _VOLUME_STEPS:
        capability, step = _VOLUME_STEPS[spec.kind]
        if not getattr(caps, capability):
            refuse(change, step, capability)
    fills = {f.name for f in change.fields} & {"filesystem", "populate"} if change.action is Action.UPDATE else set()
    if change.action in _MAKES and spec.kind not in (VolumeKind.PARTITION, VolumeKind.SNAPSHOT):
        fills = {name for name in ("filesystem", "populate") if getattr(spec, name)}
    if fills and not caps.filesystems:
        step = "make its filesystem" if "filesystem" in fills else "put files on it"
        refuse(change, step, "filesystems")
    grows = change.action is Action.UPDATE and any(f.name == "size" for f in change.fields)
    if grows and spec.kind.value not in caps.grow:
        refuse(change, f"grow a {spec.kind.value} volume in place", f"grow:{spec.kind.value}")
