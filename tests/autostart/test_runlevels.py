"""Boot and stop on the simulated host, on a discrete-event clock: each step's times are exact
simulated seconds (a boot takes 8 s, a shutdown 4 s, a save 3 s, a restore 2 s) and cost no wall time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import domain
from xenctl.autostart.runlevels import Report, Step, boot, change_runlevel, stop
from xenctl.engine.api import DomainConfig, Fault
from xenctl.engine.sim import EventClock, SimHost, open_host
from xenctl.xmconfig.auto import AutoDir, Ordering, render_entry

BOOT, SHUTDOWN, SAVE, RESTORE = 8.0, 4.0, 3.0, 2.0


class Farm:
    """A host on an event clock, its auto directory, and boot/stop run against both."""

    def __init__(self, home: Path, xen_root: Path) -> None:
        self.home = str(home)
        self.clock = EventClock()
        self.host = open_host(self.home, clock=self.clock)
        self.auto = AutoDir(str(xen_root))
        self.xen_root = xen_root

    def connect(self) -> SimHost:
        return open_host(self.home, clock=self.clock)

    def entry(self, config: DomainConfig, file: str | None = None, **ordering: object) -> None:
        self.auto.write(file or config.name, render_entry(config, Ordering(**ordering), "specs/farm.yaml"))  # type: ignore[arg-type]

    def boot(self, **options: object) -> Report:
        return boot(self.connect, self.auto, pace=self.clock, **options)  # type: ignore[arg-type]

    def stop(self, **options: object) -> Report:
        return stop(self.connect, self.auto, pace=self.clock, **options)  # type: ignore[arg-type]

    def running(self) -> dict[str, int]:
        return {d.name: d.domid for d in self.host.snapshot().domains if d.domid != 0}

    @property
    def save_dir(self) -> str:
        return self.host.snapshot().host.save_dir


@pytest.fixture
def farm(home: Path, xen_root: Path) -> Iterator[Farm]:
    made = Farm(home, xen_root)
    yield made
    made.host.close()


def steps(report: Report, result: str | None = None) -> dict[str, Step]:
    """The report's steps by domain (only those with ``result`` if given)."""
    return {s.domain: s for s in report.steps if result is None or s.result == result}


def overlap(one: Step, other: Step) -> bool:
    return one.began < other.ended and other.began < one.ended


def chain(farm: Farm, **web: object) -> None:
    """nfs (serving the web root) -> db -> web1, web2: the web servers side by side, after db."""
    farm.host.create_domain(domain("nfs"))  # an export needs its server to exist once
    farm.host.create_nfs_export("nfs", "/export/web")
    farm.host.destroy_domain("nfs")
    farm.entry(domain("nfs", ip="10.0.0.2"), "10-nfs", order=10)
    farm.entry(domain("db", 256), "20-db", after=("nfs",))
    for name in ("web1", "web2"):
        config = domain(name, root="/dev/nfs", nfs_server="nfs", nfs_root="/export/web")
        farm.entry(config, f"30-{name}", after=("db",), **web)


# -- boot -----------------------------------------------------------------------------------


def test_a_chain_boots_in_order_with_independent_entries_side_by_side(farm: Farm) -> None:
    chain(farm)
    report = farm.boot()
    assert report.ok, report.steps
    got = steps(report, "started")
    assert set(got) == {"nfs", "db", "web1", "web2"}
    assert (got["nfs"].began, got["nfs"].ended) == (0.0, BOOT)
    assert (got["db"].began, got["db"].ended) == (BOOT, 2 * BOOT)  # db waits until nfs is up, no longer
    for web in ("web1", "web2"):
        assert got[web].began == 2 * BOOT and got[web].ended == 3 * BOOT
    assert overlap(got["web1"], got["web2"])
    assert report.took == 3 * BOOT  # the critical path, not the sum of four boots
    assert set(farm.running()) == {"nfs", "db", "web1", "web2"}
    assert got["web1"].entry == "30-web1" and got["web1"].detail.startswith("domain ")


