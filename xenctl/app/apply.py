"""Applying: under the host's lock, read the host, make the plan, confirm, carry it out.

One path for ``xenctl apply`` (specs, or a plan saved by ``plan --out``) and for ``watch``:
``reconcile`` takes the lock before it reads the host, so the plan it shows is the plan it
runs, and nothing else mutates the host while it runs. A saved plan runs only if every live
object it read is as it was (``planfile.stale``), with the values it was made with: no spec is
read again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from xenctl.app.options import PlanOptions, RunOptions
from xenctl.app.plans import desired_state, make_plan_for
from xenctl.errors import PlanError

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.engine.api import HostState
    from xenctl.reconcile.apply import ApplyResult, Hooks
    from xenctl.reconcile.plan import Plan
    from xenctl.reconcile.planfile import SavedPlan
    from xenctl.xmconfig.auto import AutoDir


class ApplyHooks(Protocol):
    """What an apply reports: the plan once made (before it is confirmed), then each action."""

    def planned(self, plan: Plan) -> None: ...
    def action_hooks(self) -> Hooks: ...


@dataclass(frozen=True)
class ApplyReport:
    """What an apply did: the plan it ran and each action's outcome (None: nothing to do)."""

    plan: Plan
    result: ApplyResult | None


def reconcile(
    host: Host,
    make: Callable[[HostState], Plan],
    *,
    command: str,
    run: RunOptions,
    hooks: ApplyHooks,
    confirm: Callable[[Plan], None] | None = None,
    stop: threading.Event | None = None,
) -> ApplyReport:
    """Under the host's lock: read the host, make the plan, report it, confirm, apply."""
    from xenctl.reconcile.apply import apply_plan

    with host.locked(command, run.lock_timeout, stop):
        plan = make(host.driver.snapshot())
        hooks.planned(plan)
        if not plan.actionable:
            return ApplyReport(plan, None)
        if confirm is not None:
            confirm(plan)
        result = apply_plan(plan, host.open_driver, parallelism=run.parallelism, hooks=hooks.action_hooks(), stop=stop)
    return ApplyReport(plan, result)


def apply_specs(
    host: Host,
    paths: list[str],
    options: PlanOptions,
    run: RunOptions,
    hooks: ApplyHooks,
    *,
    command: str,
    confirm: Callable[[Plan], None] | None = None,
    stop: threading.Event | None = None,
    check: Callable[[HostState], None] | None = None,
) -> ApplyReport:
    """Make the host match the specs at ``paths``; ``check`` may refuse the host as read."""
    auto = host.autostart

    def make(live: HostState) -> Plan:
        if check is not None:
            check(live)
        return make_plan_for(live, desired_state(host, paths, live), options, auto)

    return reconcile(host, make, command=command, run=run, hooks=hooks, confirm=confirm, stop=stop)


def apply_saved(host: Host, saved: SavedPlan, run: RunOptions, hooks: ApplyHooks, *, command: str) -> ApplyReport:
    """Carry out a plan saved by ``plan --out``, if the host is still as it was read for it."""
    auto = host.autostart

    def make(live: HostState) -> Plan:
        return _saved_plan(live, saved, auto)

    return reconcile(host, make, command=command, run=run, hooks=hooks)  # a saved plan was reviewed


def _saved_plan(live: HostState, saved: SavedPlan, auto: AutoDir) -> Plan:
    """The saved plan, as it was made, if every live object it read is as it was then."""
    from xenctl.reconcile.planfile import fingerprints, stale
    from xenctl.reconcile.saved import saved_plan

    plan = saved_plan(saved, live.host.storage_root, auto)  # checked whole before the host is compared
    listing = auto.listing()
    destroys = frozenset(a[a.index(".") + 1 :] for a, f in saved.fingerprints.items() if "content" in f)
    changed = stale(saved.fingerprints, fingerprints(live, listing, destroys))
    if changed:
        raise PlanError(
            "the saved plan is stale; the host changed since it was made:\n  "
            + "\n  ".join(changed)
            + "\nMake a new plan: xenctl plan --out FILE"
        )
    return plan
