"""``xenctl host show|init|fault``: the simulated host itself."""

from __future__ import annotations

import argparse
import json

from xenctl.cli.context import host_of
from xenctl.engine.api import Fault, HostState, ImageFile, LogicalVolume
from xenctl.engine.sim.profile import DURATION_KEYS, HostProfile
from xenctl.engine.sim.xendconfig import XendConfig
from xenctl.errors import UsageError
from xenctl.units import MIB, format_duration, format_size


def run_init(args: argparse.Namespace) -> int:
    from xenctl.engine.sim.profile import default_profile, load_profile

    profile = load_profile(args.profile) if args.profile else default_profile()
    with host_of(args) as handle:
        home = handle.make_simulated(profile, force=args.force)
    source = args.profile or "the built-in profile"
    print(f"Host {profile.name} made from {source} in {home}.")
    return 0


def run_show(args: argparse.Namespace) -> int:
    with host_of(args) as handle:
        host = handle.sim()
        state = host.snapshot()
        profile = host.profile
        home = host.home
        xend = xend_settings(host.stored_profile, host.xend)
    if args.json:
        settings = {key: {"value": value, "source": source} for key, value, source in xend}
        shown = {"home": home, "profile": profile.to_dict(), "xend": settings, "live": _live(state)}
        print(json.dumps(shown, indent=2))
    else:
        print(describe(profile, state, home))
        print("xend (Domain-0's settings, and relocation), and where each comes from:")
        for key, value, source in xend:
            print(f"  {key:<28} {value!s:<24}  {source}")
    return 0


def xend_settings(profile: HostProfile, xend: XendConfig | None) -> list[tuple[str, object, str]]:
    """What xend decides on the host: (key, value, where it comes from). Without an
    xend-config.sxp, Domain-0's settings come from the host profile and relocation is not set."""
    if xend is not None:
        return [(s.key, _plain(s.value), s.source) for s in xend.settings]
    source = "host profile (no xend-config.sxp in the xen root)"
    return [
        ("dom0-min-mem", profile.dom0_min_mem, source),
        ("enable-dom0-ballooning", "yes" if profile.dom0_ballooning else "no", source),
        ("dom0-cpus", profile.dom0_vcpus or 0, source),
        ("xend-relocation-server", "no", "not set (no xend-config.sxp)"),
    ]


