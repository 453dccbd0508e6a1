"""``xenctl import``: xm config files, or the live host, written out as a spec."""

from __future__ import annotations

import argparse
import os
import sys

from xenctl.cli.context import host_of
from xenctl.errors import ConfigError, SpecError, UsageError


def run_import(args: argparse.Namespace) -> int:
    from xenctl.spec.dump import dump_spec
    from xenctl.xmconfig.importer import Imported, import_configs, import_host

    configs = [c for c in args.configs if "=" not in c]
    pairs = [c for c in args.configs if "=" in c]
    if args.from_host == bool(configs):
        raise UsageError("name the config files to import, or give --from-host (not both)")
    if args.out and os.path.exists(args.out) and not args.force:
        raise UsageError(f"{args.out} exists; --force replaces it")
    imported: Imported
    if args.from_host:
        if pairs:
            raise UsageError("KEY=VALUE goes with config files, not --from-host")
        with host_of(args) as host:
            imported = import_host(host.driver.snapshot())
        source = "the live host"
    else:
        from xenctl.cli.xm import load_create_config

        read = []
        with host_of(args) as host:
            root = host.xen_root or ""
        for config in configs:
            _path, (_parsed, described) = load_create_config(config, pairs, root)
            read.append((described.config, described.ignored, described.disks))
        imported = import_configs(read)
        source = ", ".join(configs)
    header = [f"Imported by xenctl from {source}."]
    header += [f"Note: {note}" for note in imported.notes]
    text = dump_spec(imported.desired, header="\n".join(header))
    _refuse_what_would_not_validate(text, source)
    for note in imported.notes:
        print(f"xenctl import: {note}", file=sys.stderr)
    if args.out:
        from xenctl.cli.wizard import write_spec

        write_spec(args.out, text, force=args.force)
        print(f"Wrote {args.out}. Check it with: xenctl validate {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _refuse_what_would_not_validate(text: str, source: str) -> None:
    """An import writes a spec that ``validate`` takes, or nothing: the first reason, in one line."""
    from xenctl.spec.load import load_spec_texts

    try:
        load_spec_texts([("<imported spec>", text)])
    except SpecError as exc:
        issue = exc.issues[0]
        where = f"{issue.path}: " if issue.path else ""
        more = f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
        raise ConfigError(f"cannot import {source}: {where}{issue.message}{more}") from None
