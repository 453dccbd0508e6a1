"""Waits on a libvirt host wake on libvirt's lifecycle events (one event loop per process, in a
daemon thread), and poll where events cannot be had: either way a wait ends when the domain
does. With events, a wait reads the host only when something happened; polling reads it every
50 ms."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.contract.drivers import libvirt_test_host
from tests.engine.libvirt.daemon import Daemon
from xenctl.engine.api import DomainConfig, Owner, Phase
from xenctl.engine.libvirt import events
from xenctl.engine.libvirt.driver import LibvirtDriver, open_driver

OURS = Owner("xenctl", "specs/events.yaml")


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def driver() -> Iterator[LibvirtDriver]:
    """A driver on libvirt's shared in-process test host, which a watch's own connection shares."""
    opened = open_driver("test:///default")
    yield opened
    for dom in opened.conn.listAllDomains():
        if dom.name().startswith("ev"):
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    opened.close()


def counting_reads(driver: LibvirtDriver, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every read of a domain's state the driver makes (by domid), from now on."""
    reads: list[int] = []
    read = driver._phase

    def counted(domid: int) -> Phase | None:
        reads.append(domid)
        return read(domid)

    monkeypatch.setattr(driver, "_phase", counted)
    return reads


def destroy_soon(conn: libvirt.virConnect, name: str, after: float = 0.3) -> threading.Thread:
    """Destroy ``name`` from elsewhere (libvirt directly, not xenctl) a little later."""
    thread = threading.Thread(target=lambda: (time.sleep(after), conn.lookupByName(name).destroy()))
    thread.start()
    return thread


def test_a_wait_wakes_on_the_lifecycle_event_and_reads_the_host_only_then(
    driver: LibvirtDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver.create_domain(DomainConfig("ev1", kernel="/boot/vmlinuz"), owner=OURS)
    watch = driver.lifecycle_watch()
    assert watch is not None
    before = watch.count
    reads = counting_reads(driver, monkeypatch)
    other = destroy_soon(driver.conn, "ev1")
    result = driver.wait_domain("ev1", "gone", timeout=30)
    other.join()
    assert result.reached
    assert watch.count > before  # libvirt's event came, through the loop's thread
    assert len(reads) <= 3, reads  # the first look, the one after the event (and a recheck at most)


@pytest.mark.parametrize("how", ["turned off", "refused by the host"])
def test_without_events_a_wait_polls_and_still_ends_when_the_domain_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "turned off":
        monkeypatch.setenv("XENCTL_LIBVIRT_EVENTS", "0")
    else:

        def refuse(*_args: object) -> None:
            raise libvirt.libvirtError("this host has no events")

        monkeypatch.setattr(libvirt.virConnect, "domainEventRegisterAny", refuse)
    driver = open_driver(libvirt_test_host(tmp_path / "node"))  # a private host: others see nothing of it
    try:
        driver.create_domain(DomainConfig("ev2", kernel="/boot/vmlinuz"), owner=OURS)
        assert driver.lifecycle_watch() is None
        reads = counting_reads(driver, monkeypatch)
        other = destroy_soon(driver.conn, "ev2")
        result = driver.wait_domain("ev2", "gone", timeout=30)
        other.join()
        assert result.reached
        assert len(reads) > 3, reads  # polled
    finally:
        driver.close()


def test_a_wait_that_times_out_says_so_with_events_too(driver: LibvirtDriver) -> None:
    driver.create_domain(DomainConfig("ev3", kernel="/boot/vmlinuz"), owner=OURS)
    result = driver.wait_domain("ev3", "gone", timeout=0.2)
    assert not result.reached and result.waited >= 0.2


def test_the_event_loop_is_one_thread_per_process_and_goes_with_the_last_watch() -> None:
    driver, second = open_driver("test:///default"), open_driver("test:///default")
    try:
        assert driver.lifecycle_watch() is not None and second.lifecycle_watch() is not None
        assert [t.name for t in threading.enumerate()].count("libvirt-events") == 1
    finally:
        second.close()
        driver.close()
    deadline = time.monotonic() + 10
    while events.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    # No thread is left behind: xenctl's spec loader forks its helper only in a process without one.
    assert not events.running()
    assert "libvirt-events" not in [t.name for t in threading.enumerate()]


@pytest.mark.heavy
def test_events_come_over_a_real_daemons_socket(libvirtd: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = open_driver(libvirtd.test_uri)
    try:
        driver.create_domain(DomainConfig("ev-remote", kernel="/boot/vmlinuz"), owner=OURS)
        watch = driver.lifecycle_watch()
        assert watch is not None
        before = watch.count
        reads = counting_reads(driver, monkeypatch)
        conn = libvirt.open(libvirtd.test_uri)  # someone else's connection to the same daemon
        other = destroy_soon(conn, "ev-remote")
        result = driver.wait_domain("ev-remote", "gone", timeout=30)
        other.join()
        assert result.reached and watch.count > before and len(reads) <= 3, reads
        conn.lookupByName("ev-remote").undefine()
        conn.close()
    finally:
        driver.close()
