"""Saved plans: ``plan --out FILE`` and ``apply FILE``.

A plan file is JSON: the format, the options the plan was made with, the text of every spec
file it was made from (for the record), the plan itself (as ``render.plan_to_json``: its changes
and their order), the values each change is carried out with (``values``), and a fingerprint of
every live object the plan read: the fields diff looks at, and the content of every volume the
plan would destroy. ``apply FILE`` takes a fresh snapshot and refuses the plan if any
fingerprint changed, naming each object and how; otherwise it runs the saved changes with their
saved values (``saved_plan``), reading no spec. Every field is checked: a plan file is input.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from xenctl.engine.api import HostState
from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action, Change, Kind
from xenctl.reconcile.values import to_json
from xenctl.spec.model import DesiredState, volume_target
from xenctl.xmconfig.auto import Listing

FORMAT = "xenctl-plan/2"  # 2: each change carries its values; 1 was planned again from its specs
FORMAT_PREFIX = "xenctl-plan/"
MAX_PLAN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SavedPlan:
    options: dict[str, Any]
    sources: list[tuple[str, str]]
    plan: dict[str, Any]
    fingerprints: dict[str, dict[str, Any]]
    values: dict[str, Any] = field(default_factory=dict)  # by address: what each change is made with
    path: str = ""


def values_json(changes: Iterable[Change]) -> dict[str, Any]:
    """Each change's values (and what it removes), by address, as a plan file keeps them."""
    found: dict[str, Any] = {}
    for change in changes:
        kept = {}
        if change.values is not None:
            kept["values"] = to_json(change.values)
        if change.removes is not None:
            kept["removes"] = to_json(change.removes)
        if kept:
            found[change.address] = kept
    return found


def _owner(owner: object) -> list[str] | None:
    if owner is None:
        return None
    return [getattr(owner, "managed_by", ""), getattr(owner, "source", "")]


def destroyed_paths(changes: Iterable[Change], live: HostState, desired: DesiredState) -> frozenset[str]:
    """The host paths of the volumes a plan deletes or replaces: what ``--destroy-data`` loses."""
    going = {c.name for c in changes if c.kind is Kind.VOLUME and c.action in (Action.DELETE, Action.REPLACE)}
    paths = {lv.path for lv in live.logical_volumes if lv.name in going}
    paths |= {i.path for i in live.images if i.path.rsplit("/", 1)[-1] in going}
    for name in going:
        spec = desired.volume(name)
        if spec is not None:
            paths.add(volume_target(spec, live.host.storage_root)[0])
    return frozenset(paths)


