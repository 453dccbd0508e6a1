"""``xenctl validate`` and ``xenctl schema``: the spec files, checked and described."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from xenctl.cli.context import default_home
from xenctl.errors import UsageError
from xenctl.spec.checks import Capacity

if TYPE_CHECKING:
    from xenctl.engine.api import HostInfo

DEFAULT_SPEC_DIR = "specs"


def spec_paths(paths: list[str]) -> list[str]:
    """The paths given, or ./specs when there is one."""
    import os

    if paths:
        return paths
    if os.path.isdir(DEFAULT_SPEC_DIR):
        return [DEFAULT_SPEC_DIR]
    raise UsageError("name the spec files or directories to read (there is no ./specs directory)")


def capacity_of(info: HostInfo) -> Capacity:
    return Capacity(info.guest_memory_max, f"host {info.name}", info.storage_root)


def host_capacity(home: str | None) -> Capacity:
    """What the host in ``home`` can give its guests; the built-in profile's when there is no host yet."""
    from xenctl.cli.context import open_sim
    from xenctl.engine.sim import host_exists

    if host_exists(home or default_home()):
        with open_sim(home) as host:
            return capacity_of(host.snapshot().host)
    from xenctl.engine.sim.profile import default_profile

    profile = default_profile()
    return Capacity(
        profile.memory - profile.xen_reserved - profile.dom0_min_mem, "the built-in host profile", profile.storage_root
    )


def spec_cache(home: str | None) -> str | None:
    """Where validated spec files are cached: under the xenctl home, once there is one (reading
    specs never makes a home of its own)."""
    import os

    home = home or default_home()
    return os.path.join(home, "cache", "specs") if os.path.isdir(home) else None


def run_validate(args: argparse.Namespace) -> int:
    import gc

    gc.disable()  # a one-shot read of many small objects; nothing for the collector to find
    from xenctl.spec.load import load_specs

    desired = load_specs(spec_paths(args.paths), host_capacity(args.home), cache_dir=spec_cache(args.home))
    print(f"ok: {desired.summary()}")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    from xenctl.spec.schema import schema

    print(json.dumps(schema(), indent=2))
    return 0
