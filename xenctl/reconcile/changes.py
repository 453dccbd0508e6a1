"""What a plan is made of: changes to objects, each with its action, fields and reason.

A plan is data (the lesson of Terraform's ``plans`` package): a closed set of actions, a change
per object with the before and after of every field that differs, and a reason shown to the
user that is never used to decide anything during apply.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from xenctl.reconcile.values import Removal, Values


class Action(str, enum.Enum):
    CREATE = "create"  # the object does not exist: make it
    UPDATE = "update"  # change it in place (mem-set, vcpu-set, attach, detach, grow)
    RESTART = "restart"  # shut the domain down and create it again with the new config
    REPLACE = "replace"  # destroy the object and make a new one (only with --destroy-data for data)
    DELETE = "delete"  # a managed object no longer in the specs
    START = "start"  # a declared domain that is not running
    STOP = "stop"  # a running domain declared stopped
    PAUSE = "pause"
    RESUME = "resume"
    RETAIN = "retain"  # a change that would lose data, held back without --destroy-data
    ADOPT = "adopt"  # mark an unmanaged object as managed (only with --adopt)


class ChangeClass(str, enum.Enum):
    """How a field can change on a live object; the one table is in ``fields``."""

    LIVE = "live"  # on the running object: mem-set, vcpu-set, pause, block-attach/detach
    RESTART = "restart"  # needs the domain shut down and created again
    GROW_ONLY = "grow-only"  # may grow in place; shrinking would lose data
    REPLACE = "replace"  # what the object is: its VG, its path, its kind
    IMMUTABLE = "immutable"  # cannot change at all


class Kind(str, enum.Enum):
    DOMAIN = "domain"
    VOLUME_GROUP = "volume_group"
    VOLUME = "volume"
    NFS_EXPORT = "nfs_export"
    AUTOSTART = "autostart"  # an entry in <xen root>/auto, by file name


# Looked up by dict, not worked out for each change: a cold plan names 40,000 addresses, twice.
_PREFIXES = {kind: f"{kind.value}." for kind in Kind}
# The classes of field that force each action the plan names as forced.
_FORCING = {
    Action.RESTART: (ChangeClass.RESTART,),
    Action.REPLACE: (ChangeClass.REPLACE, ChangeClass.GROW_ONLY),
    Action.RETAIN: (ChangeClass.REPLACE, ChangeClass.GROW_ONLY),
}


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    before: object
    after: object
    change_class: ChangeClass


@dataclass(frozen=True, slots=True)
class Change:
    """One object's change. ``address`` is ``kind.name``: ``domain.web1``, ``volume.web1-root``."""

    kind: Kind
    name: str
    action: Action
    fields: tuple[FieldChange, ...] = ()
    reason: str = ""
    values: Values | None = None  # what apply makes it with (``attach``): None for what it removes
    removes: Removal | None = None  # the live volume a delete or a replacement removes

    @property
    def address(self) -> str:
        return _PREFIXES[self.kind] + self.name

    @property
    def effect(self) -> Action:
        """What apply does to the object: an adoption that changes a restart-class field restarts
        the domain, one that changes others updates it in place. Counted and shown as such."""
        if self.action is Action.ADOPT and self.fields:
            restarts = any(f.change_class is ChangeClass.RESTART for f in self.fields)
            return Action.RESTART if restarts else Action.UPDATE
        return self.action

    def forced_by(self) -> tuple[str, ...]:
        """The fields that force a restart, a replacement or a retention (what the plan names)."""
        if not self.fields:
            return ()
        forcing = _FORCING.get(self.effect, ())
        return tuple(f.name for f in self.fields if f.change_class in forcing)


@dataclass(frozen=True, slots=True)
class Unmanaged:
    """A live object xenctl did not make and will not touch; listed so the user knows."""

    kind: Kind
    name: str
