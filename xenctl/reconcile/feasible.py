"""``check_feasible``: whether the host can carry a plan out, asked before anything runs.

The running domains fit in memory with Domain-0 ballooned to its minimum; their ``file:`` disks
fit in the loop devices; no device is held read-write by a declared domain and a hand-made one;
the devices, mounts and bridges xend checks at create are there; new and grown volumes fit in
their volume groups; no volume in use is removed; no snapshot is left invalid; and the host's
driver offers every step. An infeasible plan is a PlanError naming the objects and the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

from xenctl.engine.api import HostState, Phase
from xenctl.errors import PlanError
from xenctl.reconcile.capable import unsupported_steps
from xenctl.reconcile.changes import Action, Change, Kind
from xenctl.reconcile.names import capped, count, few, natural, of_domains, who
from xenctl.spec.model import DesiredPower, DesiredState, DomainSpec, Target, VolumeKind, volume_target
from xenctl.units import format_size


def check_feasible(desired: DesiredState, live: HostState, changes: list[Change]) -> None:
    """Refuse a plan the host could not carry out, naming the objects and the numbers."""
    # Each check looks at the changes of one or two kinds: sorted once, a plan of 40,000
    # creates is not walked whole by every check.
    by_kind: dict[Kind, list[Change]] = {kind: [] for kind in Kind}
    for change in changes:
        by_kind[change.kind].append(change)
    problems = [
        *_memory(desired, live, by_kind[Kind.VOLUME]),
        *_loops(desired, live),
        *_sharing(desired, live),
        *_devices(desired, live, by_kind),
        *_space(desired, live, by_kind[Kind.VOLUME]),
        *_storage_in_use(live, by_kind),
        *_invalid_snapshots(desired, live, by_kind),
        *unsupported_steps(desired, live, changes),
    ]
    if problems:
        raise PlanError("the plan cannot be carried out:\n  " + "\n  ".join(capped(problems)))


def _devices(desired: DesiredState, live: HostState, by_kind: dict[Kind, list[Change]]) -> list[str]:
    """What xend checks when a domain is created: devices that exist, Domain-0's mounts, bridges."""
    starting = {
        c.name for c in by_kind[Kind.DOMAIN] if c.effect in (Action.CREATE, Action.START, Action.RESTART, Action.UPDATE)
    }
    partitions = {p.path: p for p in live.partitions}
    existing = set(partitions) | {lv.path for lv in live.logical_volumes} | {i.path for i in live.images}
    root = live.host.storage_root
    made: set[str] | None = None  # what the plan makes: looked at only for a device not on the host
    bridges: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    mounted: dict[tuple[str, str], list[str]] = {}
    # A plan that starts a few domains works out only their disks; one that starts many reads
    # the table the checks made of all.
    if len(starting) * 4 < desired.domain_count():
        specs = (desired.domain(name) for name in sorted(starting))  # in ``domains``' order, by name
        rows: Iterable[tuple[DomainSpec, tuple[Target, ...]]] = (
            (spec, desired.disk_targets_of(spec, root)) for spec in specs if spec is not None
        )
    else:
        rows = zip(desired.domains, desired.disk_targets(root), strict=True)
    stopped = DesiredPower.STOPPED  # looked up once: the loop below runs over every disk
    for spec, targets in rows:
        if spec.name not in starting or spec.state is stopped:
            continue
        for vif in spec.vifs:
            if vif.bridge not in live.host.bridges:
                bridges.setdefault(vif.bridge, []).append(spec.name)
        for disk, (target, backend) in zip(spec.disks, targets, strict=True):
            if backend in ("nbd", "empty"):
                continue  # a network block device, or an empty drive: nothing of this host's
            if target not in existing:
                if made is None:
                    made = _made(desired, root, by_kind[Kind.VOLUME])
                if target not in made:
                    missing.setdefault(target, []).append(spec.name)
            part = partitions.get(target)
            if part is not None and part.mounted and disk.mode != "w!" and (part.mounted == "rw" or disk.mode == "w"):
                mounted.setdefault((target, "read-write" if disk.mode == "w" else "read-only"), []).append(spec.name)
    problems = [
        f"bridges: {who(names)} bridge {bridge}; the host has {', '.join(live.host.bridges) or 'none'}"
        for bridge, names in sorted(bridges.items())
    ]
    declared = {volume_target(v, root)[0]: v.name for v in desired.volumes} if missing else {}
    problems += [
        f"devices: {who(names)} {target}, {_absent(declared.get(target))}" for target, names in missing.items()
    ]
    for (target, how), names in mounted.items():
        part = partitions[target]
        problems.append(
            f"devices: {target} is mounted {part.mounted} in Domain-0 (on {part.mountpoint}); "
            f"{few(names)} cannot have it {how}"
        )
    return problems


