"""A driver that denies capabilities: another driver with some of what it can do taken away.

``Denying(inner, {"snapshots": "no COW on this host"})`` reports the capabilities denied (in
``capabilities()`` and in every snapshot's ``HostInfo``), with the reasons, and refuses the calls
that need them with an ``EngineError``, as a driver honest about its host must; every other call
goes to ``inner``. The contract suite runs its denial checks on it, and the planner's tests give
it to ``xenctl plan``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from xenctl.engine.api import Capabilities, Domain, DomainConfig, Driver, HostState, Selection
from xenctl.errors import EngineError

# What each capability lets a caller do: the Driver calls a driver without it must refuse.
# ``grow:lvm`` and ``grow:file`` are the kinds in ``Capabilities.grow``.
CALLS: dict[str, tuple[str, ...]] = {
    "live_memory": ("set_memory",),
    "live_vcpus": ("set_vcpus",),
    "live_disks": ("attach_disk", "detach_disk"),
    "pause": ("pause_domain", "unpause_domain"),
    "save_restore": ("save_domain", "restore_domain", "saved_config"),
    "console": ("console",),
    "migration": (),
    "hvm": (),  # create_domain of a fully virtualised guest: refused by ``Denying.create_domain``
    "volume_groups": ("create_volume_group", "remove_volume_group"),
    "logical_volumes": ("create_logical_volume", "remove_logical_volume"),
    "snapshots": ("create_snapshot",),
    "images": ("create_image", "grow_image", "remove_image"),
    "nfs_exports": ("create_nfs_export", "remove_nfs_export"),
    "filesystems": ("format_volume", "populate_volume"),
    "grow:lvm": (),  # grow_logical_volume of a plain LV, and of a snapshot below: by what it grows
    "grow:snapshot": (),
    "grow:file": ("grow_image",),
    "loop_devices": (),  # a count the host keeps, not a call: a host without it counts nothing
}


def denied_capabilities(caps: Capabilities, denied: Mapping[str, str]) -> Capabilities:
    """``caps`` with the capabilities in ``denied`` taken away, each with its reason."""
    flags = {name: False for name in denied if not name.startswith("grow:")}
    grow = frozenset(kind for kind in caps.grow if f"grow:{kind}" not in denied)
    reasons = dict(caps.why_not)
    for name, reason in denied.items():
        reasons["grow" if name.startswith("grow:") and not grow else name] = reason
    return replace(caps, **flags, grow=grow, why_not=tuple(sorted(reasons.items())))


class Denying:
    """``inner`` without the capabilities in ``denied`` (capability -> the reason given)."""

    def __init__(self, inner: Driver, denied: Mapping[str, str]) -> None:
        unknown = set(denied) - set(CALLS)
        assert not unknown, f"no such capability: {sorted(unknown)}"
        self.inner = inner
        self.denied = dict(denied)
        self._caps = denied_capabilities(inner.capabilities(), denied)
        self._refused = {call: name for name in denied for call in CALLS[name]}

    def capabilities(self) -> Capabilities:
        return self._caps

    def create_domain(self, config: DomainConfig, **options: Any) -> Domain:
        if config.hvm is not None and "hvm" in self.denied:
            return self._refusal("create_domain", "hvm")(config.name)  # type: ignore[no-any-return]
        return self.inner.create_domain(config, **options)

    def grow_logical_volume(self, vg: str, name: str, size: int) -> None:
        lv = next((v for v in self.inner.snapshot().logical_volumes if (v.vg, v.name) == (vg, name)), None)
        kind = "grow:snapshot" if lv is not None and lv.is_snapshot else "grow:lvm"
        if kind in self.denied:
            self._refusal("grow_logical_volume", kind)(f"{vg}/{name}")
        self.inner.grow_logical_volume(vg, name, size)

    def snapshot(self) -> HostState:
        return self._told(self.inner.snapshot())

    def snapshot_of(self, selection: Selection) -> tuple[str | None, HostState]:
        token, state = self.inner.snapshot_of(selection)
        return token, self._told(state)

    def _told(self, state: HostState) -> HostState:
        host = replace(state.host, capabilities=self._caps)
        if "loop_devices" in self.denied:  # file-backed disks hold no loop device of a count
            host = replace(host, max_loop=0, loops_used=0)
        return replace(state, host=host)

    def __getattr__(self, call: str) -> Any:
        capability = self._refused.get(call)
        if capability is None:
            return getattr(self.inner, call)
        return self._refusal(call, capability)

    def _refusal(self, call: str, capability: str) -> Callable[..., Any]:
        reason = self.denied[capability]

        def refuse(*args: object, **kwargs: object) -> Any:
            obj = str(args[0]) if args else ""
            raise EngineError(f"{call} {obj}: the host cannot ({capability}): {reason}", op=call, obj=obj)

        return refuse
