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
from xenctl.errors import PlanError, one_line
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
    """A saved plan, every field of it checked: a plan file is input like any other, and the
    first thing wrong in it is a PlanError naming the file and the field."""
    try:
        if os.path.getsize(path) > MAX_PLAN_BYTES:
            raise PlanError(f"{path}: larger than any plan xenctl writes")
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PlanError(f"{path}: not a plan file written by xenctl plan --out") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        written = data.get("format") if isinstance(data, dict) else None
        if isinstance(written, str) and written.startswith(FORMAT_PREFIX):
            raise PlanError(one_line(f"{path}: a plan file of another xenctl ({written[:40]}); make a new plan"))
        raise PlanError(f"{path}: not a plan file written by this xenctl ({FORMAT})")
    try:
        return _checked(data, path)
    except _Bad as bad:
        raise PlanError(one_line(f"{path}: {bad.field}: {bad.problem}")) from None
    except RecursionError:
        raise PlanError(f"{path}: nests deeper than any plan xenctl writes") from None


class _Bad(Exception):
    """A field of a plan file that is not what xenctl writes there."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


_FIELDS = ("format", "options", "sources", "plan", "fingerprints", "values")
_OPTIONS: dict[str, type | tuple[type, ...]] = {"adopt": bool, "destroy_data": bool, "target": (str, type(None))}


def _checked(data: dict[str, Any], path: str) -> SavedPlan:
    _text_everywhere(data, "")
    _keys(data, _FIELDS, "", required=_FIELDS)
    options = _object(data["options"], "options")
    _keys(options, tuple(_OPTIONS), "options.", required=("adopt", "destroy_data"))
    for key, kind in _OPTIONS.items():
        if key in options and not isinstance(options[key], kind):
            raise _Bad(f"options.{key}", f"{_shown(options[key])} is not what xenctl writes here")
    sources = data["sources"]
    if not isinstance(sources, list):
        raise _Bad("sources", "must be a list of spec files")
    for index, source in enumerate(sources):
        where = f"sources[{index}]"
        _keys(_object(source, where), ("path", "text"), f"{where}.", required=("path", "text"))
        for key in ("path", "text"):
            if not isinstance(source[key], str):
                raise _Bad(f"{where}.{key}", f"must be text, not {_shown(source[key])}")
        if not source["path"] or "\x00" in source["path"]:
            raise _Bad(f"{where}.path", "is not a file name")
    plan = _object(data["plan"], "plan")
    changes = plan.get("resource_changes", [])
    if not isinstance(changes, list):
        raise _Bad("plan.resource_changes", "must be a list")
    for index, change in enumerate(changes):
        where = f"plan.resource_changes[{index}]"
        if not isinstance(_object(change, where).get("address"), str):
            raise _Bad(f"{where}.address", "must be text")
        if not isinstance(_object(change.get("change"), f"{where}.change").get("xenctl_action"), str):
            raise _Bad(f"{where}.change.xenctl_action", "must be text")
    prints = _object(data["fingerprints"], "fingerprints")
    for address, fingerprint in prints.items():
        _object(fingerprint, f"fingerprints[{address}]")
    values = _object(data["values"], "values")  # each change's, read whole by ``saved.saved_plan``
    return SavedPlan(options, [(s["path"], s["text"]) for s in sources], plan, prints, values, path)


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(field, f"must be an object, not {_shown(value)}")
    return value


def _keys(value: dict[str, Any], known: tuple[str, ...], prefix: str, *, required: tuple[str, ...]) -> None:
    for key in value:
        if key not in known:
            raise _Bad(f"{prefix}{key}", "is not a field of a plan file")
    for key in required:
        if key not in value:
            raise _Bad(f"{prefix}{key}", "is missing")


def _text_everywhere(value: Any, field: str) -> None:
    """Every string in the file (keys too) is Unicode text: JSON's escapes can spell a lone
    surrogate (\\ud800), which no file name, spec or terminal can take."""
    if isinstance(value, str):
        _text(value, field or "format")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _text_everywhere(item, f"{field}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{field}.{key}" if field else key
            _text(key, where)
            _text_everywhere(item, where)


def _text(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad(
            one_line(field.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")),
            f"holds an unpaired surrogate (\\u{ord(text[exc.start]):04x}), which is not Unicode text",
        ) from None


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return _short(value)
