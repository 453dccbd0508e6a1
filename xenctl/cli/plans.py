"""``xenctl plan``, ``apply``, ``graph`` and ``force-unlock``: the specs, reconciled with the host.

Each command is a pipeline: load the specs, snapshot the host, diff, make the plan, then render
it (plan, graph) or carry it out (apply). ``apply`` takes the host's lock before it reads the
host, so the plan it shows is the plan it runs; on a terminal it asks for ``yes``.

Exit codes: 0 done or nothing to do; 1 an error or a failed action; with ``plan
--detailed-exitcode``, 2 when there are changes.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xenctl.cli.autostart import auto_dir
from xenctl.cli.context import default_home, open_sim, take_lock
from xenctl.cli.specs import capacity_of, spec_cache, spec_paths
from xenctl.engine.api import Selection
from xenctl.errors import PlanError, UsageError
from xenctl.reconcile.walker import STOPPING

if TYPE_CHECKING:
    from xenctl.engine.api import HostState
    from xenctl.engine.sim.host import SimHost
    from xenctl.reconcile.apply import ApplyResult, Outcome
    from xenctl.reconcile.changes import Change
    from xenctl.reconcile.diff import Diff, DiffOptions
    from xenctl.reconcile.plan import Plan
    from xenctl.spec.model import DesiredState
    from xenctl.xmconfig.auto import AutoDir, Listing


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"adopt": bool(args.adopt), "destroy_data": bool(args.destroy_data), "target": args.target}


def make_plan_for(
    live: HostState, desired: DesiredState, options: dict[str, Any], auto: AutoDir, listing: Listing | None = None
) -> Plan:
    """The plan of ``desired`` against ``live`` and the auto directory (``listing``: as already read)."""
    return _plan_and_diff(live, desired, options, auto, listing if listing is not None else auto.listing())[0]


def _diff_options(options: dict[str, Any]) -> DiffOptions:
    from xenctl.reconcile.diff import DiffOptions

    return DiffOptions(adopt=options["adopt"], destroy_data=options["destroy_data"])


def _plan_and_diff(
    live: HostState, desired: DesiredState, options: dict[str, Any], auto: AutoDir, listing: Listing
) -> tuple[Plan, Diff]:
    from xenctl.reconcile.diff import diff
    from xenctl.reconcile.plan import make_plan

    result = diff(desired, live, _diff_options(options), listing)
    return make_plan(result, desired, live, target=options.get("target"), auto=auto), result


def _desired(args: argparse.Namespace, live: HostState) -> DesiredState:
    return desired_state(spec_paths(args.paths), args.home, live)


def desired_state(
    paths: list[str], home: str | None, live: HostState, models: dict[str, tuple[str, DesiredState]] | None = None
) -> DesiredState:
    """The specs, checked against the capacity of the host just read (one snapshot a command)."""
    from xenctl.spec.load import load_specs

    return load_specs(paths, capacity_of(live.host), cache_dir=spec_cache(home), models=models)


def _quiet_collector() -> None:
    """A plan builds a few hundred thousand small objects that live until the command ends, and
    makes no cycles worth collecting: the cyclic collector would only walk them again and again."""
    gc.disable()


def run_plan(args: argparse.Namespace) -> int:
    _quiet_collector()
    from xenctl.cli.plancache import PlanCache

    options = _options(args)
    auto = auto_dir(args)
    home = args.home or default_home()
    form = "json" if args.json else "colour" if _colour() else "text"
    with open_sim(home) as host:
        cache = PlanCache(os.path.join(home, "cache", "plans"))
        token = host.change_token()
        key = None if args.out else cache.key(token, spec_paths(args.paths), options, form, auto)
        found = cache.get(key) if key else None
        if found is not None:
            output, actionable = found
        else:
            output, actionable = _plan_afresh(args, host, options, auto, home, token)
            # Kept only if the files are still what the key says: one edited while the plan read
            # them would file this plan under the other text.
            if key and key == cache.key(token, spec_paths(args.paths), options, form, auto):
                cache.put(key, output, actionable)
    print(output)
    if args.out:
        print(f"\nSaved the plan to {args.out}. Apply exactly this plan with: xenctl apply {args.out}", file=sys.stderr)
    return 2 if args.detailed_exitcode and actionable else 0


def _plan_afresh(
    args: argparse.Namespace, host: SimHost, options: dict[str, Any], auto: AutoDir, home: str, token: str | None
) -> tuple[str, bool]:
    """Plan (from the last plan's basis when only a few domains changed, else reading the host
    whole), render, and leave a basis for the next plan (or, with ``--out``, save the plan)."""
    from xenctl.cli.plancache import BasisStore, entries_stamp
    from xenctl.reconcile.incremental import MAX_CHANGES, Basis, SpecFile, replan, text_digest
    from xenctl.reconcile.planfile import write_planfile
    from xenctl.reconcile.render import plan_to_json, render_json, render_text
    from xenctl.spec.cache import SpecCache
    from xenctl.spec.load import read_sources

    listing = auto.listing()  # read once: the plan and its saved fingerprints see the same entries
    paths = spec_paths(args.paths)
    cache_dir = spec_cache(args.home)
    specs = SpecCache(cache_dir or "")
    bases = BasisStore(os.path.join(home, "cache", "plans"))
    name = bases.name(paths, options, auto) if token and cache_dir and not args.out else None
    basis = bases.get(name) if name else None
    stamp = entries_stamp(auto) if name else ""
    models: dict[str, tuple[str, DesiredState]] = {}
    desired = made = capacity = None
    if basis is not None and basis.token == token and basis.entries == stamp and cache_dir:
        now, part = host.snapshot_of(Selection())
        if now == token:
            capacity = capacity_of(part.host)
            desired = desired_state(paths, args.home, part, models)
            made = replan(
                basis,
                desired,
                models,
                lambda f: specs.model_at(f.model),
                host.snapshot_of,
                options=_diff_options(options),
                listing=listing,
                auto=auto,
                storage_root=part.host.storage_root,
                target=options["target"],
            )
    if made is not None:
        plan, result = made
    else:
        live = host.snapshot()
        if desired is None or capacity != capacity_of(live.host):
            models.clear()
            desired = desired_state(paths, args.home, live, models)
        plan, result = _plan_and_diff(live, desired, options, auto, listing)
        if args.out:
            write_planfile(
                args.out,
                options=options,
                sources=read_sources(desired),
                plan=plan_to_json(plan),
                live=live,
                entries=listing,
            )
    if name and token and cache_dir and len(result.changes) <= MAX_CHANGES:
        files = tuple(
            SpecFile(path, text_digest(text), specs.entry(path, text)) for path, (text, _model) in models.items()
        )
        bases.put(name, Basis(token, stamp, files, result))
    output = render_json(plan) if args.json else render_text(plan, colour=_colour())
    return output, bool(plan.actionable)


def run_graph(args: argparse.Namespace) -> int:
    _quiet_collector()
    from xenctl.reconcile.render import render_dot

    with open_sim(args.home) as host:
        live = host.snapshot()
        plan = make_plan_for(live, _desired(args, live), _options(args), auto_dir(args))
    print(render_dot(plan))
    return 0


class _Progress:
    """One line as each action starts and ends, and a count now and then for long applies."""

    def __init__(self, total: int, colour: bool) -> None:
        self.lock = threading.Lock()  # workers report at once: one whole line at a time
        self.total = total
        self.done = 0
        self.running = 0
        self.colour = colour
        self.started_at = time.monotonic()
        self.last_count = self.started_at

    def say(self, line: str) -> None:
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def started(self, change: Change) -> None:
        with self.lock:
            self.running += 1
        self.say(f"{change.address}: {change.action.value}...")

    def finished(self, change: Change, outcome: Outcome) -> None:
        with self.lock:
            if outcome.skipped_because is None:
                self.running -= 1
            self.done += 1
        if outcome.ok:
            self.say(f"{change.address}: {change.action.value} done ({outcome.elapsed:.1f}s)")
        elif outcome.skipped_because == STOPPING:
            self.say(f"{change.address}: not started: xenctl is stopping")
        elif outcome.skipped_because:
            self.say(f"{change.address}: skipped, because {outcome.skipped_because} failed")
        else:
            self.say(f"{change.address}: {change.action.value} FAILED: {outcome.error}")
        now = time.monotonic()
        if self.total > 20 and now - self.last_count > 2:
            waiting = self.total - self.done - self.running
            self.say(f"[{self.done} done, {self.running} running, {waiting} waiting]")
            self.last_count = now


def run_apply(args: argparse.Namespace) -> int:
    saved = None
    if len(args.paths) == 1 and os.path.isfile(args.paths[0]):
        from xenctl.reconcile.planfile import looks_like_planfile, read_planfile

        if looks_like_planfile(args.paths[0]):
            saved = read_planfile(args.paths[0])
    if args.parallelism < 1:
        raise UsageError("--parallelism must be 1 or more")
    auto = auto_dir(args)

    def make(live: HostState) -> Plan:
        if saved is not None:
            plan = _saved_plan(live, saved, auto)
        else:
            plan = make_plan_for(live, _desired(args, live), _options(args), auto)
        gc.freeze()  # the plan and the specs stay until the end: later collections need not walk them
        return plan

    return reconcile(
        args.home or default_home(),
        make,
        command=" ".join(["xenctl", *sys.argv[1:]])[:200],
        parallelism=args.parallelism,
        lock_timeout=args.lock_timeout,
        confirm=None if saved is not None else lambda: _confirm(args),  # a saved plan was reviewed
    )


def reconcile(
    home: str,
    make: Callable[[HostState], Plan],
    *,
    command: str,
    parallelism: int = 10,
    lock_timeout: float = 0.0,
    confirm: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Under the host's lock: read the host, make the plan, show it, confirm, apply, report.
    The one path of ``apply`` and of ``watch``; returns the exit code."""
    from xenctl.reconcile.apply import apply_plan
    from xenctl.reconcile.render import render_text

    with open_sim(home) as host:
        held = take_lock(host, command, lock_timeout, stop)
        try:
            plan = make(host.snapshot())
            print(render_text(plan, colour=_colour()))
            if not plan.actionable:
                return 0
            if confirm is not None:
                confirm()
            progress = _Progress(len(plan.changes), _colour())
            result = apply_plan(plan, lambda: open_sim(home), parallelism=parallelism, hooks=progress, stop=stop)
        finally:
            host.release_lock(held)
    return _report(result)


