"""A domain's life on the virtual clock: boot, pause, shutdown, reboot, crash (XEN.md sections 1-2).

The default profile boots a guest in 8 s and shuts it down in 4 s.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import domain
from xenctl.engine.api import DOMAIN0, Fault, OnEvent, Phase
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import NotFoundError, XenError

BOOT = 8.0
SHUTDOWN = 4.0


def listed(host: SimHost, name: str) -> bool:
    return host.snapshot().domain(name) is not None


def state(host: SimHost, name: str) -> str:
    found = host.snapshot().domain(name)
    assert found is not None, f"{name} is not listed"
    return found.state


def booted(host: SimHost, clock: VirtualClock, name: str = "web1", **fields: object) -> int:
    domid = host.create_domain(domain(name, **fields)).domid  # type: ignore[arg-type]
    clock.advance(BOOT)
    return domid


# -- boot -----------------------------------------------------------------------------------


def test_the_profile_gives_the_boot_and_shutdown_durations(host: SimHost) -> None:
    assert (host.profile.durations.boot, host.profile.durations.shutdown) == (BOOT, SHUTDOWN)


def test_a_new_domain_runs_its_boot_until_the_boot_duration_passes(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    assert host.domain("web1").phase is Phase.BOOTING
    assert state(host, "web1") == "r-----"
    clock.advance(BOOT - 1)
    assert host.domain("web1").phase is Phase.BOOTING
    assert state(host, "web1") == "r-----"
    clock.advance(1)
    assert host.domain("web1").phase is Phase.RUNNING
    assert state(host, "web1") == "-b----"
    assert host.domain("web1").is_up


def test_a_booted_domain_stays_up_as_time_passes(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    clock.advance(3600)
    assert state(host, "web1") == "-b----"


def test_a_domain_created_paused_does_not_boot_until_unpaused(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"), paused=True)
    assert state(host, "web1") == "--p---"
    clock.advance(60)
    assert state(host, "web1") == "--p---"
    host.unpause_domain("web1")
    assert state(host, "web1") == "r-----"
    clock.advance(BOOT)
    assert state(host, "web1") == "-b----"


# -- pause ----------------------------------------------------------------------------------


def test_pause_and_unpause_a_running_domain(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    host.pause_domain("web1")
    assert state(host, "web1") == "--p---"
    assert host.domain("web1").phase is Phase.PAUSED
    assert not host.domain("web1").is_up
    clock.advance(30)
    assert state(host, "web1") == "--p---"
    host.unpause_domain("web1")
    assert state(host, "web1") == "-b----"


def test_pausing_twice_or_unpausing_a_running_domain_is_harmless(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    host.unpause_domain("web1")
    assert state(host, "web1") == "-b----"
    host.pause_domain("web1")
    host.pause_domain("web1")
    host.unpause_domain("web1")
    assert state(host, "web1") == "-b----"


def test_a_pause_during_boot_delays_the_boot_by_the_paused_time(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(2)
    host.pause_domain("web1")
    clock.advance(10)
    assert state(host, "web1") == "--p---"
    host.unpause_domain("web1")
    assert state(host, "web1") == "r-----"
    clock.advance(BOOT - 2 - 1)
    assert state(host, "web1") == "r-----"  # 6 s of boot were left; 5 have passed
    clock.advance(1)
    assert state(host, "web1") == "-b----"


def test_a_paused_domain_keeps_its_memory(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=512)
    free = host.snapshot().host.free_memory
    host.pause_domain("web1")
    assert host.domain("web1").memory == 512
    assert host.snapshot().host.free_memory == free


# -- shutdown ---------------------------------------------------------------------------------


def test_shutdown_returns_at_once_and_the_domain_goes_after_the_shutdown_duration(
    host: SimHost, clock: VirtualClock
) -> None:
    booted(host, clock, memory=256)
    free = host.snapshot().host.free_memory
    host.shutdown_domain("web1")
    assert listed(host, "web1")
    assert host.domain("web1").phase is Phase.SHUTTING_DOWN
    assert state(host, "web1") == "-b----"
    clock.advance(SHUTDOWN - 1)
    assert listed(host, "web1")
    clock.advance(1)
    assert not listed(host, "web1")
    assert host.snapshot().host.free_memory == free + 256
    with pytest.raises(NotFoundError):
        host.domain("web1")


def test_asking_a_shutdown_twice_does_not_delay_it(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    host.shutdown_domain("web1")
    clock.advance(2)
    host.shutdown_domain("web1")
    clock.advance(SHUTDOWN - 2)
    assert not listed(host, "web1")


def test_a_shutdown_during_boot_completes_after_the_boot(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    clock.advance(2)
    host.shutdown_domain("web1")
    clock.advance(BOOT - 2 + SHUTDOWN - 1)
    assert listed(host, "web1")
    clock.advance(1)
    assert not listed(host, "web1")


def test_a_shutdown_asked_during_boot_does_not_make_the_guest_up_before_its_boot_is_done(
    host: SimHost, clock: VirtualClock
) -> None:
    # The guest only sees the request once booted (its console shows the boot going on), so it is
    # not "booted and serving" yet: xm list shows it running its boot, and a wait for it to be up
    # lasts until the boot ends.
    host.create_domain(domain("web1"))
    clock.advance(2)
    host.shutdown_domain("web1")
    during = host.domain("web1")
    assert not during.is_up
    assert during.state == "r-----"
    start = clock.now()
    result = host.wait_domain("web1", "up")
    assert result.reached
    assert clock.now() - start == BOOT - 2


def test_a_shutdown_asked_while_paused_completes_its_duration_after_the_unpause(
    host: SimHost, clock: VirtualClock
) -> None:
    # A paused guest cannot see the request; once unpaused it halts in the usual 4 s.
    booted(host, clock)
    host.pause_domain("web1")
    clock.advance(10)
    host.shutdown_domain("web1")
    clock.advance(10)
    host.unpause_domain("web1")
    clock.advance(SHUTDOWN - 1)
    assert listed(host, "web1")
    clock.advance(1)
    assert not listed(host, "web1")


def test_wait_gone_follows_the_virtual_clock_through_the_shutdown(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    start = clock.now()
    host.shutdown_domain("web1")
    result = host.wait_domain("web1", "gone")
    assert result.reached
    assert result.phase is None
    assert result.waited == SHUTDOWN
    assert clock.now() - start == SHUTDOWN
    assert not listed(host, "web1")


def test_wait_up_returns_when_the_boot_is_done(host: SimHost, clock: VirtualClock) -> None:
    start = clock.now()
    host.create_domain(domain("web1"))
    result = host.wait_domain("web1", "up")
    assert result.reached
    assert result.phase is Phase.RUNNING
    assert clock.now() - start == BOOT
    assert state(host, "web1") == "-b----"


def test_wait_up_with_a_timeout_shorter_than_the_boot_is_not_reached(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1"))
    result = host.wait_domain("web1", "up", timeout=3)
    assert not result.reached
    assert result.phase is Phase.BOOTING
    assert result.waited == 3


def test_wait_by_domid_sees_a_domain_waited_up(host: SimHost, clock: VirtualClock) -> None:
    domid = host.create_domain(domain("web1")).domid
    assert host.wait_domain(str(domid), "up").reached


def test_on_poweroff_preserve_keeps_a_shut_down_domain_listed(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=256, on_poweroff=OnEvent.PRESERVE)
    host.shutdown_domain("web1")
    clock.advance(SHUTDOWN)
    assert state(host, "web1") == "---s--"
    assert host.domain("web1").phase is Phase.SHUTDOWN
    assert host.domain("web1").memory == 256
    clock.advance(600)
    assert state(host, "web1") == "---s--"


def test_a_preserved_domain_is_gone_once_destroyed(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, on_poweroff=OnEvent.PRESERVE)
    host.shutdown_domain("web1")
    clock.advance(SHUTDOWN)
    host.destroy_domain("web1")
    assert not listed(host, "web1")


def test_a_preserved_shut_down_domain_cannot_be_shut_down_again(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, on_poweroff=OnEvent.PRESERVE)
    host.shutdown_domain("web1")
    clock.advance(SHUTDOWN)
    with pytest.raises(XenError) as caught:
        host.shutdown_domain("web1")
    assert caught.value.message == "Domain cannot be shutdown"


def test_a_preserved_shut_down_domain_cannot_be_paused(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, on_poweroff=OnEvent.PRESERVE)
    host.shutdown_domain("web1")
    clock.advance(SHUTDOWN)
    with pytest.raises(XenError) as caught:
        host.pause_domain("web1")
    assert caught.value.message == "Domain 'web1' is not started"
    with pytest.raises(XenError) as caught:
        host.unpause_domain("web1")
    assert caught.value.message == "Domain 'web1' is not started"
    assert state(host, "web1") == "---s--"


def test_wait_up_on_a_preserved_shut_down_domain_gives_up_at_once(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, on_poweroff=OnEvent.PRESERVE)
    host.shutdown_domain("web1")
    clock.advance(SHUTDOWN)
    start = clock.now()
    result = host.wait_domain("web1", "up")
    assert not result.reached
    assert result.phase is Phase.SHUTDOWN
    assert clock.now() == start


# -- reboot -----------------------------------------------------------------------------------


def test_reboot_rebuilds_the_domain_under_a_new_domid_with_the_same_name_and_uuid(
    host: SimHost, clock: VirtualClock
) -> None:
    before = host.create_domain(domain("web1", 384, disks=[("hda3", "sda1", "w")]))
    clock.advance(BOOT)
    host.reboot_domain("web1")
    assert host.domain("web1").domid == before.domid
    clock.advance(SHUTDOWN)
    after = host.domain("web1")
    assert after.domid > before.domid
    assert after.name == before.name
    assert after.uuid == before.uuid
    assert after.memory == 384
    assert after.config.disks == before.config.disks
    assert after.state == "r-----"  # booting again
    clock.advance(BOOT)
    assert state(host, "web1") == "-b----"
    assert [d.name for d in host.snapshot().domains] == [DOMAIN0, "web1"]


def test_wait_gone_on_a_rebooting_domain_is_reached_when_its_domid_goes(host: SimHost, clock: VirtualClock) -> None:
    domid = booted(host, clock)
    host.reboot_domain("web1")
    assert host.wait_domain("web1", "gone").reached
    assert host.domain("web1").domid != domid


def test_reboot_with_on_reboot_destroy_ends_the_domain(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, on_reboot=OnEvent.DESTROY)
    host.reboot_domain("web1")
    clock.advance(SHUTDOWN)
    assert not listed(host, "web1")


# -- crashes ----------------------------------------------------------------------------------


def test_a_crash_at_boot_with_on_crash_preserve_is_listed_crashed(host: SimHost, clock: VirtualClock) -> None:
    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    host.create_domain(domain("web1", on_crash=OnEvent.PRESERVE))
    assert state(host, "web1") == "r-----"
    clock.advance(BOOT)
    assert state(host, "web1") == "----c-"
    assert host.domain("web1").phase is Phase.CRASHED
    clock.advance(60)
    assert state(host, "web1") == "----c-"


def test_a_crash_at_boot_with_on_crash_restart_is_destroyed_as_restarting_too_fast(
    host: SimHost, clock: VirtualClock
) -> None:
    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    host.create_domain(domain("web1", memory=256))
    free = host.snapshot().host.free_memory
    clock.advance(60)
    assert not listed(host, "web1")
    assert host.snapshot().host.free_memory == free + 256
    too_fast = [e for e in host.events() if e.obj == "web1" and "restarting too fast" in e.message]
    assert too_fast, [e.message for e in host.events()]
    assert too_fast[-1].outcome == "error"


def test_wait_up_on_a_guest_that_crashes_at_boot_is_not_reached(host: SimHost, clock: VirtualClock) -> None:
    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    host.create_domain(domain("web1", on_crash=OnEvent.PRESERVE))
    result = host.wait_domain("web1", "up", timeout=60)
    assert not result.reached
    assert result.phase is Phase.CRASHED


def test_a_crash_at_boot_fault_hits_only_the_domain_it_names(host: SimHost, clock: VirtualClock) -> None:
    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    host.create_domain(domain("web2", on_crash=OnEvent.PRESERVE))
    clock.advance(BOOT)
    assert state(host, "web2") == "-b----"


def test_a_crashed_domain_can_be_paused_and_destroyed(host: SimHost, clock: VirtualClock) -> None:
    host.add_fault(Fault(op="create", obj="web1", kind="crash-at-boot"))
    host.create_domain(domain("web1", on_crash=OnEvent.PRESERVE))
    clock.advance(BOOT)
    host.pause_domain("web1")
    assert state(host, "web1") == "----c-"
    host.destroy_domain("web1")
    assert not listed(host, "web1")


# -- a guest that ignores shutdown --------------------------------------------------------------


def test_a_guest_ignoring_shutdown_keeps_running_and_wait_times_out(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    host.add_fault(Fault(op="shutdown", obj="web1", kind="ignore-shutdown"))
    host.shutdown_domain("web1")
    start = clock.now()
    result = host.wait_domain("web1", "gone", timeout=30)
    assert not result.reached
    assert result.waited == 30
    assert clock.now() - start == 30
    assert listed(host, "web1")
    assert state(host, "web1") == "-b----"
    clock.advance(3600)
    assert listed(host, "web1")


def test_destroy_ends_a_guest_that_ignores_shutdown(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock)
    host.add_fault(Fault(op="shutdown", obj="web1", kind="ignore-shutdown"))
    host.shutdown_domain("web1")
    clock.advance(60)
    host.destroy_domain("web1")
    assert not listed(host, "web1")
    with pytest.raises(NotFoundError):
        host.domain("web1")


# -- destroy ----------------------------------------------------------------------------------


def test_destroy_is_immediate_in_any_phase(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("booting"))
    host.create_domain(domain("paused"), paused=True)
    booted(host, clock, "running")
    host.create_domain(domain("stopping"))
    clock.advance(BOOT)
    host.shutdown_domain("stopping")
    for name in ("booting", "paused", "running", "stopping"):
        host.destroy_domain(name)
    assert [d.name for d in host.snapshot().domains] == [DOMAIN0]


# -- Domain-0 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", [DOMAIN0, "0"])
@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda h, r: h.shutdown_domain(r), "Domain 0 cannot be shutdown"),
        (lambda h, r: h.reboot_domain(r), "Domain 0 cannot be shutdown"),
        (lambda h, r: h.destroy_domain(r), "Cannot destroy privileged domain"),
        (lambda h, r: h.pause_domain(r), "Cannot pause privileged domain"),
        (lambda h, r: h.unpause_domain(r), "Cannot unpause privileged domain"),
        (lambda h, r: h.save_domain(r, "/nonexistent-dir/dom0.save"), "Cannot save privileged domain"),
    ],
)
def test_domain0_refuses_what_xend_refuses_for_it(
    host: SimHost, ref: str, action: Callable[[SimHost, str], None], message: str
) -> None:
    with pytest.raises(XenError) as caught:
        action(host, ref)
    assert caught.value.message == message
    dom0 = host.domain(DOMAIN0)
    assert (dom0.domid, dom0.state) == (0, "r-----")


# -- naming domains ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        lambda h: h.domain("nope"),
        lambda h: h.shutdown_domain("nope"),
        lambda h: h.destroy_domain("nope"),
        lambda h: h.pause_domain("nope"),
        lambda h: h.unpause_domain("nope"),
        lambda h: h.reboot_domain("nope"),
    ],
)
def test_an_unknown_domain_does_not_exist(host: SimHost, action: Callable[[SimHost], object]) -> None:
    with pytest.raises(NotFoundError) as caught:
        action(host)
    assert caught.value.message == "Domain 'nope' does not exist."


def test_an_unknown_domid_does_not_exist(host: SimHost) -> None:
    with pytest.raises(NotFoundError) as caught:
        host.pause_domain("42")
    assert caught.value.message == "Domain '42' does not exist."


def test_domains_can_be_named_by_domid(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, "web1")
    domid = str(booted(host, clock, "web2"))
    assert host.domain(domid).name == "web2"
    host.pause_domain(domid)
    assert state(host, "web2") == "--p---"
    assert state(host, "web1") == "-b----"
    host.unpause_domain(domid)
    host.shutdown_domain(domid)
    clock.advance(SHUTDOWN)
    assert [d.name for d in host.snapshot().domains] == [DOMAIN0, "web1"]


def test_a_destroyed_domains_domid_names_nothing(host: SimHost, clock: VirtualClock) -> None:
    domid = str(booted(host, clock))
    host.destroy_domain(domid)
    with pytest.raises(NotFoundError):
        host.domain(domid)
