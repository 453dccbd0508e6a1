"""``xenctl serve``: xend's role, the HTTP service and web console for one host (``xenctl.web``)."""

from __future__ import annotations

import argparse

from xenctl.cli.context import host_url, settings_of


def run_serve(args: argparse.Namespace) -> int:
    from xenctl.web.config import server_config
    from xenctl.web.server import serve

    url = args.serve_connect or host_url(args)
    config = server_config(url, settings_of(args), listen=args.listen, specs=args.specs, token_file=args.token_file)
    serve(config)
    return 0
