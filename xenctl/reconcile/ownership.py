"""Whose an object is, and what may be done to it: the rules every part of the diff shares.

Objects marked ``managed_by`` this tool are xenctl's: a managed domain missing from the specs is
deleted, a managed volume retained (or deleted with ``destroy_data``). Unmanaged objects are
listed and never touched; a spec that names one is an error unless ``adopt``. A change that
destroys data is a REPLACE only with ``destroy_data``; otherwise it is RETAINED, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from xenctl.engine.api import MANAGED_BY, HostState
from xenctl.reconcile.changes import Action, Change, FieldChange, Kind, Unmanaged
from xenctl.spec.model import DesiredState


@dataclass(frozen=True)
class DiffOptions:
    adopt: bool = False
    destroy_data: bool = False
    managed_by: str = MANAGED_BY


class Owned:
    """The part of a diff that knows ownership: it collects clashes and unmanaged objects."""

    def __init__(self, desired: DesiredState, live: HostState, options: DiffOptions) -> None:
        self.desired = desired
        self.live = live
        self.options = options
        self.clashes: list[str] = []
        self.entry_clashes: list[str] = []
        self.unmanaged: list[Unmanaged] = []

    def managed(self, owner: object) -> bool:
        return getattr(owner, "managed_by", None) == self.options.managed_by

    def claim(self, kind: Kind, name: str, owner: object) -> Change | None:
        """For a declared object that exists: None if it is ours, ADOPT if it may become ours."""
        if self.managed(owner):
            return None
        if self.options.adopt:
            return Change(kind, name, Action.ADOPT, reason="made by hand; --adopt makes it xenctl's")
        self.clashes.append(f"{kind.value}.{name}")
        return None

    def data_change(
        self, kind: Kind, name: str, field: FieldChange, what: str, *, more: list[FieldChange] | None = None
    ) -> Change:
        """A change that destroys data: REPLACE with --destroy-data, else RETAIN, saying why."""
        fields = (field, *(more or []))
        if self.options.destroy_data:
            return Change(kind, name, Action.REPLACE, fields, reason=f"{what} changes, and --destroy-data allows it")
        return Change(
            kind,
            name,
            Action.RETAIN,
            fields,
            reason=f"{what} would change, which destroys its data; kept as it is (--destroy-data allows it)",
        )

    def gone(self, kind: Kind, name: str, owner: object, changes: list[Change], *, holds_data: bool) -> None:
        """A live object the specs do not declare."""
        if not self.managed(owner):
            self.unmanaged.append(Unmanaged(kind, name))
        elif holds_data and not self.options.destroy_data:
            changes.append(
                Change(
                    kind,
                    name,
                    Action.RETAIN,
                    reason="no longer in the specs; kept with its data (--destroy-data deletes it)",
                )
            )
        else:
            changes.append(Change(kind, name, Action.DELETE, reason="no longer in the specs"))
