"""A plan as people read it (``+ ~ -/+ - !``), as JSON for scripts, and as DOT for graphviz.

Pure: each function returns text. The JSON follows the shape of Terraform's JSON plan:
``resource_changes[].change.actions`` (``["create"]``, ``["update"]``, ``["delete", "create"]`` for
a restart or a replacement), ``before``/``after`` of the fields that change, ``replace_paths``
naming the fields that force it, and ``action_reason``.
"""

from __future__ import annotations

import json
from typing import Any

from xenctl import __version__
from xenctl.reconcile.changes import Action, Change, FieldChange
from xenctl.reconcile.plan import Plan
from xenctl.units import MIB, format_size

FORMAT_VERSION = "1.0"

SYMBOLS = {
    Action.CREATE: "+",
    Action.START: "+",
    Action.UPDATE: "~",
    Action.PAUSE: "~",
    Action.RESUME: "~",
    Action.STOP: "~",
    Action.ADOPT: "~",
    Action.RESTART: "-/+",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.RETAIN: "!",
}
_COLOURS = {"+": "32", "~": "33", "-/+": "35", "-": "31", "!": "36"}
_JSON_ACTIONS = {
    Action.CREATE: ["create"],
    Action.START: ["create"],
    Action.UPDATE: ["update"],
    Action.PAUSE: ["update"],
    Action.RESUME: ["update"],
    Action.STOP: ["update"],
    Action.ADOPT: ["update"],
    Action.RESTART: ["delete", "create"],
    Action.REPLACE: ["delete", "create"],
    Action.DELETE: ["delete"],
    Action.RETAIN: ["no-op"],
}


def _shown(field: FieldChange, value: object) -> str:
    if value is None:
        return "(none)"
    if field.name in ("memory", "maxmem") and isinstance(value, int):
        return format_size(value * MIB)
    if field.name == "size" and isinstance(value, int):
        return format_size(value)
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _paint(text: str, symbol: str, colour: bool) -> str:
    return f"\033[{_COLOURS[symbol]}m{text}\033[0m" if colour else text


def summary(plan: Plan) -> str:
    c = plan.counts()
    return (
        f"Plan: {c['create']} to create, {c['update']} to update, {c['restart']} to restart, "
        f"{c['replace']} to replace, {c['delete']} to delete, {c['retained']} retained"
    )


def render_text(plan: Plan, *, colour: bool = False) -> str:
    """The plan for a person: one line a change, its fields below, the summary last."""
    if not plan.changes:
        lines = ["No changes. The host matches the specs."]
    else:
        lines = ["xenctl will make these changes:", ""]
        for change in plan.changes:
            lines.extend(_change_lines(change, colour))
    if plan.unmanaged:
        names = ", ".join(f"{u.kind.value}.{u.name}" for u in plan.unmanaged)
        lines += ["", f"Not made by xenctl, left alone: {names}"]
    lines += ["", summary(plan)]
    return "\n".join(lines)


# What each action is called on its line (a dict: the line is made for every change).
_WHAT = {action: action.value for action in Action} | {Action.RETAIN: "retained"}


def _change_lines(change: Change, colour: bool) -> list[str]:
    effect = change.effect
    symbol = SYMBOLS[effect]
    what = _WHAT[change.action]
    if change.action is Action.ADOPT and effect is Action.RESTART:
        what = "adopt and restart"
    forced = change.forced_by()
    if forced:
        what += f" ({', '.join(forced)} {'forces' if len(forced) == 1 else 'force'} it)"
    head = f"  {symbol:>3} {change.address}"
    lines = [_paint(f"{head:<40} {what}: {change.reason}", symbol, colour)]
    for field in change.fields:
        lines.append(
            f"        {field.name}: {_shown(field, field.before)} -> {_shown(field, field.after)}"
            f" ({field.change_class.value})"
        )
    return lines


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "xenctl_version": __version__,
        "resource_changes": [_change_json(c) for c in plan.changes],
        "unmanaged": [{"type": u.kind.value, "name": u.name} for u in plan.unmanaged],
        "order": [[a, b] for a, b in sorted(plan.edges)],
        "summary": plan.counts(),
    }


def _change_json(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "type": change.kind.value,
        "name": change.name,
        "change": {
            "actions": _JSON_ACTIONS[change.effect],
            "xenctl_action": change.action.value,
            "before": {f.name: f.before for f in change.fields},
            "after": {f.name: f.after for f in change.fields},
            "change_classes": {f.name: f.change_class.value for f in change.fields},
            "replace_paths": [[name] for name in change.forced_by()],
        },
        "action_reason": change.reason,
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, default=str)


def render_dot(plan: Plan) -> str:
    """The plan graph for graphviz: nodes labelled with their symbol, edges "must finish before"."""
    lines = ["digraph plan {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for change in sorted(plan.changes, key=lambda c: c.address):
        lines.append(f'  "{change.address}" [label="{SYMBOLS[change.effect]} {change.address}"];')
    for before, after in sorted(plan.edges):
        lines.append(f'  "{before}" -> "{after}";')
    lines.append("}")
    return "\n".join(lines)
