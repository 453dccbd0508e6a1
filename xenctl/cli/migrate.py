"""``xenctl migrate [--live] DOMAIN HOST`` (and xm's spelling, ``xenctl xm migrate``): the connected
host's running domain moved to HOST, a host URL; ``--recover`` settles moves cut short."""

from __future__ import annotations

import argparse
import sys

from xenctl.cli.arguments import lock_timeout
from xenctl.cli.context import command_line, host_of, settings_of
from xenctl.errors import UsageError


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MiB a second") from None
    if not 0 <= value < 1e9:
        raise argparse.ArgumentTypeError(f"{text!r} is not from 0 to 1e9 MiB a second")
    return value


def add_migrate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "migrate",
        help="move a running domain to another host (xm migrate)",
        description="Move the connected host's running DOMAIN to HOST (a host URL: sim:///DIR, qemu:///system, "
        "test:///FILE.xml). Without --live the guest is paused for the copy (xm's offline migration); a libvirt "
        "connection that cannot migrate makes a cold move (stopped, defined there, started there), said as such. "
        "--recover settles the moves cut short that the connected host holds marks of.",
    )
    p.add_argument("domain", nargs="?", metavar="DOMAIN", help="name or domid")
    p.add_argument("host", nargs="?", metavar="HOST", help="the target host's URL")
    p.add_argument("-l", "--live", action="store_true", help="pre-copy while the guest runs (xm migrate --live)")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.add_argument("--bandwidth", type=_rate, metavar="MIB_S", help="the link's MiB/s (simulated hosts)")
    p.add_argument("--dirty-rate", type=_rate, metavar="MIB_S", help="MiB/s the guest dirties (simulated hosts)")
    p.add_argument("--recover", action="store_true", help="finish or roll back moves cut short; move nothing")
    p.set_defaults(words="migrate")
    lock_timeout(p)


def _mib(value: float) -> str:
    return f"{value:,.0f} MiB" if value >= 10 else f"{value:,.1f} MiB"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def run_migrate(args: argparse.Namespace) -> int:
    from xenctl.app.host import connect
    from xenctl.app.migrate import COLD_MOVE, migrate, settle_migrations

    if args.recover:
        if args.domain or args.host:
            raise UsageError("migrate --recover takes no DOMAIN or HOST: it settles the connected host's moves")
        with host_of(args) as host:
            said = settle_migrations(host, lock_timeout=args.lock_timeout)
        for line in said or ["No migration was cut short on this host."]:
            print(line)
        return 0
    if not args.domain or not args.host:
        raise UsageError("migrate needs DOMAIN and HOST: xenctl migrate [--live] DOMAIN HOST")
    url = _target_url(args.host)
    # The target's own xen root (its xend-config.sxp): never the one given for the source.
    with host_of(args) as source, connect(url, settings_of(args)._replace(xen_root=None)) as target:
        if target.is_simulated and not target.exists():
            raise UsageError(f"{args.host}: there is no simulated host there")
        report = migrate(
            source,
            target,
            args.domain,
            live=args.live,
            command=command_line(),
            lock_timeout=args.lock_timeout,
            bandwidth=args.bandwidth,
            dirty_rate=args.dirty_rate,
        )
    if args.json:
        import json

        json.dump(report.to_json(), sys.stdout, indent=2)
        print()
        return 0
    details = [f"downtime {_seconds(report.downtime_s)}"]
    if report.rounds:
        details.append(f"{report.rounds} rounds")
    if report.sent_mib:
        details.append(f"{_mib(report.sent_mib)} sent")
    how = "by a cold move" if report.kind == COLD_MOVE else report.kind
    print(f"Migrated {report.domain} to {report.target} {how} in {_seconds(report.total_s)} ({', '.join(details)})")
    return 0


def _target_url(given: str) -> str:
    """HOST as a URI, or the name of a host under hosts: in ./specs (a fleet's name for it)."""
    if "://" in given or ":" in given:
        return given
    import os

    from xenctl.cli.fleet import declares_fleet, load_fleet

    if os.path.isdir("specs") and declares_fleet(["specs"]):
        for host in load_fleet(["specs"]).hosts:
            if host.name == given:
                return host.connect
    raise UsageError(
        f"{given!r} is not a host URI (sim:///PATH, xen:///system, qemu+ssh://HOST/system) "
        "nor a host named under hosts: in ./specs"
    )
