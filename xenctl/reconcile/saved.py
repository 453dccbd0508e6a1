"""A plan read back from a plan file, as the plan it was: its changes with their values, and
their order. Every field is checked first: a plan file is input like any other."""

from __future__ import annotations

from typing import Any

from xenctl.errors import PlanError
from xenctl.reconcile.changes import Action, Change, ChangeClass, FieldChange, Kind, Unmanaged
from xenctl.reconcile.dag import Dag
from xenctl.reconcile.plan import Plan
from xenctl.reconcile.planfile import FORMAT, SavedPlan
from xenctl.reconcile.values import Removal, from_json
from xenctl.xmconfig.auto import AutoDir


def saved_plan(saved: SavedPlan, storage_root: str, auto: AutoDir | None) -> Plan:
    """The plan ``saved`` holds; a PlanError names the file and the field that is not as
    ``xenctl plan --out`` writes it."""
    try:
        return _read(saved, storage_root, auto)
    except (ValueError, TypeError, KeyError) as exc:
        detail = exc.args[0] if isinstance(exc, ValueError) and exc.args else "a field is missing or mistyped"
        raise PlanError(f"{saved.path}: not a plan file written by this xenctl ({FORMAT}): {detail}") from None


_NEEDS_VALUES = (Action.CREATE, Action.START, Action.RESTART, Action.UPDATE, Action.REPLACE, Action.ADOPT)


def _read(saved: SavedPlan, storage_root: str, auto: AutoDir | None) -> Plan:
    for key in ("resource_changes", "order", "unmanaged"):
        if not isinstance(saved.plan.get(key), list):
            raise ValueError(f"plan.{key}: not a list")
    changes: dict[str, Change] = {}
    for i, item in enumerate(saved.plan["resource_changes"]):
        change = _change(item, saved.values, f"resource_changes[{i}]")
        if change.address in changes:
            raise ValueError(f"resource_changes[{i}]: {change.address} appears twice")
        changes[change.address] = change
    graph = Dag(changes)
    for i, edge in enumerate(saved.plan["order"]):
        if not (isinstance(edge, list) and len(edge) == 2 and all(a in changes for a in edge)):
            raise ValueError(f"order[{i}]: not a pair of the plan's changes")
        if edge[0] == edge[1]:
            raise ValueError("order: the changes' order has a cycle")
        graph.add_edge(*edge)
    if not graph.is_acyclic():
        raise ValueError("order: the changes' order has a cycle")
    unmanaged = tuple(
        Unmanaged(_enum(Kind, u["type"], "unmanaged"), _text(u["name"], "unmanaged")) for u in saved.plan["unmanaged"]
    )
    return Plan(tuple(changes.values()), graph.edges(), unmanaged, None, storage_root, auto)


def _change(item: object, values: dict[str, object], where: str) -> Change:
    if not isinstance(item, dict) or not isinstance(item.get("change"), dict):
        raise ValueError(f"{where}: not a change")
    body = item["change"]
    kind = _enum(Kind, item.get("type"), f"{where}.type")
    name = _text(item.get("name"), f"{where}.name")
    action = _enum(Action, body.get("xenctl_action"), f"{where}.change.xenctl_action")
    if item.get("address") != f"{kind.value}.{name}":
        raise ValueError(f"{where}.address: not {kind.value}.{name}")
    before, after, classes = (body.get(k, {}) for k in ("before", "after", "change_classes"))
    if not all(isinstance(d, dict) for d in (before, after, classes)) or set(classes) != set(after):
        raise ValueError(f"{where}.change: its fields do not agree")
    fields = tuple(
        FieldChange(_text(f, where), before.get(f), after[f], _enum(ChangeClass, classes[f], f"{where}.{f}"))
        for f in after
    )
    kept = values.get(item["address"], {})
    if not isinstance(kept, dict):
        raise ValueError(f"values[{item['address']}]: not an object")
    made = from_json(kept["values"], f"values[{item['address']}]") if "values" in kept else None
    removes = from_json(kept["removes"], f"values[{item['address']}].removes") if "removes" in kept else None
    if isinstance(made, Removal) or (removes is not None and not isinstance(removes, Removal)):
        raise ValueError(f"values[{item['address']}]: values of the wrong kind")
    if made is None and action in _NEEDS_VALUES:
        raise ValueError(f"values[{item['address']}]: missing; apply needs them to {action.value} it")
    reason = _text(item.get("action_reason", ""), f"{where}.action_reason")
    return Change(kind, name, action, fields, reason, made, removes)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise ValueError(f"{where}: not a string")
    return value


def _enum(kind: type[Kind] | type[Action] | type[ChangeClass], value: object, where: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not one xenctl knows") from None
