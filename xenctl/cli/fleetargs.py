"""The command line of the fleet: ``evacuate``, ``list`` (one host's, or with ``--all-hosts``
every host of the fleet), and ``apply``'s ``--coordinate``."""

from __future__ import annotations

import argparse


def coordinate_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--coordinate",
        metavar="etcd://HOST:PORT",
        help="hold each host of the fleet through leases in etcd, so operators on other machines wait",
    )


def specs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--specs", action="append", metavar="PATH", help="the specs declaring the fleet's hosts: (default ./specs)"
    )


def add_list(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("list", help="list domains as xm list does", description="List domains, as xm list.")
    p.add_argument("domains", nargs="*", metavar="DOMAIN", help="names or domids (default: all)")
    p.add_argument("--all-hosts", action="store_true", help="every host of the fleet the specs declare")
    specs_option(p)
    p.set_defaults(words="list")


def add_evacuate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "evacuate",
        help="drain a host of the fleet by live migration",
        description="Mark HOST drained and move every guest on it live to the other hosts, placed as apply places.",
    )
    p.add_argument("host", metavar="HOST", help="the host's name under hosts:")
    p.add_argument("--undo", action="store_true", help="let the host take domains again")
    specs_option(p)
    coordinate_option(p)
    p.set_defaults(words="evacuate")