def test_with_parallelism_1_nothing_boots_side_by_side(farm: Farm) -> None:
    chain(farm)
    report = farm.boot(parallelism=1)
    got = steps(report, "started")
    assert not overlap(got["web1"], got["web2"])
    assert report.took == 4 * BOOT


def test_stop_runs_in_reverse_with_independent_guests_side_by_side(farm: Farm) -> None:
    chain(farm)
    assert farm.boot().ok
    report = farm.stop()
    assert report.ok, report.steps
    got = steps(report, "shut down")
    assert set(got) == {"nfs", "db", "web1", "web2"}
    for web in ("web1", "web2"):
        assert (got[web].began, got[web].ended) == (0.0, SHUTDOWN)
    assert overlap(got["web1"], got["web2"])
    assert got["db"].began == SHUTDOWN  # once both web servers have gone
    assert got["nfs"].began == got["db"].ended == 2 * SHUTDOWN
    assert report.took == 3 * SHUTDOWN
    assert farm.running() == {}


def test_guests_without_an_entry_stop_before_the_entries_as_xendomains_stops_them(farm: Farm) -> None:
    chain(farm)
    assert farm.boot().ok
    farm.host.create_domain(domain("scratch"))
    report = farm.stop()
    got = steps(report)
    assert got["scratch"].result == "saved" and got["scratch"].entry is None  # XENDOMAINS_SAVE's default
    assert got["scratch"].ended <= min(s.began for name, s in got.items() if name != "scratch")
    assert farm.running() == {}


def test_the_up_delay_holds_dependents_back_after_the_domain_is_up(farm: Farm) -> None:
    farm.entry(domain("nfs"), order=10, up=5.0)
    farm.entry(domain("db"), after=("nfs",), up=2.5)
    farm.entry(domain("web"), after=("db",))
    report = farm.boot()
    got = steps(report, "started")
    assert got["db"].began >= got["nfs"].began + BOOT + 5.0
    assert got["db"].began == BOOT + 5.0
    assert got["web"].began == got["db"].began + BOOT + 2.5
    assert "5s before its dependents" in got["nfs"].detail


def test_a_failed_start_skips_only_what_needs_it(farm: Farm) -> None:
    chain(farm)
    farm.entry(domain("mail"))  # no order: starts after the ordered ones, needing none of them
    farm.entry(domain("cache"), order=10)
    farm.host.add_fault(Fault(op="create", obj="db", message="out of luck"))
    report = farm.boot()
    got = steps(report)
    assert got["db"].result == "failed" and not got["db"].ok and "out of luck" in got["db"].detail
    for web in ("web1", "web2"):
        assert got[web].result == "skipped" and not got[web].ok
        assert "20-db did not start" in got[web].detail
    for other in ("nfs", "mail", "cache"):
        assert got[other].result == "started", got[other]
    assert set(farm.running()) == {"nfs", "mail", "cache"}
    assert not report.ok and {s.domain for s in report.failed} == {"db", "web1", "web2"}


def test_a_guest_that_crashes_at_boot_fails_and_skips_its_dependents(farm: Farm) -> None:
    farm.entry(domain("db"), order=10)
    farm.entry(domain("web"), after=("db",))
    farm.host.add_fault(Fault(op="create", obj="db", kind="crash-at-boot"))
    report = farm.boot()
    got = steps(report)
    assert got["db"].result == "failed" and "did not come up" in got["db"].detail
    assert got["web"].result == "skipped"


def test_a_domain_already_running_is_skipped_and_said_so(farm: Farm) -> None:
    made = farm.host.create_domain(domain("mail"))
    farm.clock.sleep(BOOT)  # mail is up
    farm.entry(domain("mail"))
    farm.entry(domain("web"))
    report = farm.boot()
    got = steps(report)
    assert got["mail"].result == "already running" and got["mail"].ok
    assert got["mail"].detail == f"domain {made.domid}"
    assert got["web"].result == "started"
    assert farm.running()["mail"] == made.domid  # not created twice
    assert report.ok


