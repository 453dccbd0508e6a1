"""The xm command set on the simulated host: create, console, shutdown, destroy, reboot, pause,
unpause, save, restore, mem-set, vcpu-set and top, with xm's options, messages and exit codes.

Domains are named by name or domid, as in xm. ``create`` reads an xm or xl config file with the
safe reader (nothing in it runs), found as given or else in the xen root (``/etc/xen``), and takes
``KEY=VALUE`` arguments as xm did: a known option's value replaces the file's, anything else is a
variable for the file (``vmid=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from xenctl.app import actions
from xenctl.cli.context import command_line, host_of
from xenctl.errors import ConfigError, UsageError, XenError

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.engine.api import Domain, Driver

DETACH = "\x1d"  # Ctrl-]
POLL = 0.1  # seconds between looks at a console or a domain being waited for


def _host(args: argparse.Namespace) -> Host:
    return host_of(args)  # a context manager: closed when the command is done


def _locking(args: argparse.Namespace) -> actions.Locking:
    return actions.Locking(command_line(), getattr(args, "lock_timeout", 0.0))


# -- create -------------------------------------------------------------------------------------


def find_config(name: str, root: str) -> str:
    """xm's search: the path as given, then in the xen root."""
    if os.path.isfile(name):
        return name
    candidate = os.path.join(root, name)
    if not os.path.isabs(name) and os.path.isfile(candidate):
        return candidate
    raise ConfigError(f"Unable to open config file: {name}")


