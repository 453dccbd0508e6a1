"""``xenctl import``: xm config files, or the live host, written out as a spec."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from xenctl.cli.context import host_of
from xenctl.errors import ConfigError, SpecError, UsageError

if TYPE_CHECKING:
    from xenctl.engine.api import HostState


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
    state: HostState | None = None
    if args.from_host:
        if pairs:
            raise UsageError("KEY=VALUE goes with config files, not --from-host")
        with host_of(args) as host:
            state = host.driver.snapshot()
        # A libvirt host's pools are what a spec of it declares: all of them, used or not.
        recorder = getattr(host.driver, "record_import", None)  # a libvirt host's
        imported = import_host(state, whole_storage=recorder is not None)
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
    _refuse_what_would_not_validate(text, source, state if args.from_host else None)
    for note in imported.notes:
        print(f"xenctl import: {note}", file=sys.stderr)
    if args.out:
        from xenctl.cli.wizard import write_spec

        write_spec(args.out, text, force=args.force)
        print(f"Wrote {args.out}. Check it with: xenctl validate {args.out}")
    else:
        sys.stdout.write(text)
    if state is not None and recorder is not None:
        _record_import(args, state, os.path.abspath(args.out) if args.out else "xenctl import --from-host")
    return 0


def _record_import(args: argparse.Namespace, state: HostState, source: str) -> None:
    """What the spec declares is xenctl's from now on: the libvirt host's record of owners says
    so for every guest and volume that had no owner (their UUIDs and pools': one made again by
    hand is not taken for it), so the spec plans to no changes and needs no --adopt."""
    from xenctl.cli.context import command_line
    from xenctl.engine.api import MANAGED_BY, Owner

    with host_of(args) as host, host.locked(command_line(), getattr(args, "lock_timeout", 0.0)):
        count = host.driver.record_import(state, Owner(MANAGED_BY, source))  # type: ignore[attr-defined]
    print(f"xenctl import: {count} objects of the host recorded as xenctl's (declared by {source})", file=sys.stderr)


def _refuse_what_would_not_validate(text: str, source: str, state: HostState | None) -> None:
    """An import writes a spec that ``validate`` takes (against the host it came from, when it
    came from one), or nothing: the first reason, in one line."""
    from xenctl.app.plans import capacity_of
    from xenctl.spec.load import load_spec_texts

    try:
        load_spec_texts([("<imported spec>", text)], capacity_of(state.host) if state is not None else None)
    except SpecError as exc:
        issue = exc.issues[0]
        where = f"{issue.path}: " if issue.path else ""
        more = f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
        raise ConfigError(f"cannot import {source}: {where}{issue.message}{more}") from None
