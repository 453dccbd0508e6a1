"""``xenctl validate`` and ``xenctl schema``: the spec files, checked and described."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from xenctl.cli.context import host_of
from xenctl.errors import UsageError

if TYPE_CHECKING:
    from xenctl.spec.model import DesiredState

DEFAULT_SPEC_DIR = "specs"


def spec_paths(paths: list[str]) -> list[str]:
    """The paths given, or ./specs when there is one."""
    import os

    if paths:
        return paths
    if os.path.isdir(DEFAULT_SPEC_DIR):
        return [DEFAULT_SPEC_DIR]
    raise UsageError("name the spec files or directories to read (there is no ./specs directory)")


def run_validate(args: argparse.Namespace) -> int:
    import gc

    gc.disable()  # a one-shot read of many small objects; nothing for the collector to find
    from xenctl.app.plans import host_capacity
    from xenctl.spec.load import load_specs

    with host_of(args) as host:
        desired = load_specs(spec_paths(args.paths), host_capacity(host), cache_dir=host.spec_cache())
    print(f"ok: {summary(desired)}")
    return 0


def summary(desired: DesiredState) -> str:
    """``3 files: 5 domains, 1 volume group, ...``"""

    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    return f"{count(len(desired.files), 'file', 'files')}: " + ", ".join(
        [
            count(len(desired.domains), "domain", "domains"),
            count(len(desired.volume_groups), "volume group", "volume groups"),
            count(len(desired.volumes), "volume", "volumes"),
            count(len(desired.nfs_exports), "NFS export", "NFS exports"),
            count(len(desired.autostart), "autostart entry", "autostart entries"),
        ]
    )


def run_schema(args: argparse.Namespace) -> int:
    from xenctl.spec.schema import schema

    print(json.dumps(schema(), indent=2))
    return 0
