"""``xenctl plan``, ``apply``, ``graph`` and ``force-unlock``: the specs, reconciled with the host.

Each command parses its options, calls the application layer (``xenctl.app.plans``,
``xenctl.app.apply``) on the host the command line names, and renders what comes back. ``apply``
shows the plan it will run and, on a terminal, asks for ``yes``.

Exit codes: 0 done or nothing to do; 1 an error or a failed action; with ``plan
--detailed-exitcode``, 2 when there are changes.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import TYPE_CHECKING

from xenctl.app.options import PlanOptions, RunOptions
from xenctl.cli.context import colour, command_line, host_of
from xenctl.cli.specs import spec_paths
from xenctl.errors import PlanError, UsageError

if TYPE_CHECKING:
    pass


def plan_options(args: argparse.Namespace) -> PlanOptions:
    return PlanOptions(adopt=bool(args.adopt), destroy_data=bool(args.destroy_data), target=args.target)


def quiet_collector() -> None:
    """A one-shot plan builds a few hundred thousand small objects that live until the command
    ends, and makes no cycles worth collecting: the cyclic collector would only walk them again
    and again. (Only the command line does this: a process that lives on, the page's server or
    the watcher, keeps its collector.)"""
    gc.disable()


def run_plan(args: argparse.Namespace) -> int:
    from xenctl.app.plans import plan, spec_reads

    quiet_collector()

    from xenctl.cli.fleet import declares_fleet

    paths = spec_paths(args.paths)
    form = "json" if args.json else "colour" if colour() else "text"
    try:
        host = host_of(args)  # not opened: where the plan cache keeps what it read of the specs
    except UsageError:
        host = None  # a fleet's specs name their hosts; for one host's, the error stands (below)
    reads = spec_reads(host, paths) if host is not None else None
    # read once: for the fleet's hosts: and the plan cache's key (the record of the read is kept
    # by the plan: a fleet's plan makes nothing under a host's home)
    if declares_fleet(paths, reads.read() if reads is not None else None):
        from xenctl.cli.fleet import run_fleet_plan

        return run_fleet_plan(args, paths)
    with host or host_of(args) as opened:
        report = plan(opened, paths, plan_options(args), form=form, out=args.out, reads=reads)
    print(report.text)
    if args.out:
        print(f"\nSaved the plan to {args.out}. Apply exactly this plan with: xenctl apply {args.out}", file=sys.stderr)
    return 2 if args.detailed_exitcode and report.actionable else 0


def run_graph(args: argparse.Namespace) -> int:
    from xenctl.app.plans import graph

    quiet_collector()

    with host_of(args) as host:
        print(graph(host, spec_paths(args.paths), plan_options(args)))
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from xenctl.app.apply import apply_saved, apply_specs
    from xenctl.cli.progress import ApplyProgress, render_result

    saved = None
    if len(args.paths) == 1 and os.path.isfile(args.paths[0]):
        from xenctl.reconcile.planfile import looks_like_planfile, read_planfile

        if looks_like_planfile(args.paths[0]):
            saved = read_planfile(args.paths[0])
    from xenctl.cli.fleet import declares_fleet

    if saved is None and declares_fleet(spec_paths(args.paths)):
        from xenctl.cli.fleet import run_fleet_apply

        return run_fleet_apply(args, spec_paths(args.paths))
    if args.coordinate:
        raise UsageError("--coordinate holds the hosts of a fleet; these specs declare no hosts:")
    run = RunOptions(args.parallelism, args.lock_timeout)
    quiet_collector()
    progress = ApplyProgress(colour(), freeze=True)
    with host_of(args) as host:
        if saved is not None:
            report = apply_saved(host, saved, run, progress, command=command_line())
        else:
            paths = spec_paths(args.paths)
            report = apply_specs(
                host,
                paths,
                plan_options(args),
                run,
                progress,
                command=command_line(),
                confirm=lambda _p: _confirm(args),
            )
    return render_result(report)


def _confirm(args: argparse.Namespace) -> None:
    if args.auto_approve:
        return
    if not sys.stdin.isatty():
        raise UsageError("apply asks before it changes anything; without a terminal, give --auto-approve")
    answer = input("\nDo you want to perform these actions? Only 'yes' will be accepted: ").strip()
    if answer != "yes":
        raise PlanError("Apply cancelled; nothing was changed.")


def run_force_unlock(args: argparse.Namespace) -> int:
    with host_of(args) as host:
        removed = host.driver.force_unlock(args.lock_id)
    print(f"Removed {removed.describe()}.")
    return 0
