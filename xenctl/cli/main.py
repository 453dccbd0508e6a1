"""The ``xenctl`` command: parse arguments, run one command, turn errors into text and exit codes.

Commands run through the table in ``commands``, whose entries import their module only when
their command runs, so ``xenctl --help`` and ``xenctl list`` do not pay for YAML, JSON Schema or
networkx.

Exit codes: 0 success; 1 an error, of the command line or of the command (one ``Error: ...`` line
on stderr, as xm prints; spec problems as ``file:line:column: ...`` lines); 2 only where a command
says so (``plan --detailed-exitcode``: changes present); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from xenctl import __version__
from xenctl.cli import fleetargs
from xenctl.cli.arguments import command_word, count, lock_timeout, seconds, share, without_xm
from xenctl.cli.migrate import add_migrate
from xenctl.cli.serveargs import add_serve

DESCRIPTION = """\
xenctl: a declarative manager for Xen hosts, on a simulated Xen 3.x host.

-c URI (or XENCTL_CONNECT) names the host; by default it is the simulated host in XENCTL_HOME
(default ~/.local/share/xenctl). XENCTL_TIME_SCALE scales its simulated durations (0 makes
them instant)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one ``Error:`` line and exit code 1, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"Error: {message} (see {self.prog} --help)\n")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # The width argparse would take (the terminal's, less 2), found without ``shutil``, whose
        # archive modules argparse would import for it: 2 ms of every command. (Every
        # HelpFormatter takes ``width``; typeshed's protocol names only ``prog``.)
        return self.formatter_class(prog=self.prog, width=_columns() - 2)  # type: ignore[call-arg]


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` gives it: $COLUMNS, the terminal, or 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def _add_xm(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """xm's commands, with xm's options, on the simulated host."""
    create = sub.add_parser(
        "create",
        help="create a domain from an xm config file (xm create)",
        description="Create a domain from an xm or xl config file, read safely (nothing in it runs). "
        "KEY=VALUE sets a config option (memory=256) or a variable the file uses (vmid=1).",
    )
    create.add_argument("config", metavar="CONFIG", help="the config file, as given or in the xen root")
    create.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    create.add_argument("-c", dest="console", action="store_true", help="attach to the console")
    create.add_argument("-p", dest="paused", action="store_true", help="leave the domain paused")
    create.add_argument("-n", "--dry-run", action="store_true", help="print the configuration; create nothing")
    create.add_argument("--json", action="store_true", help="with --dry-run: the configuration as JSON")
    create.set_defaults(words="create")
    lock_timeout(create)

    def domain_command(name: str, help_text: str, *, mutates: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        p.add_argument("domain", metavar="DOMAIN", help="name or domid")
        p.set_defaults(words=name)
        if mutates:
            lock_timeout(p)
        return p

    domain_command("console", "attach to a domain's console (detach with Ctrl-])", mutates=False)
    shutdown = sub.add_parser(
        "shutdown",
        help="ask a domain to shut down (xm shutdown)",
        description="Ask a domain (or all with -a) to shut down; -w waits until it has.",
    )
    shutdown.add_argument("domain", nargs="?", metavar="DOMAIN", help="name or domid")
    shutdown.add_argument("-a", "--all", action="store_true", help="every domain but Domain-0")
    shutdown.add_argument("-w", "--wait", action="store_true", help="wait until each has gone")
    shutdown.add_argument("-H", "--halt", action="store_true", help="halt (the default)")
    shutdown.add_argument("-R", "--reboot", action="store_true", help="reboot instead")
    shutdown.add_argument(
        "--timeout", type=seconds, metavar="S", help="with -w: give up after S seconds (xm waited on)"
    )
    shutdown.set_defaults(words="shutdown")
    lock_timeout(shutdown)
    reboot = domain_command("reboot", "reboot a domain (xm reboot)")
    reboot.add_argument("-w", "--wait", action="store_true", help="wait until it has rebooted")
    reboot.add_argument("--timeout", type=seconds, metavar="S", help="with -w: give up after S seconds")
    domain_command("destroy", "destroy a domain at once (xm destroy)")
    domain_command("pause", "pause a domain (xm pause)")
    domain_command("unpause", "unpause a domain (xm unpause)")
    save = domain_command("save", "save a domain to a file and stop it (xm save)")
    save.add_argument("file", metavar="FILE")
    restore = sub.add_parser(
        "restore",
        help="restore a saved domain (xm restore)",
        description="Restore a domain from a save file, under a new domid.",
    )
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("-p", dest="paused", action="store_true", help="leave it paused")
    restore.set_defaults(words="restore")
    lock_timeout(restore)
    mem_set = domain_command("mem-set", "set a domain's memory (xm mem-set)")
    mem_set.add_argument("mib", metavar="MB")
    vcpu_set = domain_command("vcpu-set", "set a domain's online vCPUs (xm vcpu-set)")
    vcpu_set.add_argument("count", metavar="N")
    top = sub.add_parser(
        "top",
        help="xentop's figures in batch mode (xm top)",
        description="Print xentop's columns for every domain, in batch mode.",
    )
    top.add_argument("--iterations", type=count, default=1, metavar="N", help="how many times (default 1)")
    top.add_argument("--delay", type=seconds, default=3.0, metavar="S", help="seconds between them (default 3)")
    top.set_defaults(words="top")


def _add_import(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="turn xm config files (or the live host) into a spec",
        description="Write the spec that declares the same domains and storage as xm config files "
        "(KEY=VALUE arguments are the files' variables, as for create), or as the live host with --from-host. "
        "What cannot be carried over is said on stderr and in the spec's header.",
    )
    p.add_argument("configs", nargs="*", metavar="CONFIG|KEY=VALUE")
    p.add_argument("--from-host", action="store_true", help="the host's live domains and their storage")
    p.add_argument("-o", "--out", metavar="FILE", help="write the spec here (default: standard output)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(words="import")


def _add_plans(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    def reconcile_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="*", metavar="PATH", help="spec files or directories (default: ./specs)")
        p.add_argument("--adopt", action="store_true", help="take over hand-made objects the specs name")
        p.add_argument("--destroy-data", action="store_true", help="allow deleting, shrinking or replacing volumes")
        p.add_argument("--target", metavar="NAME", help="only this object and what it depends on")

    plan = sub.add_parser(
        "plan", help="show what apply would change", description="Compare the specs with the host; change nothing."
    )
    reconcile_options(plan)
    plan.add_argument("--out", metavar="FILE", help="save the plan, for 'xenctl apply FILE'")
    plan.add_argument("--json", action="store_true", help="the plan as JSON")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 0: no changes, 1: error, 2: changes")
    plan.set_defaults(words="plan")
    apply = sub.add_parser(
        "apply",
        help="make the host match the specs",
        description="Plan (or read a saved plan), show it, ask for yes, and carry it out in dependency order.",
    )
    reconcile_options(apply)
    apply.add_argument("--auto-approve", action="store_true", help="do not ask (for scripts)")
    apply.add_argument("--parallelism", type=count, default=10, metavar="N", help="actions at once (default 10)")
    lock_timeout(apply)
    fleetargs.coordinate_option(apply)
    apply.set_defaults(words="apply")
    graph = sub.add_parser("graph", help="print the plan's graph as DOT", description="The plan graph, for graphviz.")
    reconcile_options(graph)
    graph.set_defaults(words="graph")
    unlock = sub.add_parser(
        "force-unlock", help="remove a host lock left by a command that is gone", description="Remove a host lock."
    )
    unlock.add_argument("lock_id", type=count, metavar="ID")
    unlock.set_defaults(words="force-unlock")


def _add_events(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("events", help="show the host's event log", description="Show the host's event log.")
    p.add_argument("--since", type=count, default=0, metavar="SEQ", help="only events after this sequence number")
    p.add_argument("-n", "--last", type=count, metavar="N", help="only the last N events")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(words="events")


def _add_host(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    host = sub.add_parser("host", help="show, make or fault the simulated host", description="The simulated host.")
    hsub = host.add_subparsers(dest="host_command", metavar="COMMAND", required=True)
    show = hsub.add_parser("show", help="the host's profile and what is in use now")
    show.add_argument("--json", action="store_true", help="as one JSON object")
    show.set_defaults(words="host show")
    init = hsub.add_parser("init", help="make a new host from a profile", description="Make a new simulated host.")
    init.add_argument("--profile", metavar="FILE", help="a host profile (YAML); default: the built-in one")
    init.add_argument("--force", action="store_true", help="replace an existing host (its state is lost)")
    init.set_defaults(words="host init")
    fault = hsub.add_parser(
        "fault", help="inject failures", description="Make operations fail, guests hang or crash, on purpose."
    )
    fsub = fault.add_subparsers(dest="fault_command", metavar="COMMAND", required=True)
    add = fsub.add_parser("add", help="add a fault")
    add.add_argument("op", help="operation (create, shutdown, lv-create, ...; * for any)")
    add.add_argument("object", help="domain name, volume path or VG; wildcards match")
    add.add_argument("--kind", default="fail", choices=("fail", "ignore-shutdown", "crash-at-boot"))
    add.add_argument("--message", default="injected fault", help="the error a failing operation reports")
    add.add_argument("--times", type=count, metavar="N", help="fire N times, then vanish (default: every time)")
    add.add_argument("--skip", type=count, default=0, metavar="N", help="let N matching operations through first")
    add.add_argument(
        "--rate", type=share, default=1.0, metavar="R", help="fire on this share of them (0.1: one in ten), not all"
    )
    add.set_defaults(words="host fault add")
    flist = fsub.add_parser("list", help="list faults")
    flist.set_defaults(words="host fault list")
    clear = fsub.add_parser("clear", help="remove one fault, or all")
    clear.add_argument("id", nargs="?", type=count, help="the fault's id (default: all)")
    clear.set_defaults(words="host fault clear")


def _add_specs(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "validate",
        help="check spec files",
        description="Check spec files: YAML, the schema, and what they say together. Prints ok, or every problem.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="spec files or directories (default: ./specs)")
    p.set_defaults(words="validate")
    s = sub.add_parser("schema", help="print the spec files' JSON Schema", description="Print the JSON Schema.")
    s.set_defaults(words="schema")


def _add_new(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "new",
        help="write a spec file from virt-install's questions",
        description="Ask what virt-install asked (name, RAM, fully virtualized or not, disk, disk size, graphics, "
        "install location) and write a spec file. Answers given as flags are not asked; without a terminal, every "
        "answer must be a flag. A host without HVM support is not asked about full virtualization.",
    )
    p.add_argument("--name", metavar="NAME", help="the virtual machine's name")
    p.add_argument("--ram", metavar="MB", help="its RAM in megabytes (at least 256)")
    p.add_argument("--hvm", metavar="yes|no", help="a fully virtualized (HVM) guest; needs VT-x or AMD-V")
    p.add_argument(
        "-x", "--extra-args", metavar="ARGS", help="the installer's kernel arguments; ks=URL names a kickstart file"
    )
    p.add_argument("--disk", metavar="PATH", help="the disk's image file (under the storage root)")
    p.add_argument("--disk-size", metavar="GB", help="the disk's size in gigabytes (0.5, 8, at most 2048)")
    p.add_argument("--graphics", metavar="yes|no", help="enable graphics support (a VNC console)")
    p.add_argument("--location", metavar="URL", help="the install location: nfs:server:/path, ftp://... or http://...")
    p.add_argument("--out", metavar="FILE", help="the spec file to write (default: specs/NAME.yaml)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.set_defaults(words="new")


def _add_autostart(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    def walking(p: argparse.ArgumentParser) -> None:
        p.add_argument("--parallelism", type=count, default=10, metavar="N", help="domains at once (default 10)")
        lock_timeout(p)

    level = sub.add_parser(
        "runlevel",
        help="move the host to a runlevel: 3-5 boot the autostart entries, 0-2 and 6 stop the guests",
        description="Move the simulated host to runlevel N. Entering 3, 4 or 5 unbooted restores the domains "
        "saved at the last stop, then starts the autostart entries in dependency order; leaving them stops "
        "every guest in reverse order, by its entry's stop mode.",
    )
    level.add_argument("level", type=int, choices=range(7), metavar="N", help="0 to 6")
    walking(level)
    level.set_defaults(words="runlevel")
    boot = sub.add_parser(
        "boot",
        help="boot the autostart entries (runlevel 3, or the boot level the host is at)",
        description="Enter runlevel 3 (or stay at 4 or 5) and boot the autostart entries if not booted yet.",
    )
    walking(boot)
    boot.set_defaults(words="boot")
    halt = sub.add_parser(
        "halt",
        help="stop every guest in reverse boot order (runlevel 0)",
        description="Enter runlevel 0: stop every guest in reverse boot order, each by its entry's stop mode.",
    )
    walking(halt)
    halt.set_defaults(words="halt")
    watch = sub.add_parser(
        "watch",
        help="keep the host booted and the specs applied as files change",
        description="Boot the autostart entries if the host is at runlevel 3-5 and has not booted, apply the specs, "
        "then watch the auto directory and the spec directories: a new entry starts its domain in order, a removed "
        "one is reported, a changed spec is planned and applied (never with --destroy-data). SIGTERM or Ctrl-C stop "
        "it once the action in flight is done.",
    )
    watch.add_argument("--specs", action="extend", nargs="+", metavar="DIR", help="spec directories to keep applied")
    watch.add_argument("--parallelism", type=count, default=10, metavar="N", help="actions at once (default 10)")
    lock_timeout(watch, 300.0)
    watch.add_argument(
        "--quiet",
        type=seconds,
        default=0.05,
        metavar="S",
        help="act once changed files are whole (closed by their writer, parsing) and still this long (0.05)",
    )
    watch.set_defaults(words="watch")
    auto = sub.add_parser("autostart", help="the autostart entries", description="The entries in <xen root>/auto.")
    asub = auto.add_subparsers(dest="autostart_command", metavar="COMMAND", required=True)
    alist = asub.add_parser("list", help="every entry: managed or not, its domain, its place in the boot order")
    alist.set_defaults(words="autostart list")


# Each group of commands, by the words that name them: ``build_parser`` given a command's word
# builds that group alone (argparse spends most of a short command's start-up making parsers).
_GROUPS: tuple[tuple[Callable[[argparse._SubParsersAction], None], tuple[str, ...]], ...] = (  # type: ignore[type-arg]
    (fleetargs.add_list, ("list",)),
    (_add_events, ("events",)),
    (_add_host, ("host",)),
    (_add_specs, ("validate", "schema")),
    (_add_new, ("new",)),
    (_add_xm, tuple("create console shutdown reboot destroy pause unpause save restore mem-set vcpu-set top".split())),  # noqa: SIM905
    (_add_import, ("import",)),
    (_add_plans, ("plan", "apply", "graph", "force-unlock")),
    (_add_autostart, ("runlevel", "boot", "halt", "watch", "autostart")),
    (add_serve, ("serve", "xend")),
    (fleetargs.add_evacuate, ("evacuate",)),
    (add_migrate, ("migrate",)),
)


def build_parser(word: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command, or (``word``) only the group that holds it."""
    parser = _Parser(prog="xenctl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"xenctl {__version__}")
    parser.add_argument(
        "-c",
        "--connect",
        metavar="URI",
        help="the host, as a URI: sim:///DIR is the simulated host in DIR (default: $XENCTL_CONNECT)",
    )
    parser.add_argument("--home", metavar="DIR", help="the simulated host's home directory (default: $XENCTL_HOME)")
    parser.add_argument(
        "--xen-root", metavar="DIR", help="xm configs and auto/ (default: $XENCTL_XEN_ROOT, else <home>/etc/xen)"
    )
    parser.add_argument(
        "--allow-outside-links",
        action="store_true",
        help="follow auto/ symlinks that leave the xen root (or set XENCTL_AUTO_OUTSIDE_LINKS=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    chosen = [add for add, words in _GROUPS if word in words]
    for add in chosen or [add for add, _words in _GROUPS]:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = without_xm(sys.argv[1:] if argv is None else argv)
    args = build_parser(command_word(words)).parse_args(words)
    from xenctl.cli.commands import COMMANDS
    from xenctl.errors import SpecError, XenctlError

    try:
        return int(COMMANDS[args.words](args) or 0)
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
