"""The ``xenctl`` command: parse arguments, run one command, turn errors into text and exit codes.

Command modules are imported only when their command runs, so ``xenctl --help`` and
``xenctl list`` do not pay for YAML, JSON Schema or networkx.

Exit codes: 0 success, 1 an error the command reports (``Error: ...`` on stderr, as xm prints),
2 a command line that cannot be carried out, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from xenctl import __version__

DESCRIPTION = """\
xenctl: a declarative manager for Xen hosts, on a simulated Xen 3.x host.

The host lives in XENCTL_HOME (default ~/.local/share/xenctl); XENCTL_TIME_SCALE scales
its simulated durations (0 makes them instant)."""


def _add_list(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("list", help="list domains as xm list does", description="List domains, as xm list.")
    p.add_argument("domains", nargs="*", metavar="DOMAIN", help="names or domids (default: all)")
    p.set_defaults(run="xenctl.cli.listing:run_list")


def _add_events(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("events", help="show the host's event log", description="Show the host's event log.")
    p.add_argument("--since", type=int, default=0, metavar="SEQ", help="only events after this sequence number")
    p.add_argument("-n", "--last", type=int, metavar="N", help="only the last N events")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(run="xenctl.cli.listing:run_events")


def _add_host(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    host = sub.add_parser("host", help="show, make or fault the simulated host", description="The simulated host.")
    hsub = host.add_subparsers(dest="host_command", metavar="COMMAND", required=True)
    show = hsub.add_parser("show", help="the host's profile and what is in use now")
    show.add_argument("--json", action="store_true", help="as one JSON object")
    show.set_defaults(run="xenctl.cli.hostcmds:run_show")
    init = hsub.add_parser("init", help="make a new host from a profile", description="Make a new simulated host.")
    init.add_argument("--profile", metavar="FILE", help="a host profile (YAML); default: the built-in one")
    init.add_argument("--force", action="store_true", help="replace an existing host (its state is lost)")
    init.set_defaults(run="xenctl.cli.hostcmds:run_init")
    fault = hsub.add_parser(
        "fault", help="inject failures", description="Make operations fail, guests hang or crash, on purpose."
    )
    fsub = fault.add_subparsers(dest="fault_command", metavar="COMMAND", required=True)
    add = fsub.add_parser("add", help="add a fault")
    add.add_argument("op", help="operation (create, shutdown, lv-create, ...; * for any)")
    add.add_argument("object", help="domain name, volume path or VG; wildcards match")
    add.add_argument("--kind", default="fail", choices=("fail", "ignore-shutdown", "crash-at-boot"))
    add.add_argument("--message", default="injected fault", help="the error a failing operation reports")
    add.add_argument("--times", type=int, metavar="N", help="fire N times, then vanish (default: every time)")
    add.set_defaults(run="xenctl.cli.hostcmds:run_fault_add")
    flist = fsub.add_parser("list", help="list faults")
    flist.set_defaults(run="xenctl.cli.hostcmds:run_fault_list")
    clear = fsub.add_parser("clear", help="remove one fault, or all")
    clear.add_argument("id", nargs="?", type=int, help="the fault's id (default: all)")
    clear.set_defaults(run="xenctl.cli.hostcmds:run_fault_clear")


def _add_specs(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "validate",
        help="check spec files",
        description="Check spec files: YAML, the schema, and what they say together. Prints ok, or every problem.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="spec files or directories (default: ./specs)")
    p.set_defaults(run="xenctl.cli.specs:run_validate")
    s = sub.add_parser("schema", help="print the spec files' JSON Schema", description="Print the JSON Schema.")
    s.set_defaults(run="xenctl.cli.specs:run_schema")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xenctl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"xenctl {__version__}")
    parser.add_argument("--home", metavar="DIR", help="the host's home directory (default: $XENCTL_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_list(sub)
    _add_events(sub)
    _add_host(sub)
    _add_specs(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module_name, _, func_name = args.run.partition(":")
    from xenctl.errors import SpecError, XenctlError

    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args) or 0)
    except XenctlError as exc:
        # Spec problems are file:line:column lines, as compilers print them; the rest as xm does.
        lines = exc.message if isinstance(exc, SpecError) else f"Error: {exc.message}"
        print(lines, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (xenctl list | head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