def test_an_entry_after_an_already_running_domain_does_not_wait(farm: Farm) -> None:
    farm.host.create_domain(domain("db"))
    farm.clock.sleep(BOOT)  # db is up
    farm.entry(domain("db"), order=10)
    farm.entry(domain("web"), after=("db",))
    got = steps(farm.boot())
    assert got["db"].result == "already running"
    assert got["web"].began == 0.0


def test_a_broken_entry_is_reported_and_the_others_boot(farm: Farm) -> None:
    farm.entry(domain("web"))
    farm.entry(domain("db"), order=10)
    (farm.xen_root / "auto" / "README").write_text("Guests to start at boot go here.\n")
    report = farm.boot()
    assert [b.file for b in report.broken] == ["README"]
    assert set(steps(report, "started")) == {"web", "db"}
    assert not report.ok  # an entry that cannot be read is an error, though everything else started


def test_two_entries_for_one_domain_start_it_once_and_the_second_fails(farm: Farm) -> None:
    farm.entry(domain("db"), "db")
    farm.entry(domain("db"), "db-old")
    report = farm.boot()
    results = sorted((s.entry, s.result) for s in report.steps)
    assert results == [("db", "started"), ("db-old", "failed")]
    assert list(farm.running()) == ["db"]


# -- stop -----------------------------------------------------------------------------------


def test_a_hung_guest_is_destroyed_after_its_stop_timeout_and_the_others_still_stop(farm: Farm) -> None:
    chain(farm, stop_timeout=30.0)
    assert farm.boot().ok
    farm.host.add_fault(Fault(op="shutdown", obj="web1", kind="ignore-shutdown"))
    report = farm.stop()
    got = steps(report)
    assert got["web1"].result == "destroyed" and got["web1"].ok
    assert got["web1"].ended - got["web1"].began == 30.0
    assert "did not stop within 30s" in got["web1"].detail
    assert got["web2"].result == "shut down" and got["web2"].ended == SHUTDOWN
    assert got["db"].began == 30.0  # db waited for web1 to be gone: destroyed, not merely given up on
    assert farm.running() == {}
    assert report.ok


def test_a_hung_guest_whose_entry_says_leave_is_left_running_and_reported(farm: Farm) -> None:
    chain(farm, stop_timeout=20.0, on_timeout="leave")
    assert farm.boot().ok
    domid = farm.running()["web1"]
    farm.host.add_fault(Fault(op="shutdown", obj="web1", kind="ignore-shutdown"))
    report = farm.stop()
    got = steps(report)
    assert got["web1"].result == "left running" and not got["web1"].ok
    assert got["web1"].ended - got["web1"].began == 20.0
    assert "leave" in got["web1"].detail
    assert farm.running() == {"web1": domid}
    assert {got[n].result for n in ("web2", "db", "nfs")} == {"shut down"}
    assert not report.ok and [s.domain for s in report.failed] == ["web1"]


def test_save_mode_guests_come_back_from_their_save_files_at_the_next_boot(farm: Farm) -> None:
    chain(farm)
    farm.entry(domain("db", 256), "20-db", after=("nfs",), stop="save")
    assert farm.boot().ok
    before = farm.running()
    report = farm.stop()
    got = steps(report)
    path = os.path.join(farm.save_dir, "db")
    assert got["db"].result == "saved" and got["db"].detail == f"to {path}"
    assert got["db"].ended - got["db"].began == SAVE
    assert os.path.exists(path)
    assert farm.running() == {}

    report = farm.boot()
    assert report.ok, report.steps
    restored = steps(report, "restored")
    assert list(restored) == ["db"]
    assert restored["db"].began == 0.0 and restored["db"].ended == RESTORE  # before any entry starts
    assert steps(report, "already running")["db"].entry == "20-db"
    after = farm.running()
    assert set(after) == {"nfs", "db", "web1", "web2"}
    assert after["db"] not in before.values()  # a new domid
    assert f"as domain {after['db']}" in restored["db"].detail
    assert not os.path.exists(path)
    assert set(steps(report, "started")) == {"nfs", "web1", "web2"}


