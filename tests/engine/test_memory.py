"""Host memory and xend's ballooning of Domain-0 (XEN.md section 3).

The default profile: 16 GiB of memory, 64 MiB held by Xen, Domain-0 booted with 1 GiB and
``dom0-min-mem`` 196 MiB. A new domain needs its memory plus 2048 KiB free.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import domain
from xenctl.engine.api import DOMAIN0, HostState
from xenctl.engine.sim import SimHost
from xenctl.errors import XenError

OVERHEAD_KIB = 2048


def need_kib(memory: int) -> int:
    return memory * 1024 + OVERHEAD_KIB


def free_at_start(host: SimHost) -> int:
    p = host.profile
    return p.memory - p.xen_reserved - p.dom0_initial_memory


def dom0_row(state: HostState) -> int:
    dom0 = state.domain(DOMAIN0)
    assert dom0 is not None
    return dom0.memory


def fill_free_memory(host: SimHost, name: str = "big") -> int:
    """Create a guest that takes all the free memory but the overhead; returns its memory."""
    memory = host.snapshot().host.free_memory - OVERHEAD_KIB // 1024
    host.create_domain(domain(name, memory))
    return memory


def test_the_default_host_starts_with_domain0_at_1g_and_the_rest_free(host: SimHost) -> None:
    info = host.snapshot().host
    assert (info.total_memory, info.dom0_memory, info.dom0_min_mem) == (16384, 1024, 196)
    assert info.ballooning
    assert info.free_memory == 16384 - 64 - 1024


def test_a_guest_that_fits_in_free_memory_leaves_domain0_alone(host: SimHost) -> None:
    before = host.snapshot().host.free_memory
    host.create_domain(domain("web1", 512))
    info = host.snapshot().host
    assert info.dom0_memory == 1024
    assert info.free_memory == before - 512


def test_a_guest_that_fits_exactly_with_its_overhead_needs_no_ballooning(host: SimHost) -> None:
    memory = fill_free_memory(host)
    state = host.snapshot()
    assert state.host.dom0_memory == 1024
    assert state.host.free_memory == OVERHEAD_KIB // 1024
    assert state.domain("big") is not None and state.domain("big").memory == memory  # type: ignore[union-attr]


def test_a_guest_beyond_free_memory_shrinks_domain0_by_the_shortfall(host: SimHost) -> None:
    fill_free_memory(host)  # 2 MiB stay free
    host.create_domain(domain("web1", 512))
    state = host.snapshot()
    # need 512 MiB + 2 MiB, 2 MiB free: Domain-0 gives 512 MiB
    assert state.host.dom0_memory == 1024 - 512
    assert dom0_row(state) == 1024 - 512
    assert state.host.free_memory == 2


def test_ballooning_takes_domain0_down_to_its_minimum_and_no_further(host: SimHost) -> None:
    spare = host.profile.dom0_initial_memory - host.profile.dom0_min_mem  # 828 MiB
    memory = free_at_start(host) + spare - OVERHEAD_KIB // 1024
    host.create_domain(domain("huge", memory))
    state = host.snapshot()
    assert state.host.dom0_memory == 196
    assert dom0_row(state) == 196
    with pytest.raises(XenError):
        host.create_domain(domain("one-more", 1))
    assert host.snapshot().host.dom0_memory == 196


def test_several_guests_balloon_domain0_step_by_step(host: SimHost) -> None:
    fill_free_memory(host)
    for index in range(3):
        host.create_domain(domain(f"web{index}", 200))
    # each needs 202 MiB; 2 MiB were free and 2 stay free after each: Domain-0 gives 200 a time
    assert host.snapshot().host.dom0_memory == 1024 - 3 * 200


def test_without_ballooning_a_guest_beyond_free_memory_is_refused(make_host: Callable[..., SimHost]) -> None:
    host = make_host(dom0={"ballooning": False})
    free = host.snapshot().host.free_memory
    memory = free  # short by the overhead only
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("big", memory))
    assert caught.value.message == (
        "Not enough free memory and enable-dom0-ballooning is False, so I cannot release any more.  "
        f"I need {need_kib(memory)} KiB but only have {free * 1024}."
    )
    assert host.snapshot().host.dom0_memory == 1024


def test_dom0_min_mem_0_turns_ballooning_off(make_host: Callable[..., SimHost]) -> None:
    host = make_host(dom0={"min_mem": 0})
    info = host.snapshot().host
    assert not info.ballooning
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("big", info.free_memory + 100))
    assert caught.value.message.startswith("Not enough free memory and enable-dom0-ballooning is False")
    assert f"I need {need_kib(info.free_memory + 100)} KiB but only have {info.free_memory * 1024}." in str(
        caught.value
    )


def test_without_ballooning_a_guest_that_fits_is_still_created(make_host: Callable[..., SimHost]) -> None:
    host = make_host(dom0={"ballooning": False})
    host.create_domain(domain("web1", 1024))
    assert host.snapshot().host.dom0_memory == 1024


def test_a_guest_that_would_take_domain0_below_its_minimum_is_refused_with_the_numbers(host: SimHost) -> None:
    p = host.profile
    free_kib = free_at_start(host) * 1024
    dom0_kib = p.dom0_initial_memory * 1024
    min_kib = p.dom0_min_mem * 1024
    memory = free_at_start(host) + (p.dom0_initial_memory - p.dom0_min_mem)  # 2 MiB too many
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("huge", memory))
    assert caught.value.message == (
        f"I need {need_kib(memory)} KiB, but dom0_min_mem is {min_kib} and shrinking to {min_kib} KiB "
        f"would leave only {free_kib + dom0_kib - min_kib} KiB free."
    )
    assert caught.value.message == (
        "I need 16513024 KiB, but dom0_min_mem is 200704 and shrinking to 200704 KiB "
        "would leave only 16510976 KiB free."
    )


def test_the_below_minimum_message_counts_memory_already_ballooned(host: SimHost) -> None:
    fill_free_memory(host)
    host.create_domain(domain("web1", 512))  # Domain-0 now 512 MiB, 2 MiB free
    memory = 1000
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("web2", memory))
    assert caught.value.message == (
        f"I need {need_kib(memory)} KiB, but dom0_min_mem is {196 * 1024} and shrinking to {196 * 1024} KiB "
        f"would leave only {2 * 1024 + 512 * 1024 - 196 * 1024} KiB free."
    )


def test_a_guest_when_domain0_is_at_its_minimum_is_refused(host: SimHost) -> None:
    p = host.profile
    host.create_domain(domain("huge", free_at_start(host) + p.dom0_initial_memory - p.dom0_min_mem - 2))
    assert host.snapshot().host.dom0_memory == p.dom0_min_mem
    with pytest.raises(XenError) as caught:
        host.create_domain(domain("web1", 64))
    assert caught.value.message == "Not enough memory is available, and dom0 cannot be shrunk any further"


def test_a_refused_create_changes_neither_domains_nor_domain0(host: SimHost) -> None:
    fill_free_memory(host)
    host.create_domain(domain("web1", 512))
    before = host.snapshot()
    with pytest.raises(XenError):
        host.create_domain(domain("web2", 4096))
    after = host.snapshot()
    assert after.domains == before.domains
    assert after.host == before.host


def test_destroying_a_guest_frees_its_memory_but_does_not_regrow_domain0(host: SimHost) -> None:
    fill_free_memory(host)
    host.create_domain(domain("web1", 512))
    ballooned = host.snapshot().host
    assert ballooned.dom0_memory == 512
    host.destroy_domain("web1")
    after = host.snapshot().host
    assert after.free_memory == ballooned.free_memory + 512
    assert after.dom0_memory == 512


def test_memory_freed_by_a_destroy_serves_the_next_guest_without_ballooning(host: SimHost) -> None:
    fill_free_memory(host)
    host.create_domain(domain("web1", 512))
    host.destroy_domain("web1")
    host.create_domain(domain("web2", 400))
    info = host.snapshot().host
    assert info.dom0_memory == 512
    assert info.free_memory == 2 + 512 - 400


def test_free_memory_accounts_for_every_guest(host: SimHost) -> None:
    for index, memory in enumerate((128, 256, 512, 1024)):
        host.create_domain(domain(f"vm{index}", memory))
    info = host.snapshot().host
    assert info.free_memory == 16384 - 64 - 1024 - (128 + 256 + 512 + 1024)
    guests = sum(d.memory for d in host.snapshot().domains if d.domid != 0)
    assert info.total_memory == 64 + info.dom0_memory + guests + info.free_memory


def test_memory_given_back_by_mem_set_serves_the_next_guest_without_ballooning(host: SimHost) -> None:
    host.create_domain(domain("web1", 1024))
    fill_free_memory(host)
    host.set_memory("web1", 512)
    assert host.snapshot().host.free_memory == 2 + 512
    host.create_domain(domain("web2", 512))
    info = host.snapshot().host
    assert info.dom0_memory == 1024
    assert info.free_memory == 2


# -- LVM snapshots hold Domain-0 memory ---------------------------------------------------------

SNAPSHOT_HOST = {"snapshot_memory": "64M", "disks": {"sda": {"size": "20G", "partitions": {"sda10": {"size": "10G"}}}}}


def _snapshots(host: SimHost, count: int) -> None:
    host.create_volume_group("vg", ("/dev/sda10",))
    host.create_logical_volume("vg", "base", 1024 * 1024 * 1024)
    for i in range(count):
        host.create_snapshot("vg", f"clone{i}", "base", 64 * 1024 * 1024)


def test_each_snapshot_takes_its_memory_from_what_domain0_can_give_guests(make_host: Callable[..., SimHost]) -> None:
    host = make_host(**SNAPSHOT_HOST)
    before = host.snapshot().host.guest_memory_max
    _snapshots(host, 3)
    info = host.snapshot().host
    assert (info.snapshots, info.snapshot_memory) == (3, 64)
    assert info.guest_memory_max == before - 3 * 64
    assert info.dom0_memory == 1024  # far above its floor: nothing moves yet


def test_domain0_will_not_balloon_below_what_its_snapshots_hold(make_host: Callable[..., SimHost]) -> None:
    host = make_host(**SNAPSHOT_HOST)
    _snapshots(host, 2)
    free = host.snapshot().host.free_memory
    too_big = free + (1024 - 196 - 2 * 64) + 1  # one MiB more than ballooning down to the new floor gives
    with pytest.raises(XenError, match="LVM snapshots hold 131072 KiB"):
        host.create_domain(domain("big", too_big - OVERHEAD_KIB // 1024))
    host.create_domain(domain("big", too_big - 1 - OVERHEAD_KIB // 1024))
    assert host.snapshot().host.dom0_memory == 196 + 2 * 64


def test_a_snapshot_on_a_domain0_at_its_floor_grows_it_from_free_memory_or_fails(
    make_host: Callable[..., SimHost],
) -> None:
    host = make_host(**SNAPSHOT_HOST)
    _snapshots(host, 0)
    fill = host.snapshot().host.free_memory + (1024 - 196) - OVERHEAD_KIB // 1024
    host.create_domain(domain("big", fill))  # Domain-0 ballooned to its floor, 2M (xend's overhead) left free
    assert host.snapshot().host.dom0_memory == 196
    with pytest.raises(XenError, match="Cannot allocate memory"):
        host.create_snapshot("vg", "clone", "base", 64 * 1024 * 1024)
    assert host.snapshot().host.snapshots == 0  # refused whole
    host.destroy_domain("big")
    host.create_snapshot("vg", "clone", "base", 64 * 1024 * 1024)
    info = host.snapshot().host
    assert (info.snapshots, info.dom0_memory) == (1, 196 + 64)
