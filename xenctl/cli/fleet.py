"""The fleet on the command line: ``plan`` and ``apply`` of specs that declare ``hosts:``,
``xenctl evacuate HOST``, ``xenctl list --all-hosts``. ``$XENCTL_LEASE_TTL`` (seconds, default 10)
sets the TTL of the leases ``--coordinate etcd://...`` takes: how long a crashed holder keeps a host.

Specs declaring ``hosts:`` are a fleet: ``plan`` and ``apply`` read every host they name (``-c``
does not pick one), place the domains, and show each host's changes in its own section. The
commands that need the fleet without a plan (``evacuate``, ``list --all-hosts``, ``migrate`` to a
host by name) read it from ``--specs`` (default ``./specs``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from xenctl.cli.context import command_line, settings_of
from xenctl.errors import UsageError

if TYPE_CHECKING:
    from xenctl.app.apply import ApplyHooks
    from xenctl.fleet.coordinate import Coordinator
    from xenctl.fleet.plan import FleetPlan
    from xenctl.reconcile.apply import Hooks
    from xenctl.reconcile.plan import Plan
    from xenctl.spec.files import SpecFile
    from xenctl.spec.model import DesiredState


def declares_fleet(paths: list[str], specs: list[SpecFile] | None = None) -> bool:
    """Whether any spec file at ``paths`` declares ``hosts:`` (a top-level key, at a line's start);
    ``specs``: the files as the caller read them (``files.read_specs``). Read without the spec
    loader, which a single host's cached plan does not import."""
    if specs is not None:
        return any(spec.hosts for spec in specs)
    from xenctl.spec.files import declares_hosts, spec_files

    for name in spec_files(paths)[0]:
        try:
            with open(name, "rb") as spec:
                if declares_hosts(spec.read()):
                    return True
        except OSError:
            continue  # the loader says what is wrong with it
    return False


def load_fleet(paths: list[str]) -> DesiredState:
    from xenctl.spec.load import load_specs

    desired = load_specs(paths)
    if not desired.hosts:
        raise UsageError(f"the specs at {', '.join(paths)} declare no hosts: (a fleet's hosts are listed under hosts:)")
    return desired


def holder() -> str:
    from xenctl.fleet.coordinate import holder_name

    return holder_name(command_line())


LEASE_TTL_ENV = "XENCTL_LEASE_TTL"  # seconds an etcd lease outlives its holder (default 10; tests use 2)


def coordinator_of(args: argparse.Namespace) -> Coordinator:
    """The coordinator ``--coordinate`` names; ``$XENCTL_LEASE_TTL`` sets its leases' TTL."""
    from xenctl.fleet.coordinate import coordinator

    raw = os.environ.get(LEASE_TTL_ENV, "").strip()
    if not raw:
        return coordinator(getattr(args, "coordinate", None))
    try:
        ttl = float(raw)
    except ValueError:
        raise UsageError(f"{LEASE_TTL_ENV}={raw!r} is not a number of seconds; write 2 to 3600") from None
    return coordinator(getattr(args, "coordinate", None), ttl=ttl)


def run_fleet_plan(args: argparse.Namespace, paths: list[str]) -> int:
    from xenctl.cli.plans import plan_options
    from xenctl.fleet.members import opened
    from xenctl.fleet.plan import fleet_plan, render_json, render_text

    if args.out:
        raise UsageError("a fleet's plan cannot be saved with --out; apply the specs (it plans again under the locks)")
    desired = load_fleet(paths)
    with opened(desired.hosts, settings_of(args)) as members:
        plan = fleet_plan(desired, members, plan_options(args), values=False)
    print(render_json(plan) if args.json else render_text(plan))
    if plan.problems:
        return 1
    return 2 if args.detailed_exitcode and plan.actionable else 0


def run_fleet_apply(args: argparse.Namespace, paths: list[str]) -> int:
    from xenctl.app.options import RunOptions
    from xenctl.cli.plans import plan_options
    from xenctl.fleet.apply import FleetRun, fleet_apply
    from xenctl.fleet.members import opened
    from xenctl.fleet.plan import render_text

    desired = load_fleet(paths)
    run = RunOptions(args.parallelism, args.lock_timeout)

    def confirm(plan: FleetPlan) -> None:
        from xenctl.cli.plans import _confirm

        print(render_text(plan))
        if plan.actionable:
            _confirm(args)

    coordinator = coordinator_of(args)
    try:
        with opened(desired.hosts, settings_of(args)) as members:
            how = FleetRun(run, coordinator, holder(), command_line(), _host_hooks, lease_wait=args.lock_timeout)
            report = fleet_apply(desired, members, plan_options(args), how, confirm=confirm)
    finally:
        coordinator.close()
    for line in report.settled:
        print(f"Settled a migration cut short: {line}")
    for move, result, error in report.migrations:
        if result is not None:
            print(
                f"{move.domain}: migrated {result.kind} from {move.source} to {move.target} in {result.total_s:.1f} s "
                f"(downtime {result.downtime_s * 1000:.0f} ms)"
            )
        else:
            print(
                f"Error: {move.domain}: migration from {move.source} to {move.target} failed: {error}", file=sys.stderr
            )
    for name, held in sorted(report.held_back.items()):
        print(f"{name}: not made, because a dependency on another host failed: {', '.join(held)}", file=sys.stderr)
    for name, error in sorted(report.errors.items()):
        print(f"Error: host {name}: {error}", file=sys.stderr)
    done = sum(1 for r in report.hosts.values() if r.result is not None for o in r.result.outcomes.values() if o.ok)
    failed = sum(len(r.result.failures) for r in report.hosts.values() if r.result is not None)
    if report.plan.actionable:
        moves = len(report.migrations)
        how_it_went = "complete" if report.ok else "finished with errors"
        print(
            f"\nFleet apply {how_it_went}: {moves} migration{'' if moves == 1 else 's'}, {done} done, {failed} failed, "
            f"on {len(report.plan.plans)} hosts."
        )
    return 0 if report.ok else 1


class _HostProgress:
    """A host's apply progress, each line prefixed by the host's name."""

    def __init__(self, name: str) -> None:
        from xenctl.cli.progress import ApplyProgress

        self.name = name
        self.inner = ApplyProgress(False)
        self.inner.say = self.say  # type: ignore[method-assign]

    def say(self, line: str) -> None:
        sys.stdout.write("".join(f"{self.name}: {part}\n" for part in line.splitlines()))
        sys.stdout.flush()

    def planned(self, plan: Plan) -> None:
        return None  # the fleet's plan was shown whole before it was confirmed

    def action_hooks(self) -> Hooks:
        return self.inner


def _host_hooks(name: str) -> ApplyHooks:
    return _HostProgress(name)


def fleet_paths(args: argparse.Namespace) -> list[str]:
    from xenctl.cli.specs import spec_paths

    return spec_paths(list(getattr(args, "specs", None) or []))


def run_evacuate(args: argparse.Namespace) -> int:
    from xenctl.fleet.evacuate import evacuate, set_drained
    from xenctl.fleet.members import opened

    desired = load_fleet(fleet_paths(args))
    coordinator = coordinator_of(args)
    try:
        with opened(desired.hosts, settings_of(args)) as members:
            if args.undo:
                if args.host not in members:
                    raise UsageError(f"host {args.host} is not in the fleet; its hosts are {', '.join(members)}")
                set_drained(members[args.host], False)
                print(f"Host {args.host} takes domains again; the next apply may place domains there.")
                return 0
            result = evacuate(desired, members, args.host, coordinator=coordinator, holder=holder(), told=print)
    finally:
        coordinator.close()
    print(
        f"\nEvacuated {args.host}: {len(result.moved)} moved live in {result.makespan:.1f} s "
        f"(downtime {result.downtime * 1000:.0f} ms in all), {len(result.stayed)} stayed."
    )
    for guest, why in result.stayed:
        print(f"Error: {guest} could not leave {args.host}: {why}", file=sys.stderr)
    return 1 if result.stayed else 0


def run_list_all(args: argparse.Namespace) -> int:
    from xenctl.cli.listing import HEADER, format_domain
    from xenctl.fleet.members import opened

    desired = load_fleet(fleet_paths(args))
    with opened(desired.hosts, settings_of(args)) as members:
        width = max(len("Host"), *(len(n) for n in members))
        print(f"{'Host':<{width}} {HEADER}")
        for name, member in members.items():
            mark = " (drained)" if member.drained else ""
            for domain in sorted(member.live.domains, key=lambda d: d.name):
                print(f"{name:<{width}} {format_domain(domain)}")
            if mark:
                print(f"{name:<{width}} {mark.strip()}")
    return 0