def test_a_save_file_that_will_not_restore_stays_and_its_domain_is_not_started_afresh(farm: Farm) -> None:
    farm.entry(domain("db"), stop="save")
    farm.entry(domain("web"))
    assert farm.boot().ok
    assert farm.stop().ok
    path = os.path.join(farm.save_dir, "db")
    farm.host.add_fault(Fault(op="restore", obj="*", message="corrupt image"))
    report = farm.boot()
    got = [(s.domain, s.result) for s in report.steps]
    assert ("db", "failed") in got and ("web", "started") in got
    assert os.path.exists(path)
    assert "db" not in farm.running()


def test_a_stop_with_nothing_running_does_nothing(farm: Farm) -> None:
    chain(farm)
    report = farm.stop()
    assert report.steps == [] and report.ok


# -- runlevels ------------------------------------------------------------------------------


def test_change_runlevel_boots_once_and_stops_on_leaving_the_boot_levels(farm: Farm) -> None:
    farm.entry(domain("web"))
    connect: Callable[[], SimHost] = farm.connect
    first = change_runlevel(connect, farm.auto, 3, pace=farm.clock)
    assert first.report is not None and first.report.action == "boot"
    assert set(farm.running()) == {"web"}
    again = change_runlevel(connect, farm.auto, 5, pace=farm.clock)
    assert again.report is None and again.note == "already booted"
    down = change_runlevel(connect, farm.auto, 0, pace=farm.clock)
    assert (down.before, down.after) == (5, 0)
    assert down.report is not None and down.report.action == "stop"
    assert farm.running() == {}
    host = farm.host.snapshot().host
    assert (host.runlevel, host.booted) == (0, False)


def test_a_cycle_through_after_and_nfs_roots_fails_its_members_and_the_rest_boot(farm: Farm) -> None:
    farm.entry(domain("a", ip="10.0.0.1", root="/dev/nfs", nfs_server="10.0.0.2", nfs_root="/r"), after=("b",))
    farm.entry(domain("b", ip="10.0.0.2", root="/dev/nfs", nfs_server="10.0.0.1", nfs_root="/r"), after=("a",))
    farm.entry(domain("c"), order=10)
    report = farm.boot()
    got = steps(report)
    assert got["a"].result == got["b"].result == "failed"
    assert "cycle" in got["a"].detail
    assert got["c"].result == "started"


def test_a_domain_still_booting_is_waited_for_before_its_dependents_start(farm: Farm) -> None:
    made = farm.host.create_domain(domain("nfs"))  # a boot cut short left it booting
    farm.entry(domain("nfs"), order=10, up=5.0)
    farm.entry(domain("web"), after=("nfs",))
    report = farm.boot()
    got = steps(report)
    assert got["nfs"].result == "already starting" and got["nfs"].detail.startswith(f"domain {made.domid}")
    assert got["web"].began >= got["nfs"].ended  # after nfs was up and its 5 s had passed
    assert got["nfs"].ended - got["nfs"].began >= 5.0


def test_a_boot_with_a_failed_start_is_not_marked_booted_so_the_next_boot_retries(farm: Farm) -> None:
    farm.entry(domain("db"))
    fault = farm.host.add_fault(Fault(op="create", obj="db"))
    first = change_runlevel(farm.connect, farm.auto, 3, pace=farm.clock)
    assert first.report is not None and first.report.failed
    assert not farm.host.snapshot().host.booted
    farm.host.clear_faults(fault)
    again = change_runlevel(farm.connect, farm.auto, 3, pace=farm.clock)
    assert again.report is not None and steps(again.report)["db"].result == "started"
    assert farm.host.snapshot().host.booted


def test_a_save_that_fails_at_stop_shuts_the_guest_down_and_counts_as_a_failure(farm: Farm) -> None:
    farm.entry(domain("db"), stop="save")
    farm.boot()
    farm.host.add_fault(Fault(op="save", obj="db", message="No space left on device: /Save/DB"))
    report = farm.stop()
    got = steps(report)["db"]
    assert got.result == "shut down" and not got.ok
    assert "No space left on device: /Save/DB" in got.detail  # the engine's words, as they were
    assert "db" not in farm.running()