def fingerprints(
    live: HostState, entries: Listing | None = None, destroys: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """Every live object the diff reads, by address, with the fields it reads; with ``entries``,
    each autostart entry's bytes (as a digest) and whether it is managed, or why it is broken.
    For the volumes at ``destroys`` (what the plan would delete or replace), their content too:
    a plan made to destroy data is refused once anything was written to it since."""
    found: dict[str, dict[str, Any]] = {}
    if entries is not None:
        for entry in entries.entries:
            found[f"autostart.{entry.file}"] = {"digest": entry.digest, "managed": entry.managed}
        for bad in entries.broken:
            found[f"autostart.{bad.file}"] = {"broken": bad.reason, "managed": bad.managed}
    for domain in live.domains:
        if domain.domid == 0:
            continue
        found[f"domain.{domain.name}"] = {
            "domid": domain.domid,
            "phase": domain.phase.value,
            "memory": domain.target,
            "vcpus": domain.vcpus,
            "config": json.loads(json.dumps(asdict(domain.config))),
            "owner": _owner(domain.owner),
        }
    for group in live.volume_groups:
        found[f"volume_group.{group.name}"] = {"pvs": list(group.pvs), "owner": _owner(group.owner)}
    for lv in live.logical_volumes:
        found[f"lv.{lv.path}"] = {
            "size": lv.size,
            "cow_size": lv.cow_size,
            "origin": lv.origin,
            "filesystem": lv.filesystem,
            "owner": _owner(lv.owner),
        }
        if lv.path in destroys:
            found[f"lv.{lv.path}"]["content"] = lv.digest
    for image in live.images:
        found[f"image.{image.path}"] = {
            "size": image.size,
            "filesystem": image.filesystem,
            "owner": _owner(image.owner),
        }
        if image.path in destroys:
            found[f"image.{image.path}"]["content"] = image.digest
    for export in live.nfs_exports:
        found[f"nfs_export.{export.address}"] = {"owner": _owner(export.owner)}
    for part in live.partitions:
        found[f"partition.{part.path}"] = {"filesystem": part.filesystem, "vg": part.vg}
        if part.path in destroys:
            found[f"partition.{part.path}"]["content"] = part.digest
    return found


def stale(saved: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """What changed on the host since the plan was made, one line per object."""
    lines = []
    for address in sorted(set(saved) | set(now)):
        before, after = saved.get(address), now.get(address)
        if before == after:
            continue
        if before is None:
            lines.append(f"{address} has appeared")
        elif after is None:
            lines.append(f"{address} is gone")
        else:
            changed = [
                f"{key} {_short(before.get(key))} -> {_short(after.get(key))}"
                for key in sorted(set(before) | set(after))
                if before.get(key) != after.get(key)
            ]
            lines.append(f"{address} changed: {'; '.join(changed)}")
    return lines


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def write_planfile(
    path: str,
    *,
    options: dict[str, Any],
    sources: list[tuple[str, str]],
    plan: dict[str, Any],
    live: HostState,
    entries: Listing | None = None,
    destroys: frozenset[str] = frozenset(),
    values: dict[str, Any] | None = None,
) -> None:
    data = {  # "format" first: looks_like_planfile reads only the head of a file
        "format": FORMAT,
        "options": options,
        "sources": [{"path": name, "text": text} for name, text in sources],
        "plan": plan,
        "fingerprints": fingerprints(live, entries, destroys),
        "values": values or {},
    }
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".xenctl-plan-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1, default=str)
        os.replace(tmp, path)
    except OSError as exc:
        raise PlanError(f"{path}: cannot write the plan: {exc.strerror}") from None


def looks_like_planfile(path: str) -> bool:
    """Whether ``path`` is a plan file (it starts with the format), not a spec."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(256)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and f'"format": "{FORMAT_PREFIX}'.encode() in head


def read_planfile(path: str) -> SavedPlan:
    """A saved plan; any file that is not one is a PlanError naming it."""
    try:
        if os.path.getsize(path) > MAX_PLAN_BYTES:
            raise PlanError(f"{path}: larger than any plan xenctl writes")
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PlanError(f"{path}: not a plan file written by xenctl plan --out") from None
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            written = data.get("format") if isinstance(data, dict) else None
            if isinstance(written, str) and written.startswith(FORMAT_PREFIX):
                raise PlanError(f"{path}: a plan file of another xenctl ({written[:40]}); make a new plan")
            raise TypeError
        sources = [(str(s["path"]), str(s["text"])) for s in data["sources"]]
        options, plan, prints = data["options"], data["plan"], data["fingerprints"]
        if not all(isinstance(x, dict) for x in (options, plan, prints)):
            raise TypeError
        if not all(isinstance(v, dict) for v in prints.values()):
            raise TypeError
        # What apply reads of it: the options a plan is made with, and each change's address and action.
        target = options.get("target")
        if not (
            isinstance(options.get("adopt"), bool)
            and isinstance(options.get("destroy_data"), bool)
            and (target is None or isinstance(target, str))
        ):
            raise TypeError
        changes = plan.get("resource_changes", [])
        if not isinstance(changes, list) or not all(
            isinstance(c, dict)
            and isinstance(c.get("address"), str)
            and isinstance(c.get("change"), dict)
            and isinstance(c["change"].get("xenctl_action"), str)
            for c in changes
        ):
            raise TypeError
    except (TypeError, KeyError):
        raise PlanError(f"{path}: not a plan file written by this xenctl ({FORMAT})") from None
    values = data.get("values", {})
    if not isinstance(values, dict):
        raise PlanError(f"{path}: not a plan file written by this xenctl ({FORMAT})")
    return SavedPlan(options, sources, plan, prints, values, path)
