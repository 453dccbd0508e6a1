"""``diff(desired, live)``: what would have to change for the live host to match the specs.

Pure and deterministic: the same desired state and the same snapshot give the same changes, in
the same order (by kind, then name). Every field's change class comes from ``fields``; the
action follows from the classes: any restart-class field makes a domain RESTART, live-class
fields make an UPDATE, a volume that would lose data is RETAINED unless ``destroy_data``.

Ownership decides what may be touched (``ownership``): objects marked ``managed_by`` this tool
are xenctl's, unmanaged ones are listed and never touched. Volume groups and volumes are diffed
in ``storagediff``; domains, NFS exports and autostart entries here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from xenctl.engine.api import (
    MANAGED_BY,
    Domain,
    HostState,
    HvmConfig,
    Phase,
    Vif,
)
from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action, Change, ChangeClass, FieldChange, Kind, Unmanaged
from xenctl.reconcile.configs import disk_target, domain_config, entry_digest, entry_ordering, entry_text
from xenctl.reconcile.fields import FIELDS, live_or_restart
from xenctl.reconcile.ownership import DiffOptions
from xenctl.reconcile.storagediff import StorageDiff
from xenctl.spec.model import (
    AutostartSpec,
    DesiredPower,
    DesiredState,
    DomainSpec,
    VifSpec,
)
from xenctl.xmconfig.auto import Broken, Entry, Listing
from xenctl.xmconfig.domain import config_lines

__all__ = ["MANAGED_BY", "Diff", "DiffOptions", "Scope", "diff", "disk_target", "domain_config", "entry_text"]


_DEFAULT_OPTIONS = DiffOptions()


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    unmanaged: tuple[Unmanaged, ...]


@dataclass(frozen=True)
class Scope:
    """Only these domains and autostart entries (by name, by file), declared or live: what a plan
    made again after an edit diffs anew. Nothing else is diffed, so the live state may be the part
    of the host that holds them (``Driver.snapshot_of``)."""

    domains: frozenset[str]
    entries: frozenset[str]


def diff(
    desired: DesiredState,
    live: HostState,
    options: DiffOptions = _DEFAULT_OPTIONS,
    auto: Listing | None = None,
    scope: Scope | None = None,
) -> Diff:
    """``auto``: the entries now in the auto directory; without it, autostart entries are left out.

    The changes come by kind (volume groups, volumes, exports, domains, autostart entries); in
    each, the declared objects by name, then the live ones no longer declared."""
    work = _Differ(desired, live, options)
    if scope is None:
        changes = [*work.volume_groups(), *work.volumes(), *work.exports(), *work.domains()]
    else:
        changes = work.domains(scope.domains)
    if auto is not None:
        changes += work.autostart(auto, scope.entries if scope is not None else None)
    if work.entry_clashes:
        raise PlanError("\n".join(work.entry_clashes))
    if work.clashes:
        raise PlanError(
            "the specs name objects xenctl did not make (give --adopt to take them over): " + ", ".join(work.clashes)
        )
    return Diff(tuple(changes), tuple(sorted(work.unmanaged, key=lambda u: (u.kind.value, u.name))))


class _Differ(StorageDiff):
    # -- autostart entries ----------------------------------------------------------------

    def autostart(self, auto: Listing, only: frozenset[str] | None = None) -> list[Change]:
        present: dict[str, Entry | Broken] = {e.file: e for e in auto.entries}
        present.update((b.file, b) for b in auto.broken)
        by_hand = {e.domain: e for e in reversed(auto.entries) if not e.managed}  # the first by name
        if only is not None:
            present = {file: found for file, found in present.items() if file in only}
        changes = []
        for spec in self._entries(only):
            file = spec.entry_name
            other = by_hand.get(spec.domain)
            if other is not None and other.file != file:
                where = f"{spec.origin.file}: " if spec.origin.file else ""
                self.entry_clashes.append(
                    f"{where}autostart entry {file}: {other.path}, placed by hand, starts domain {spec.domain} "
                    "too, and a boot would start it from one of them only; remove that file, or this entry"
                )
            found = present.pop(file, None)
            if found is None:
                changes.append(Change(Kind.AUTOSTART, file, Action.CREATE, reason=f"not in {auto.directory}"))
            elif not found.managed:
                where = f"{spec.origin.file}: " if spec.origin.file else ""
                self.entry_clashes.append(
                    f"{where}autostart entry {file}: {found.path} was placed by hand, and xenctl never rewrites "
                    "such an entry; remove it, or give the spec's entry another file name (file:)"
                )
            elif isinstance(found, Broken):
                reason = f"it no longer reads ({found.reason}); write it again"
                changes.append(Change(Kind.AUTOSTART, file, Action.UPDATE, reason=reason))
            else:
                fields = tuple(self.entry_fields(spec, found))
                # the header names the spec file as it was given: another path to it is no change
                if fields or found.digest != entry_digest(
                    self.desired, self.live.host.storage_root, spec, found.source
                ):
                    changes.append(Change(Kind.AUTOSTART, file, Action.UPDATE, fields, reason="the entry differs"))
        for file, found in sorted(present.items()):
            if found.managed:
                changes.append(Change(Kind.AUTOSTART, file, Action.DELETE, reason="no longer in the specs"))
            else:
                self.unmanaged.append(Unmanaged(Kind.AUTOSTART, file))
        return changes

    def _entries(self, only: frozenset[str] | None) -> list[AutostartSpec]:
        """The declared entries by file name (only those named, each looked up: a plan after an
        edit asks for a few of many)."""
        if only is None:
            return sorted(self.desired.autostart, key=lambda a: a.entry_name)
        found = (self.desired.entry(file) for file in sorted(only))
        return [spec for spec in found if spec is not None]

    def entry_fields(self, spec: AutostartSpec, found: Entry) -> Iterator[FieldChange]:
        wanted = entry_ordering(spec)
        for name in ("order", "after", "up", "stop", "stop_timeout", "on_timeout"):
            before, after = getattr(found.ordering, name), getattr(wanted, name)
            if before != after:
                yield FieldChange(name, before, after, ChangeClass.LIVE)
        domain = self.desired.domain(spec.domain)
        if domain is None:
            return
        now = dict(config_lines(found.config))
        then = dict(config_lines(domain_config(domain, self.desired, self.live.host.storage_root)))
        for key in sorted(set(now) | set(then)):
            if now.get(key) != then.get(key):
                yield FieldChange(f"config.{key}", now.get(key), then.get(key), ChangeClass.LIVE)

    # -- NFS exports ------------------------------------------------------------------------

    def exports(self) -> list[Change]:
        live = {(e.server, e.path): e for e in self.live.nfs_exports}
        changes = []
        wanted = set()
        for spec in self.desired.nfs_exports:
            key = (spec.server, spec.path)
            wanted.add(key)
            export = live.get(key)
            if export is None:
                changes.append(Change(Kind.NFS_EXPORT, spec.name, Action.CREATE, reason="not exported yet"))
            elif export.served_by_domain:
                adopted = self.claim(Kind.NFS_EXPORT, spec.name, export.owner)
                changes.extend([adopted] if adopted else [])
        for key, export in sorted(live.items()):
            if key not in wanted and export.served_by_domain:
                self.gone(Kind.NFS_EXPORT, export.address, export.owner, changes, holds_data=False)
        return changes

    # -- domains ----------------------------------------------------------------------------

    def domains(self, only: frozenset[str] | None = None) -> list[Change]:
        live = {d.name: d for d in self.live.domains if d.domid != 0 and (only is None or d.name in only)}
        changes = []
        declared = self.desired.domains if only is None else (self.desired.domain(name) for name in sorted(only))
        for spec in declared:
            if spec is None:
                continue
            domain = live.pop(spec.name, None)
            change = self.domain(spec, domain)
            if change is not None:
                changes.append(change)
        for domain in sorted(live.values(), key=lambda d: d.name):
            self.gone(Kind.DOMAIN, domain.name, domain.owner, changes, holds_data=False)
        return changes

    def domain(self, spec: DomainSpec, live: Domain | None) -> Change | None:
        wanted_on = spec.state is not DesiredPower.STOPPED
        if live is None:
            if not wanted_on:
                return None
            return Change(Kind.DOMAIN, spec.name, Action.CREATE, reason="not on the host")
        adopted = self.claim(Kind.DOMAIN, spec.name, live.owner)
        if adopted is not None:
            differs = tuple(self.domain_fields(spec, live)) if live.phase is not Phase.SAVING else ()
            restarts = any(f.change_class is ChangeClass.RESTART for f in differs)
            later = "; the fields below change as well" if differs else ""
            later = "; the domain restarts for the fields below" if restarts else later
            return Change(Kind.DOMAIN, spec.name, Action.ADOPT, differs, reason=adopted.reason + later)
        if not self.managed(live.owner):
            return None
        if not wanted_on:
            if live.phase in (Phase.SHUTDOWN, Phase.CRASHED):
                return None  # halted already, kept by preserve: stopped is what it is
            return Change(Kind.DOMAIN, spec.name, Action.STOP, reason="declared stopped")
        if live.phase in (Phase.SHUTDOWN, Phase.CRASHED, Phase.SAVING, Phase.SHUTTING_DOWN):
            return Change(Kind.DOMAIN, spec.name, Action.START, reason=f"it is {live.phase.value}; start it again")
        fields = self.domain_fields(spec, live)
        classes = {f.change_class for f in fields}
        if ChangeClass.RESTART in classes:
            return Change(Kind.DOMAIN, spec.name, Action.RESTART, tuple(fields), reason="a field needs a restart")
        non_state = [f for f in fields if f.name != "state"]
        if non_state:
            return Change(Kind.DOMAIN, spec.name, Action.UPDATE, tuple(fields), reason="changes while it runs")
        if fields:
            action = Action.PAUSE if spec.state is DesiredPower.PAUSED else Action.RESUME
            return Change(Kind.DOMAIN, spec.name, action, tuple(fields), reason=f"declared {spec.state.value}")
        return None

    def domain_fields(self, spec: DomainSpec, live: Domain) -> list[FieldChange]:
        config = live.config
        fields: list[FieldChange] = []

        def compare(name: str, before: object, after: object, cls: ChangeClass | None = None) -> None:
            if before != after:
                fields.append(FieldChange(name, before, after, cls or FIELDS[Kind.DOMAIN][name]))

        if spec.maxmem is not None:
            compare("maxmem", config.memory_ceiling, spec.maxmem)
        if spec.maxvcpus is not None:
            compare("maxvcpus", config.vcpu_ceiling, spec.maxvcpus)
        caps = self.live.host.capabilities
        memory = live_or_restart(spec.memory, config.memory_ceiling, caps.live_memory)
        compare("memory", live.target, spec.memory, memory)
        compare("vcpus", live.vcpus, spec.vcpus, live_or_restart(spec.vcpus, config.vcpu_ceiling, caps.live_vcpus))
        wanted = domain_config(spec, self.desired, self.live.host.storage_root) if spec.hvm or config.hvm else None
        for name in ("kernel", "ramdisk", "bootloader", "root", "extra", "ip"):
            compare(name, getattr(config, name), getattr(wanted or spec, name))
        if wanted is not None:
            before, after = _hvm_fields(config.hvm), _hvm_fields(wanted.hvm)
            if before is None or after is None:
                compare("hvm", before, after)
            else:
                for key in sorted(before.keys() | after.keys()):
                    compare(f"hvm.{key}", before.get(key), after.get(key), FIELDS[Kind.DOMAIN]["hvm"])
        for name in ("on_poweroff", "on_reboot", "on_crash"):
            compare(name, getattr(config, name).value, getattr(spec, name))
        compare("nfs_root", (config.nfs_server, config.nfs_root), self.nfs_of(spec))
        if not _vifs_match(spec, live):
            compare("vifs", [_vif_shown(v) for v in config.vifs], [_vif_shown(v) for v in spec.vifs])
        live_disks = sorted((d.vdev, d.target, d.mode.value, d.backend, d.cdrom) for d in config.disks)
        root = self.live.host.storage_root
        wanted_disks = sorted((d.vdev, *disk_target(self.desired, root, d), d.mode, d.cdrom) for d in spec.disks)
        disks = None if caps.live_disks else ChangeClass.RESTART  # attached in place where the host can
        compare("disks", live_disks, [(v, t, m, b, c) for v, t, b, m, c in wanted_disks], disks)
        paused = live.phase is Phase.PAUSED
        compare("state", "paused" if paused else "running", spec.state.value)
        return fields

    def nfs_of(self, spec: DomainSpec) -> tuple[str | None, str | None]:
        if spec.nfs_root is None:
            return (None, None)
        export = self.desired.export(spec.nfs_root)
        return (export.server, export.path) if export else (None, None)


def _vifs_match(spec: DomainSpec, live: Domain) -> bool:
    """Same bridges (and cards) in order; a MAC only counts where the spec gives one (xend picks the rest)."""
    have = live.config.vifs
    if len(have) != len(spec.vifs):
        return False
    return all(
        (w.bridge, w.type, w.model) == (h.bridge, h.type, h.model) and (w.mac is None or w.mac == h.mac)
        for w, h in zip(spec.vifs, have, strict=True)
    )


def _vif_shown(vif: Vif | VifSpec) -> tuple[str | None, ...]:
    """A vif as a plan shows it: its bridge and MAC, and its emulated card if it has one."""
    shown = (vif.bridge, vif.mac)
    card = (vif.type, vif.model)
    return shown + card if any(card) else shown


def _hvm_fields(hvm: HvmConfig | None) -> dict[str, object] | None:
    """An HVM guest's settings that are set, to compare and show; None for a paravirtualised guest."""
    return None if hvm is None else {k: v for k, v in asdict(hvm).items() if v is not None}