def _made(desired: DesiredState, root: str, volume_changes: list[Change]) -> set[str]:
    """The devices the declared volumes will be: not those the plan retains as they are."""
    kept = {c.name for c in volume_changes if c.action is Action.RETAIN}
    partition = VolumeKind.PARTITION
    return {
        target
        for v, (target, _backend) in zip(desired.volumes, desired.volume_targets(root), strict=True)
        if v.kind is not partition and v.name not in kept
    }


def _absent(volume: str | None) -> str:
    if volume is None:
        return "which is not on this host"
    return f"which the plan does not make: volume.{volume} is retained as it is (--destroy-data replaces it)"


def _invalid_snapshots(desired: DesiredState, live: HostState, by_kind: dict[Kind, list[Change]]) -> list[str]:
    """No domain starts on a snapshot whose COW space filled, unless the plan makes it again."""
    if not any(lv.invalid for lv in live.logical_volumes):
        return []
    remade = {c.name for c in by_kind[Kind.VOLUME] if c.action is Action.REPLACE}
    invalid = {lv.path: lv for lv in live.logical_volumes if lv.invalid and lv.name not in remade}
    if not invalid:
        return []
    starting = {c.name for c in by_kind[Kind.DOMAIN] if c.effect in (Action.CREATE, Action.START, Action.RESTART)}
    users: dict[str, list[str]] = {}
    for spec, targets in zip(desired.domains, desired.disk_targets(live.host.storage_root), strict=True):
        for target, _backend in targets if spec.name in starting else ():
            if target in invalid:
                users.setdefault(target, []).append(spec.name)
    return [
        f"snapshots: {who(names)} {path}, which is invalid: its copy-on-write space filled "
        f"({format_size(invalid[path].cow_size)}); make it again with --destroy-data (what it held is lost already)"
        for path, names in sorted(users.items())
    ]


def _storage_in_use(live: HostState, by_kind: dict[Kind, list[Change]]) -> list[str]:
    """A volume or VG is replaced or deleted only if nothing that stays still holds it."""
    removed = (Action.DELETE, Action.REPLACE)
    groups_going = [c for c in by_kind[Kind.VOLUME_GROUP] if c.action in removed]
    if not (live.logical_volumes or live.images or groups_going):
        return []  # nothing on the host that a change could take from under something
    stopping = {c.name for c in by_kind[Kind.DOMAIN] if c.action in (Action.DELETE, Action.STOP)}
    going = {c.name for c in by_kind[Kind.VOLUME] if c.action in removed}
    problems = []
    for lv in live.logical_volumes:
        if lv.name not in going:
            continue
        held = [h for h in lv.holders if h not in stopping]
        if held:
            problems.append(
                f"in use: volume {lv.name} is held by {few(held)}; stop "
                f"{'it' if len(held) == 1 else 'them'} first (state: stopped), then change the volume"
            )
        snapshots = [s.name for s in live.logical_volumes if s.origin == lv.name and s.vg == lv.vg]
        if [s for s in snapshots if s not in going]:
            problems.append(f"in use: volume {lv.name} is the origin of {few(snapshots)}; remove them first")
    for image in live.images:
        name = image.path.rsplit("/", 1)[-1]
        if name in going and [h for h in image.holders if h not in stopping]:
            problems.append(f"in use: image {image.path} is held by {few(image.holders)}; stop it first")
    for change in groups_going:
        inside = [lv.name for lv in live.logical_volumes if lv.vg == change.name and lv.name not in going]
        if inside:
            problems.append(f"in use: volume group {change.name} holds {few(inside)}, which would be lost")
    return problems


def _memory(desired: DesiredState, live: HostState, volume_changes: list[Change]) -> list[str]:
    """The running domains against what the host can give guests once the plan's snapshots are
    made and gone: each holds ``snapshot_memory`` of Domain-0, which it cannot give away."""
    declared = desired.domain_names()
    kept = [d for d in live.domains if d.domid != 0 and d.name not in declared and d.owner is None]
    overhead = live.host.capabilities.domain_overhead
    how_many, memory = desired.running_memory()
    need = memory + overhead * how_many
    held = sum(d.memory for d in kept)
    host = live.host
    snapshots = host.snapshots + _snapshots_made(desired, live, volume_changes)
    limit = host.guest_memory_max - (snapshots - host.snapshots) * host.snapshot_memory * host.ballooning
    if need + held <= limit:
        return []
    stopped = DesiredPower.STOPPED
    running = [d for d in desired.domains if d.state is not stopped]  # named in the message
    snapped = snapshots > 0 and host.snapshot_memory > 0 and host.ballooning
    largest = sorted(running, key=lambda d: (-d.memory, natural(d.name)))
    named = ", ".join(f"{d.name} {d.memory}M" for d in largest[:3])
    named = f"the largest {named} and {count(len(largest) - 3, 'other')}" if len(largest) > 3 else named
    others = f" beside {held}M of {count(len(kept), 'domain')} xenctl does not manage ({few(d.name for d in kept)})"
    return [
        f"memory: {count(len(running), 'declared domain')} ({named}) need {need}M{others if held else ''}; "
        f"the host can give guests at most {limit}M (Domain-0 at its minimum of {host.dom0_min_mem}M"
        + (f", and {snapshots * host.snapshot_memory}M for {count(snapshots, 'LVM snapshot')})" if snapped else ")")
    ]


