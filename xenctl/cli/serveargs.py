"""The command line of the service: ``xenctl serve`` and ``xenctl xend`` (xend's init script)."""

from __future__ import annotations

import argparse


def add_serve(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="serve the host's JSON API and web console over HTTP (xend's role)",
        description="Serve the host's JSON API (/api/v1/) and a web console. Listens on 127.0.0.1:8000 by default; "
        "anything but loopback needs --token-file. See docs/api.md.",
    )
    p.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT", help="where to listen (127.0.0.1:8000)")
    p.add_argument("--connect", dest="serve_connect", metavar="URI", help="the host to serve (as the global -c)")
    p.add_argument("--specs", metavar="DIR", help="the spec directory the plan page plans and applies")
    p.add_argument("--token-file", metavar="FILE", help="a file holding the token every request must carry")
    p.set_defaults(words="serve")
    xend = sub.add_parser(
        "xend",
        help="run xenctl serve as a daemon: start, stop, restart, status (xend's init script)",
        description="Run xenctl serve as a daemon with a pid file and a log, answering as an LSB init script: "
        "status exits 0 running, 3 stopped, 1 when the pid file outlived its process.",
    )
    xend.add_argument(
        "xend_action",
        choices=("start", "stop", "restart", "status"),
        metavar="ACTION",
        help="start, stop, restart or status",
    )
    xend.add_argument(
        "--listen", default="127.0.0.1:8000", metavar="HOST:PORT", help="where to listen (127.0.0.1:8000)"
    )
    xend.add_argument("--connect", dest="serve_connect", metavar="URI", help="the host to serve (as the global -c)")
    xend.add_argument("--specs", metavar="DIR", help="the spec directory the plan page plans and applies")
    xend.add_argument("--token-file", metavar="FILE", help="a file holding the token every request must carry")
    xend.add_argument("--pid-file", metavar="FILE", help="default /run/xenctl/xend.pid as root, else HOME/run/xend.pid")
    xend.add_argument(
        "--log-file", metavar="FILE", help="default /var/log/xenctl/xend.log as root, else HOME/log/xend.log"
    )
    xend.set_defaults(words="xend")
