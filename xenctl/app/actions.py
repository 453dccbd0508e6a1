"""xm's actions on one host: create, shutdown, reboot, destroy, pause, unpause, save, restore,
mem-set and vcpu-set, each under the host's lock.

Every action takes the host's lock for the moment it changes the host, as ``apply`` does, so
nothing slips into the middle of an apply: it waits up to ``lock_timeout`` seconds, or is
refused naming the holder. Waiting for a guest to go (``shutdown -w``) happens after the lock is
given back: the request is made, and another command may run while the guest goes down.
Domains are named by name or domid, as in xm; refusals are the driver's, worded as Xen's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from xenctl.errors import XenError

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.engine.api import Domain, DomainConfig, Driver

T = TypeVar("T")


@dataclass(frozen=True)
class Locking:
    """Who is acting (the host's lock names it) and how long to wait for another command."""

    command: str
    timeout: float = 0.0


def _locked(host: Host, locking: Locking, work: Callable[[Driver], T]) -> T:
    with host.locked(locking.command, locking.timeout):
        return work(host.driver)


def create(host: Host, config: DomainConfig, locking: Locking, *, paused: bool = False) -> Domain:
    return _locked(host, locking, lambda d: d.create_domain(config, paused=paused))


def destroy(host: Host, ref: str, locking: Locking) -> None:
    _locked(host, locking, lambda d: d.destroy_domain(ref))


def pause(host: Host, ref: str, locking: Locking) -> None:
    _locked(host, locking, lambda d: d.pause_domain(ref))


def unpause(host: Host, ref: str, locking: Locking) -> None:
    _locked(host, locking, lambda d: d.unpause_domain(ref))


def save(host: Host, ref: str, path: str, locking: Locking) -> None:
    _locked(host, locking, lambda d: d.save_domain(ref, path))


def restore(host: Host, path: str, locking: Locking, *, paused: bool = False) -> Domain:
    return _locked(host, locking, lambda d: d.restore_domain(path, paused=paused))


def set_memory(host: Host, ref: str, mib: int, locking: Locking) -> None:
    _locked(host, locking, lambda d: d.set_memory(ref, mib))


def set_vcpus(host: Host, ref: str, count: int, locking: Locking) -> None:
    _locked(host, locking, lambda d: d.set_vcpus(ref, count))


def shutdown(
    host: Host,
    refs: list[str] | None,
    locking: Locking,
    *,
    reboot: bool = False,
    wait: bool = False,
    timeout: float | None = None,
) -> list[Domain]:
    """Ask the domains named (None: every guest) to shut down or reboot; with ``wait``, return
    once each is gone (a XenError names one that did not go within ``timeout``)."""

    def ask(driver: Driver) -> list[Domain]:
        if refs is None:
            targets = [d for d in driver.snapshot().domains if d.domid != 0]
        else:
            targets = [driver.domain(ref) for ref in refs]
        for domain in targets:
            driver.shutdown_domain(str(domain.domid), reboot=reboot)
        return targets

    targets = _locked(host, locking, ask)
    if wait:
        for domain in targets:
            result = host.driver.wait_domain(str(domain.domid), "gone", timeout=timeout)
            if not result.reached:
                raise XenError(f"Domain {domain.name} did not shut down within {timeout or 0:g} seconds")
    return targets
