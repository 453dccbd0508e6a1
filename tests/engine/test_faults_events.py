"""Fault injection, the event log and the guest console on the simulated host."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import domain
from xenctl.engine.api import DOMAIN0, Fault, OnEvent
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import EngineError, InjectedFault, NotFoundError, UsageError, XenError

BOOT = 8.0


def names(host: SimHost) -> list[str]:
    return [d.name for d in host.snapshot().domains]


# -- fail faults ------------------------------------------------------------------------------


def test_a_fail_fault_makes_the_create_raise_its_message_and_changes_nothing(host: SimHost) -> None:
    host.add_fault(Fault(op="create", obj="web*", message="disk on fire", times=1))
    before = host.snapshot()
    with pytest.raises(InjectedFault) as caught:
        host.create_domain(domain("web1", 512))
    assert caught.value.message == "disk on fire"
    assert isinstance(caught.value, EngineError)
    after = host.snapshot()
    assert after.domains == before.domains
    assert after.host == before.host


def test_a_fault_fired_its_times_is_used_up_and_the_next_create_succeeds(host: SimHost) -> None:
    host.add_fault(Fault(op="create", obj="web*", message="disk on fire", times=1))
    with pytest.raises(InjectedFault):
        host.create_domain(domain("web1"))
    assert host.faults() == ()
    created = host.create_domain(domain("web1"))
    assert created.domid == 1
    assert names(host) == [DOMAIN0, "web1"]


def test_a_fault_with_times_2_fires_twice(host: SimHost) -> None:
    host.add_fault(Fault(op="create", obj="web1", message="no", times=2))
    for _ in range(2):
        with pytest.raises(InjectedFault):
            host.create_domain(domain("web1"))
    host.create_domain(domain("web1"))
    assert names(host) == [DOMAIN0, "web1"]


def test_a_fault_matches_only_its_objects_and_operation(host: SimHost, clock: VirtualClock) -> None:
    host.add_fault(Fault(op="create", obj="web*", message="disk on fire"))
    host.create_domain(domain("db1"))
    host.create_domain(domain("Web1"))  # the wildcard is case-sensitive
    host.pause_domain("db1")
    assert names(host) == [DOMAIN0, "Web1", "db1"]
    with pytest.raises(InjectedFault):
        host.create_domain(domain("web1"))


def test_a_persistent_fault_fires_every_time_until_cleared(host: SimHost) -> None:
    fault_id = host.add_fault(Fault(op="create", obj="web*", message="disk on fire"))
    for name in ("web1", "web1", "web2", "webby"):
        with pytest.raises(InjectedFault) as caught:
            host.create_domain(domain(name))
        assert caught.value.message == "disk on fire"
    assert [f.id for f in host.faults()] == [fault_id]
    assert host.clear_faults() == 1
    assert host.faults() == ()
    host.create_domain(domain("web1"))
    assert names(host) == [DOMAIN0, "web1"]


def test_a_wildcard_operation_fault_fails_any_operation_on_the_object(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.add_fault(Fault(op="*", obj="web1", message="hypervisor says no"))
    for action in (host.pause_domain, host.shutdown_domain, host.destroy_domain):
        with pytest.raises(InjectedFault) as caught:
            action("web1")
        assert caught.value.message == "hypervisor says no"
    assert host.domain("web1").state == "-b----"


def test_a_fault_on_shutdown_leaves_the_domain_running(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.add_fault(Fault(op="shutdown", obj="web1", message="xenstore timeout", times=1))
    with pytest.raises(InjectedFault):
        host.shutdown_domain("web1")
    clock.advance(60)
    assert host.domain("web1").state == "-b----"
    host.shutdown_domain("web1")
    clock.advance(4)
    assert names(host) == [DOMAIN0]


def test_clearing_one_fault_by_id_leaves_the_others(host: SimHost) -> None:
    first = host.add_fault(Fault(op="create", obj="web1", message="one"))
    host.add_fault(Fault(op="create", obj="web2", message="two"))
    assert host.clear_faults(first) == 1
    host.create_domain(domain("web1"))
    with pytest.raises(InjectedFault) as caught:
        host.create_domain(domain("web2"))
    assert caught.value.message == "two"


def test_an_unknown_fault_kind_is_refused(host: SimHost) -> None:
    with pytest.raises(UsageError, match="unknown fault kind 'explode'"):
        host.add_fault(Fault(op="create", kind="explode"))
    assert host.faults() == ()


def test_a_fault_that_could_never_fire_is_refused(host: SimHost) -> None:
    with pytest.raises(UsageError, match="unknown operation 'bogus-op'"):
        host.add_fault(Fault(op="bogus-op", obj="web1"))
    with pytest.raises(UsageError, match="a crash-at-boot fault acts on create, not destroy"):
        host.add_fault(Fault(op="destroy", obj="web1", kind="crash-at-boot"))
    assert host.faults() == ()


def test_adding_and_clearing_faults_is_in_the_event_log(host: SimHost) -> None:
    fault_id = host.add_fault(Fault(op="create", obj="web*", message="disk on fire", times=2))
    host.clear_faults(fault_id)
    logged = [(e.op, e.obj) for e in host.events()]
    assert logged == [("fault-add", "web*"), ("fault-clear", str(fault_id))]
    assert "disk on fire" in host.events()[0].message


# -- the event log ------------------------------------------------------------------------------


def test_the_event_log_records_every_mutation_with_its_outcome(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.pause_domain("web1")
    host.unpause_domain("web1")
    host.set_memory("web1", 100)
    host.set_vcpus("web1", 1)
    host.destroy_domain("web1")
    assert [(e.op, e.obj, e.outcome) for e in host.events()] == [
        ("create", "web1", "ok"),
        ("pause", "web1", "ok"),
        ("unpause", "web1", "ok"),
        ("mem-set", "web1", "ok"),
        ("vcpu-set", "web1", "ok"),
        ("destroy", "web1", "ok"),
    ]


def test_failed_mutations_are_logged_as_errors_with_their_message(host: SimHost) -> None:
    host.create_domain(domain("web1"))
    with pytest.raises(XenError):
        host.create_domain(domain("web1"))
    with pytest.raises(NotFoundError):
        host.pause_domain("nope")
    with pytest.raises(XenError):
        host.destroy_domain(DOMAIN0)
    host.add_fault(Fault(op="create", obj="web*", message="disk on fire", times=1))
    with pytest.raises(InjectedFault):
        host.create_domain(domain("web2"))
    assert [(e.op, e.obj, e.outcome, e.message) for e in host.events()] == [
        ("create", "web1", "ok", ""),
        ("create", "web1", "error", "VM name 'web1' already exists as domain 1"),
        ("pause", "nope", "error", "Domain 'nope' does not exist."),
        ("destroy", DOMAIN0, "error", "Cannot destroy privileged domain"),
        ("fault-add", "web*", "ok", "fail on create, 1 time(s): disk on fire"),
        ("create", "web2", "error", "disk on fire"),
    ]


def test_events_are_numbered_and_timed_on_the_clock(host: SimHost, clock: VirtualClock) -> None:
    start = clock.now()
    host.create_domain(domain("web1"))
    clock.advance(5)
    host.pause_domain("web1")
    events = host.events()
    assert [e.at - start for e in events] == [0.0, 5.0]
    assert events[0].seq < events[1].seq
    assert [e.op for e in host.events(since=events[0].seq)] == ["pause"]
    assert [e.op for e in host.events(limit=1)] == ["pause"]


def test_what_xend_does_on_its_own_is_logged_at_the_time_it_happened(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.shutdown_domain("web1")
    asked = clock.now()
    clock.advance(100)
    host.snapshot()
    last = host.events()[-1]
    assert (last.op, last.obj, last.outcome) == ("exit", "web1", "ok")
    assert last.at == asked + 4
    assert "shut down" in last.message


def test_the_event_log_stays_in_time_order_when_an_operation_fails_after_an_exit(
    host: SimHost, clock: VirtualClock
) -> None:
    # The guest was gone at t+4; the refused pause at t+10 comes after it in the log.
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.shutdown_domain("web1")
    clock.advance(10)
    with pytest.raises(NotFoundError):
        host.pause_domain("web1")
    host.snapshot()
    assert [(e.op, e.outcome) for e in host.events()] == [
        ("create", "ok"),
        ("shutdown", "ok"),
        ("exit", "ok"),
        ("pause", "error"),
    ]
    times = [e.at for e in host.events()]
    assert times == sorted(times)


def test_a_reboot_is_logged_with_the_new_domid(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.reboot_domain("web1")
    clock.advance(4)
    new = host.domain("web1").domid
    ops = [(e.op, e.outcome) for e in host.events()]
    assert ops == [("create", "ok"), ("reboot", "ok"), ("restart", "ok")]
    assert host.events()[-1].message == f"rebooted; on_reboot=restart: restarted as domain {new}"
    assert host.events()[-1].actor == "xend"


# -- the console --------------------------------------------------------------------------------


def test_the_console_shows_the_boot_as_it_happens(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1", 256))
    at_start = [line.text for line in host.console("web1")]
    assert at_start == []  # "Started domain web1" is xm create's line, not the guest's
    clock.advance(BOOT / 2)
    mid_boot = [line.text for line in host.console("web1")]
    clock.advance(BOOT / 2)
    booted = [line.text for line in host.console("web1")]
    assert len(at_start) < len(mid_boot) < len(booted)
    assert booted[: len(mid_boot)] == mid_boot
    assert booted[-1] == "web1 login:"
    assert "web1 login:" not in mid_boot
    assert "Memory: 262144k available" in booted


def test_console_lines_are_timed_within_the_boot(host: SimHost, clock: VirtualClock) -> None:
    start = clock.now()
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    lines = host.console("web1")
    times = [line.at - start for line in lines]
    assert times == sorted(times)
    assert 0.0 < times[0] < 1.0
    assert times[-1] == BOOT


def test_a_guest_paused_during_boot_prints_nothing_more_until_unpaused(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(2)
    host.pause_domain("web1")
    at_pause = [line.text for line in host.console("web1")]
    clock.advance(30)
    assert [line.text for line in host.console("web1")] == at_pause
    host.unpause_domain("web1")
    clock.advance(BOOT - 2)
    assert [line.text for line in host.console("web1")][-1] == "web1 login:"


def test_a_shutdown_asked_while_paused_reaches_the_console_only_after_the_unpause(
    host: SimHost, clock: VirtualClock
) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.pause_domain("web1")
    clock.advance(5)
    host.shutdown_domain("web1")
    clock.advance(5)
    paused_texts = [line.text for line in host.console("web1")]
    assert paused_texts[-1] == "web1 login:"
    host.unpause_domain("web1")
    unpaused_at = clock.now()
    clock.advance(1)
    lines = {line.text: line.at for line in host.console("web1")}
    assert lines["The system is going down for system halt NOW!"] == unpaused_at
    assert "System halted." not in lines


def test_a_guest_created_paused_prints_nothing_until_unpaused(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"), paused=True)
    clock.advance(30)
    assert [line.text for line in host.console("web1")] == []
    host.unpause_domain("web1")
    clock.advance(BOOT)
    assert [line.text for line in host.console("web1")][-1] == "web1 login:"


def test_the_console_of_a_guest_that_crashes_at_boot_ends_in_a_panic(host: SimHost, clock: VirtualClock) -> None:
    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    host.create_domain(domain("web1", on_crash=OnEvent.PRESERVE))
    clock.advance(BOOT)
    texts = [line.text for line in host.console("web1")]
    assert texts[-1].startswith("Kernel panic")
    assert "web1 login:" not in texts


def test_the_console_shows_the_shutdown(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.shutdown_domain("web1")
    clock.advance(1)
    texts = [line.text for line in host.console("web1")]
    assert "The system is going down for system halt NOW!" in texts
    assert "System halted." not in texts


def test_the_console_of_an_unknown_domain_does_not_exist(host: SimHost) -> None:
    with pytest.raises(NotFoundError):
        host.console("nope")


def test_a_fail_fault_on_save_leaves_the_domain_running(host: SimHost, clock: VirtualClock, tmp_path: Path) -> None:
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    host.add_fault(Fault(op="save", obj="web1", message="disk full", times=1))
    path = tmp_path / "web1.save"
    with pytest.raises(InjectedFault) as caught:
        host.save_domain("web1", str(path))
    assert caught.value.message == "disk full"
    assert host.domain("web1").state == "-b----"
    assert not path.exists()


def test_a_fail_fault_on_restore_naming_the_domain_fails_its_restore(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    # faults.py: "The object is a domain name, a volume's path or a VG name" -- for a restore,
    # the domain the file holds.
    host.create_domain(domain("web1"))
    clock.advance(BOOT)
    path = str(tmp_path / "web1.save")
    host.save_domain("web1", path)
    host.add_fault(Fault(op="restore", obj="web1", message="corrupt pages", times=1))
    with pytest.raises(InjectedFault) as caught:
        host.restore_domain(path)
    assert caught.value.message == "corrupt pages"
    assert names(host) == [DOMAIN0]
    restores = [(e.obj, e.outcome, e.message) for e in host.events() if e.op == "restore"]
    assert restores == [("web1", "error", "corrupt pages")]
    assert host.restore_domain(path).name == "web1"