def _snapshots_made(desired: DesiredState, live: HostState, volume_changes: list[Change]) -> int:
    """Snapshots the plan makes, less those it removes."""
    live_snapshots = {lv.name for lv in live.logical_volumes if lv.is_snapshot}
    if not live_snapshots and not desired.declares_snapshots():
        return 0  # none declared, none on the host: no change makes or removes one
    made = 0
    for change in volume_changes:
        spec = desired.volume(change.name)
        now, then = change.name in live_snapshots, spec is not None and spec.kind is VolumeKind.SNAPSHOT
        if change.action in (Action.CREATE, Action.REPLACE) and then and not now:
            made += 1
        elif change.action in (Action.DELETE, Action.REPLACE) and now and not then:
            made -= 1
    return made


def _loops(desired: DesiredState, live: HostState) -> list[str]:
    if not live.host.capabilities.loop_devices:
        return []  # its file-backed disks hold no loop devices of a count (libvirt's, QEMU's)
    # Counted without working out every disk's path: a plan of one change on a large host asks this too.
    wanted = desired.file_disk_count()
    if not wanted:
        return []
    declared = desired.domain_names()
    kept = sum(
        1 for d in live.domains if d.name not in declared and d.owner is None for k in d.config.disks if k.needs_loop
    )
    if wanted + kept <= live.host.max_loop:
        return []  # what guests made by hand hold already is not this plan's to refuse
    users = desired.file_disk_users()
    return [
        f"loop devices: {count(len(users), 'file-backed disk')} ({of_domains(users)})"
        + (f" beside {kept:,} held by other domains" if kept else "")
        + f"; the host has {count(live.host.max_loop, 'loop device')} (max_loop)"
    ]


def _sharing(desired: DesiredState, live: HostState) -> list[str]:
    """Declared domains against the hand-made ones that hold devices now."""
    declared = desired.domain_names()
    held: dict[str, list[tuple[str, str]]] = {}
    for domain in live.domains:
        if domain.name in declared or domain.owner is not None or domain.domid == 0:
            continue
        if domain.phase in (Phase.SHUTDOWN, Phase.CRASHED):
            continue
        for attached in domain.config.disks:
            held.setdefault(attached.target, []).append((domain.name, attached.mode.value))
    if not held:
        return []
    wanting: dict[tuple[str, str, str], list[str]] = {}
    for spec, targets in desired.disks_on(held.keys(), live.host.storage_root):
        if spec.state is DesiredPower.STOPPED:
            continue
        for disk, (target, _backend) in zip(spec.disks, targets, strict=True):
            for other, mode in held.get(target, ()):
                if {mode, disk.mode} not in ({"r"}, {"w!"}):
                    wanting.setdefault((target, other, mode), []).append(f"{spec.name} ({disk.mode})")
    return [
        f"device sharing: {target} is held by {other} ({mode}), which xenctl does not manage, "
        f"and {few(names)} {'wants' if len(names) == 1 else f'({len(set(names)):,} domains) want'} it"
        for (target, other, mode), names in wanting.items()
    ]


def _space(desired: DesiredState, live: HostState, volume_changes: list[Change]) -> list[str]:
    need: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    extent = live.host.capabilities.extent_size
    update, sized = Action.UPDATE, (Action.CREATE, Action.UPDATE, Action.REPLACE)
    in_groups = (VolumeKind.LVM, VolumeKind.SNAPSHOT)
    declared = desired.volume
    for change in volume_changes:
        if change.action not in sized:
            continue
        volume = declared(change.name)
        if volume is None or volume.kind not in in_groups or not volume.vg:
            continue
        size = -(-(volume.size or 0) // extent) * extent
        if change.action is update:
            size = sum(int(f.after) - int(f.before) for f in change.fields if f.name == "size")  # type: ignore[call-overload]
        need[volume.vg] = need.get(volume.vg, 0) + size
        names.setdefault(volume.vg, []).append(volume.name)
    if not need:
        return []  # the declared groups looked at only when a volume takes space in one
    free = {vg.name: vg.free for vg in live.volume_groups}
    for group in desired.volume_groups:
        free.setdefault(group.name, _new_group_size(live, group.pvs))
    return [
        f"space: volume group {vg} needs {size // (1024 * 1024)}M more for "
        f"{count(len(names[vg]), 'volume')} ({few(names[vg])}) and has {free.get(vg, 0) // (1024 * 1024)}M free"
        for vg, size in sorted(need.items())
        if size > free.get(vg, 0)
    ]


def _new_group_size(live: HostState, pvs: tuple[str, ...]) -> int:
    sizes = {p.path: p.size for p in live.partitions}
    caps = live.host.capabilities
    return sum(max(0, (sizes.get(pv, 0) - caps.pv_metadata) // caps.extent_size) * caps.extent_size for pv in pvs)