def _saved_plan(live: HostState, saved: Any, auto: AutoDir) -> Plan:
    from xenctl.reconcile.planfile import fingerprints, stale
    from xenctl.reconcile.render import plan_to_json
    from xenctl.spec.load import load_spec_texts

    listing = auto.listing()
    changed = stale(saved.fingerprints, fingerprints(live, listing))
    if changed:
        raise PlanError(
            "the saved plan is stale; the host changed since it was made:\n  "
            + "\n  ".join(changed)
            + "\nMake a new plan: xenctl plan --out FILE"
        )
    desired = load_spec_texts(saved.sources, capacity_of(live.host))
    plan = make_plan_for(live, desired, saved.options, auto, listing)
    made = [(c["address"], c["change"]["xenctl_action"]) for c in plan_to_json(plan)["resource_changes"]]
    kept = [(c["address"], c["change"]["xenctl_action"]) for c in saved.plan.get("resource_changes", [])]
    if made != kept:
        raise PlanError("the saved plan no longer matches what its specs and this host give; make a new plan")
    return plan


def _confirm(args: argparse.Namespace) -> None:
    if args.auto_approve:
        return
    if not sys.stdin.isatty():
        raise UsageError("apply asks before it changes anything; without a terminal, give --auto-approve")
    answer = input("\nDo you want to perform these actions? Only 'yes' will be accepted: ").strip()
    if answer != "yes":
        raise PlanError("Apply cancelled; nothing was changed.")


def _report(result: ApplyResult) -> int:
    failures = result.failures
    skipped = result.skipped
    done = sum(1 for o in result.outcomes.values() if o.ok)
    stopped = [s.address for s in skipped if s.skipped_because == STOPPING]
    how = "stopped" if stopped else "finished with errors" if failures else "complete"
    print(f"\nApply {how}: {done} done, {len(failures)} failed, {len(skipped)} skipped.")
    for failure in failures:
        because = [s.address for s in skipped if s.skipped_because == failure.address]
        extra = f" ({len(because)} skipped because of it: {', '.join(because)})" if because else ""
        print(f"Error: {failure.address}: {failure.error}{extra}", file=sys.stderr)
    if stopped:
        names = ", ".join(stopped)
        print(f"Stopped before {len(stopped)} actions: {names}; the next apply does them.", file=sys.stderr)
        return 1
    return 1 if failures else 0


def run_force_unlock(args: argparse.Namespace) -> int:
    with open_sim(args.home) as host:
        removed = host.force_unlock(args.lock_id)
    print(f"Removed {removed.describe()}.")
    return 0
