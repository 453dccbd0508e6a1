"""The hosts of a fleet, connected and read: each host's handle and one snapshot, read in parallel.

A host that cannot be reached or read is one line naming it (``host b (sim:///srv/b): ...``):
a fleet plan needs every host's state, since placement weighs them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xenctl.errors import XenctlError

if TYPE_CHECKING:
    from xenctl.app.host import Host, Settings
    from xenctl.engine.api import HostState
    from xenctl.spec.model import HostSpec

DRAINED = "drained"  # the file in a host's cache directory that marks it drained (``xenctl evacuate``)


@dataclass
class Member:
    """One host of the fleet: its declaration, its handle, and what it held when read."""

    spec: HostSpec
    host: Host
    live: HostState

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def drained(self) -> bool:
        return os.path.exists(os.path.join(self.host.cache_dir, DRAINED))


class HostProblem(XenctlError):
    """A host of the fleet could not be reached or read."""


def _named(spec: HostSpec, exc: XenctlError) -> HostProblem:
    return HostProblem(f"host {spec.name} ({spec.connect}): {exc}")


@contextmanager
def opened(hosts: Sequence[HostSpec], settings: Settings) -> Iterator[dict[str, Member]]:
    """Every host connected and read (in parallel), by name; closed at the end."""
    from xenctl.app.host import connect

    handles: list[Host] = []
    try:
        for spec in hosts:
            try:
                handle = connect(spec.connect, settings._replace(xen_root=None))
                handles.append(handle)
                if handle.is_simulated and not handle.exists():
                    _make(handle, spec.name)
            except XenctlError as exc:
                raise _named(spec, exc) from None
        yield dict(zip([h.name for h in hosts], read(hosts, handles), strict=True))
    finally:
        for handle in handles:
            handle.close()


def _make(handle: Host, name: str) -> None:
    """A simulated host not made yet is made from the built-in profile, named as the fleet names it
    (so xend's relocation rules and its messages speak of it by that name)."""
    from xenctl.engine.sim.profile import default_profile

    handle.make_simulated(replace(default_profile(), name=name))


def read(hosts: Sequence[HostSpec], handles: Sequence[Host]) -> list[Member]:
    """One snapshot of each host, taken in parallel."""

    def one(pair: tuple[HostSpec, Host]) -> Member:
        spec, handle = pair
        try:
            return Member(spec, handle, handle.driver.snapshot())
        except XenctlError as exc:
            raise _named(spec, exc) from None

    if len(hosts) == 1:
        return [one((hosts[0], handles[0]))]
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return list(pool.map(one, zip(hosts, handles, strict=True)))


def refresh(members: dict[str, Member]) -> None:
    """Read every member again (after migrations moved domains between them)."""
    fresh = read([m.spec for m in members.values()], [m.host for m in members.values()])
    for member in fresh:
        members[member.name].live = member.live