def _split_assignments(pairs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Command-line ``KEY=VALUE`` pairs: (options the config knows, variables for the file)."""
    from xenctl.xmconfig.domain import CARRIED

    options: dict[str, str] = {}
    variables: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.isidentifier():
            raise UsageError(f"{pair!r} is not KEY=VALUE")
        (options if key in CARRIED else variables)[key] = value
    return options, variables


DEFAULT_CONFIG = "xmdefconfig"
NUMERIC_OPTIONS = frozenset({"memory", "maxmem", "vcpus", "maxvcpus", "shadow_memory"})


def load_create_config(config: str, pairs: list[str], root: str) -> tuple[str, Any]:
    """The config file's path and what it describes, with the command line's settings applied."""
    from xenctl.xmconfig.domain import to_domain_config
    from xenctl.xmconfig.reader import INTEGER, read_config

    if "=" in config:  # xm create vmid=1: the config is xm's default, xmdefconfig
        config, pairs = DEFAULT_CONFIG, [config, *pairs]
    path = find_config(config, root)
    options, variables = _split_assignments(pairs)
    parsed = read_config(path, variables)
    for key, value in options.items():
        if key in NUMERIC_OPTIONS and not INTEGER.match(value):
            raise UsageError(f"{key}={value} on the command line: {value!r} is not a whole number")
        parsed.options[key] = int(value) if INTEGER.match(value) else value
        parsed.lines.pop(key, None)  # the command line set it: a problem with it is not the file's line
    return path, (parsed, to_domain_config(parsed))


def run_create(args: argparse.Namespace) -> int:
    if args.json and not args.dry_run:
        raise UsageError("--json goes with --dry-run (-n): it prints the configuration instead of creating")
    with _host(args) as host:
        root = host.xen_root or ""
    path, (parsed, described) = load_create_config(args.config, args.assignments, root)
    if described.config.name.startswith("-"):  # xend takes it, but then `xenctl destroy -rf` reads as options
        raise XenError(
            f"Invalid VM Name: {described.config.name[:80]!r} starts with '-'; xenctl would read it as an option"
        )
    if args.dry_run:
        if args.json:
            data = dict(parsed.options)
            data["name"] = described.config.name
            if "disk" in data:
                data["disk"] = [disk.to_json() for disk in described.disks]
            print(json.dumps(data, indent=2))
        else:
            from xenctl.xmconfig.domain import write_config

            print(write_config(described.config, header=f"{path}, as xenctl reads it").rstrip())
            if described.ignored:
                print(f"# not carried over: {', '.join(described.ignored)}")
        return 0
    print(f'Using config file "{path}".')
    with _host(args) as host:
        driver = host.driver
        logged = driver.events(limit=1)
        domain = actions.create(host, described.config, _locking(args), paused=args.paused)
        print(f"Started domain {domain.name} (id={domain.domid})", flush=True)
        if args.console:
            follow_console(driver, str(domain.domid), domain.name)
            crashed = _crashes(driver, domain.name, logged[-1].seq if logged else 0)
            if crashed:  # the console has shown the panic; say what became of the domain
                raise XenError(f"Domain {domain.name} {crashed[-1]}", op="create", obj=domain.name)
    return 0


def _crashes(host: Driver, name: str, since: int) -> list[str]:
    """What xend logged of the domain's crashes since ``since``: its death at boot, and after."""
    return [
        event.message
        for event in host.events(since=since)
        if event.obj == name and event.actor == "xend" and event.message.startswith("crashed")
    ]


# -- console ------------------------------------------------------------------------------------


def follow_console(host: Driver, ref: str, name: str) -> None:
    """Print the console as it comes. Without a terminal, return once the boot is over; on a
    terminal, stay attached until Ctrl-] (as xm console), or until the domain is gone."""
    from xenctl.engine.api import Phase
    from xenctl.errors import NotFoundError

    interactive = sys.stdin.isatty()
    shown = 0
    while True:
        try:
            lines = host.console(ref)
            domain = host.domain(ref)
        except NotFoundError:
            return
        for line in lines[shown:]:
            print(line.text, flush=True)
        shown = len(lines)
        settled = domain.phase not in (Phase.BOOTING, Phase.SAVING)
        if settled and not interactive:
            return
        if interactive and _detached():
            return
        time.sleep(POLL)


def _detached() -> bool:
    """Whether Ctrl-] (or end of input) came on the terminal; never blocks."""
    import select

    ready, _w, _x = select.select([sys.stdin], [], [], 0)
    if not ready:
        return False
    data = os.read(sys.stdin.fileno(), 64)
    return not data or DETACH.encode() in data


def run_console(args: argparse.Namespace) -> int:
    with _host(args) as host:
        driver = host.driver
        domain = driver.domain(args.domain)
        if sys.stdin.isatty():
            with _raw_terminal():
                follow_console(driver, str(domain.domid), domain.name)
        else:
            follow_console(driver, str(domain.domid), domain.name)
    return 0


@contextmanager
def _raw_terminal() -> Iterator[None]:
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# -- the lifecycle commands ---------------------------------------------------------------------


def run_shutdown(args: argparse.Namespace) -> int:
    if args.halt and args.reboot:
        raise XenError("Can't specify halt and reboot")
    if args.all == bool(args.domain):
        raise UsageError("name one domain, or give -a for all of them")
    with _host(args) as host:
        refs = None if args.all else [args.domain]
        targets = actions.shutdown(host, refs, _locking(args), reboot=args.reboot, wait=args.wait, timeout=args.timeout)
    if args.wait:
        if args.all:
            print("All domains terminated")
        else:
            for domain in targets:
                print(f"Domain {domain.name} {'rebooted' if args.reboot else 'terminated'}")
    return 0


def _simple(action: Callable[[Host, str, actions.Locking], None]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with _host(args) as host:
            action(host, args.domain, _locking(args))
        return 0

    return run


run_destroy = _simple(actions.destroy)
run_pause = _simple(actions.pause)
run_unpause = _simple(actions.unpause)


def run_reboot(args: argparse.Namespace) -> int:
    args.halt, args.reboot, args.all = False, True, False
    return run_shutdown(args)


def run_save(args: argparse.Namespace) -> int:
    with _host(args) as host:
        actions.save(host, args.domain, args.file, _locking(args))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    with _host(args) as host:
        actions.restore(host, args.file, _locking(args), paused=args.paused)
    return 0


def run_mem_set(args: argparse.Namespace) -> int:
    with _host(args) as host:
        actions.set_memory(host, args.domain, _number(args.mib, "memory"), _locking(args))
    return 0


def run_vcpu_set(args: argparse.Namespace) -> int:
    with _host(args) as host:
        actions.set_vcpus(host, args.domain, _number(args.count, "vcpu count"), _locking(args))
    return 0


def _number(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a whole number") from None


# -- top ----------------------------------------------------------------------------------------

TOP_HEADER = (
    "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k)"
    " VBDS   VBD_OO   VBD_RD   VBD_WR SSID"
)


def top_rows(domains: list[Domain], total_mib: int, previous: dict[int, float], interval: float) -> list[str]:
    """xentop's batch lines for one look at the host."""
    rows = []
    for domain in sorted(domains, key=lambda d: d.name):
        cpu_pct = 0.0
        if domain.domid in previous and interval > 0:
            cpu_pct = max(0.0, domain.cpu_time - previous[domain.domid]) / interval * 100
        mem_k = domain.memory * 1024
        ceiling = domain.config.memory_ceiling  # memory_static_max, Domain-0's too: what mem-set allows
        rows.append(
            f"{domain.name[:10]:>10} {domain.state:>6} {int(domain.cpu_time):>10} {cpu_pct:>6.1f} "
            f"{mem_k:>10} {mem_k / (total_mib * 1024) * 100:>6.1f} {ceiling * 1024:>10} "
            f"{ceiling / total_mib * 100:>9.1f} {domain.vcpus:>5} {len(domain.config.vifs):>4} "
            f"{0:>8} {0:>8} {len(domain.config.disks):>4} {0:>8} {0:>8} {0:>8} {0:>4}"
        )
    return rows


def run_top(args: argparse.Namespace) -> int:
    if args.iterations < 1:
        raise UsageError("--iterations must be 1 or more")
    previous: dict[int, float] = {}
    last = time.monotonic()
    with _host(args) as host:
        for iteration in range(args.iterations):
            if iteration:
                time.sleep(args.delay)
            state = host.driver.snapshot()
            now = time.monotonic()
            print(TOP_HEADER)
            for row in top_rows(list(state.domains), state.host.total_memory, previous, now - last):
                print(row)
            sys.stdout.flush()
            previous = {d.domid: d.cpu_time for d in state.domains}
            last = now
    return 0