def _plain(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return value


def _live(state: HostState) -> dict[str, object]:
    h = state.host
    return {
        "runlevel": h.runlevel,
        "memory": {"total": h.total_memory, "free": h.free_memory, "dom0": h.dom0_memory},
        "domains": len(state.domains),
        "loops_used": h.loops_used,
        "volume_groups": [
            {"name": vg.name, "pvs": list(vg.pvs), "size": vg.size, "free": vg.free} for vg in state.volume_groups
        ],
        "logical_volumes": len(state.logical_volumes),
        "images": len(state.images),
        "snapshots": {"count": h.snapshots, "dom0_memory_each": h.snapshot_memory},
        "volumes": [_lv_json(lv) for lv in state.logical_volumes],
        "image_files": [_image_json(image) for image in state.images],
    }


def _lv_json(lv: LogicalVolume) -> dict[str, object]:
    found: dict[str, object] = {"path": lv.path, "size": lv.size, "filesystem": lv.filesystem}
    if lv.is_snapshot:
        found.update(origin=lv.origin, cow_size=lv.cow_size, cow_used=lv.cow_used, invalid=lv.invalid)
    return {**found, "holders": list(lv.holders), "managed": lv.owner is not None}


def _image_json(image: ImageFile) -> dict[str, object]:
    return {
        "path": image.path,
        "size": image.size,
        "sparse": image.sparse,
        "filesystem": image.filesystem,
        "holders": list(image.holders),
        "managed": image.owner is not None,
    }


def describe(profile: HostProfile, state: HostState, home: str) -> str:
    h = state.host
    guests = h.total_memory - profile.xen_reserved - h.dom0_memory - h.free_memory
    ballooning = "on" if h.ballooning else "off"
    lines = [
        f"Host {profile.name}, runlevel {h.runlevel}, state in {home}",
        f"Memory:       {_mib(h.total_memory)} total: Xen {_mib(profile.xen_reserved)}, "
        f"Domain-0 {_mib(h.dom0_memory)} (min {_mib(h.dom0_min_mem)}{_held(state)}, ballooning {ballooning}), "
        f"guests {_mib(guests)}, free {_mib(h.free_memory)}",
        f"CPUs:         {h.pcpus}",
        f"Domains:      {len(state.domains) - 1} besides Domain-0",
        f"Loop devices: {h.loops_used} of {h.max_loop} in use",
        f"Bridges:      {', '.join(h.bridges) or '(none)'}",
        f"Storage root: {h.storage_root} ({len(state.images)} image files)",
        f"Save dir:     {h.save_dir}",
        "Disks:",
    ]
    for disk in profile.disks:
        lines.append(f"  {disk.name:<6} {format_size(disk.size):>6}")
        for part in state.partitions:
            if part.disk != disk.name:
                continue
            use = []
            if part.mounted:
                use.append(f"mounted {part.mounted} on {part.mountpoint}")
            if part.vg:
                use.append(f"PV of {part.vg}")
            if part.holders:
                use.append("held by " + ", ".join(part.holders))
            size = format_size(part.size)
            lines.append(f"    {part.path:<12} {size:>6}  {part.filesystem or '-':<12} {'; '.join(use)}".rstrip())
    lines.append("Volume groups:" + ("" if state.volume_groups else " (none)"))
    for vg in state.volume_groups:
        lines.append(f"  {vg.name:<12} {format_size(vg.size):>6}, {format_size(vg.free)} free, on {', '.join(vg.pvs)}")
    lines += _volume_lines(state)
    lines.append("NFS exports:" + ("" if state.nfs_exports else " (none)"))
    for export in state.nfs_exports:
        by = "served by a domain" if export.served_by_domain else "outside the host"
        lines.append(f"  {export.address} ({by})")
    d = profile.durations
    lines.append(
        "Durations:    "
        + ", ".join(f"{name} {format_duration(getattr(d, name))}" for name in DURATION_KEYS)
        + " (image_create per GiB written)"
    )
    return "\n".join(lines)


def _held(state: HostState) -> str:
    h = state.host
    if not h.snapshots or not h.snapshot_memory:
        return ""
    return f" + {_mib(h.snapshots * h.snapshot_memory)} for {h.snapshots} LVM snapshot{'s' if h.snapshots > 1 else ''}"


def _volume_lines(state: HostState) -> list[str]:
    """Logical volumes (snapshots with their COW fill and state), then image files."""
    lines = ["Logical volumes:" + ("" if state.logical_volumes else " (none)")]
    for lv in state.logical_volumes:
        what = [lv.filesystem or "-"]
        if lv.is_snapshot:
            share = lv.cow_used * 100 // lv.cow_size if lv.cow_size else 100
            what = [
                f"snapshot of {lv.origin}, COW {format_size(lv.cow_used)} of {format_size(lv.cow_size)} used "
                f"({share}%), {'INVALID: its COW space filled' if lv.invalid else 'valid'}"
            ]
        if lv.holders:
            what.append("held by " + ", ".join(lv.holders))
        lines.append(f"  {lv.vg + '/' + lv.name:<24} {format_size(lv.size):>6}  {'; '.join(what)}")
    lines.append("Image files:" + ("" if state.images else " (none)"))
    for image in state.images:
        what = ["sparse" if image.sparse else "allocated", image.filesystem or "-"]
        if image.holders:
            what.append("held by " + ", ".join(image.holders))
        lines.append(f"  {image.path:<40} {format_size(image.size):>6}  {', '.join(what)}")
    return lines


def _mib(value: int) -> str:
    return format_size(value * MIB) if value else "0M"


def run_fault_add(args: argparse.Namespace) -> int:
    if args.times is not None and args.times < 1:
        raise UsageError("--times must be 1 or more")
    with host_of(args) as handle:
        fault_id = handle.sim().add_fault(
            Fault(
                op=args.op,
                obj=args.object,
                kind=args.kind,
                message=args.message,
                times=args.times,
                skip=args.skip,
                rate=args.rate,
            )
        )
    print(f"Fault {fault_id} added.")
    return 0


def run_fault_list(args: argparse.Namespace) -> int:
    with host_of(args) as handle:
        faults = handle.sim().faults()
    if not faults:
        print("No faults.")
    for fault in faults:
        times = "every time" if fault.times is None else f"{fault.times} more time(s)"
        if fault.skip:
            times += f" after {fault.skip} let through"
        if fault.rate < 1:
            times += f", on {fault.rate:.0%} of them"
        what = f": {fault.message}" if fault.kind == "fail" else ""
        print(f"{fault.id:>4}  {fault.kind:<16} {fault.op:<14} {fault.obj:<20} {times}{what}")
    return 0


def run_fault_clear(args: argparse.Namespace) -> int:
    with host_of(args) as handle:
        removed = handle.sim().clear_faults(args.id)
    if args.id is not None and not removed:
        raise UsageError(f"there is no fault {args.id}")
    print(f"{removed} fault(s) removed.")
    return 0
