"""xm mem-set and xm vcpu-set on the simulated host (XEN.md section 2)."""

from __future__ import annotations

import pytest

from tests.helpers import domain
from xenctl.engine.api import DOMAIN0
from xenctl.engine.sim import SimHost, VirtualClock
from xenctl.errors import XenError

TOO_BIG = "Invalid Configuration: memory_dynamic_max must be less than or equal to memory_static_max"
TOO_MANY = "Cannot set vcpus greater than max vcpus on running domain"
BOOT = 8.0


def booted(host: SimHost, clock: VirtualClock, name: str = "web1", memory: int = 256, **fields: object) -> None:
    host.create_domain(domain(name, memory, **fields))  # type: ignore[arg-type]
    clock.advance(BOOT)


def listed_memory(host: SimHost, name: str) -> int:
    found = host.snapshot().domain(name)
    assert found is not None
    return found.memory


def listed_vcpus(host: SimHost, name: str) -> int:
    found = host.snapshot().domain(name)
    assert found is not None
    return found.vcpus


# -- mem-set ----------------------------------------------------------------------------------


def test_mem_set_grows_a_domain_up_to_its_maxmem(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=256, maxmem=512)
    free = host.snapshot().host.free_memory
    host.set_memory("web1", 400)
    assert listed_memory(host, "web1") == 400
    host.set_memory("web1", 512)
    assert listed_memory(host, "web1") == 512
    assert host.domain("web1").target == 512
    assert host.snapshot().host.free_memory == free - 256


def test_mem_set_above_maxmem_is_refused_with_xends_message(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=256, maxmem=512)
    with pytest.raises(XenError) as caught:
        host.set_memory("web1", 513)
    assert caught.value.message == TOO_BIG
    assert listed_memory(host, "web1") == 256


def test_without_maxmem_a_domain_cannot_grow_beyond_its_boot_memory(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=256)
    with pytest.raises(XenError) as caught:
        host.set_memory("web1", 257)
    assert caught.value.message == TOO_BIG
    assert listed_memory(host, "web1") == 256


def test_mem_set_shrinks_a_domain_and_frees_the_memory(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=512)
    free = host.snapshot().host.free_memory
    host.set_memory("web1", 200)
    assert listed_memory(host, "web1") == 200
    assert host.snapshot().host.free_memory == free + 312


def test_a_shrunk_domain_grows_back_to_its_boot_memory(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=512)
    host.set_memory("web1", 200)
    host.set_memory("web1", 512)
    assert listed_memory(host, "web1") == 512


@pytest.mark.parametrize("mib", [0, -64])
def test_mem_set_to_zero_or_less_is_refused(host: SimHost, clock: VirtualClock, mib: int) -> None:
    booted(host, clock, memory=256)
    with pytest.raises(XenError):
        host.set_memory("web1", mib)
    assert listed_memory(host, "web1") == 256


def test_mem_set_by_domid(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, memory=256)
    domid = host.domain("web1").domid
    host.set_memory(str(domid), 128)
    assert listed_memory(host, "web1") == 128


def test_domain0_mem_set_below_dom0_min_mem_is_too_small(host: SimHost) -> None:
    with pytest.raises(XenError) as caught:
        host.set_memory(DOMAIN0, 195)
    assert caught.value.message == "memory_dynamic_max too small"
    assert host.snapshot().host.dom0_memory == 1024


def test_domain0_mem_set_down_to_dom0_min_mem_is_allowed(host: SimHost) -> None:
    free = host.snapshot().host.free_memory
    host.set_memory("0", 196)
    state = host.snapshot()
    assert state.host.dom0_memory == 196
    dom0 = state.domain(DOMAIN0)
    assert dom0 is not None and dom0.memory == 196
    assert state.host.free_memory == free + 1024 - 196


# -- vcpu-set ---------------------------------------------------------------------------------


def test_vcpu_set_lowers_and_raises_online_vcpus_up_to_the_boot_count(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, vcpus=4)
    assert listed_vcpus(host, "web1") == 4
    host.set_vcpus("web1", 1)
    assert listed_vcpus(host, "web1") == 1
    host.set_vcpus("web1", 3)
    assert listed_vcpus(host, "web1") == 3
    host.set_vcpus("web1", 4)
    assert listed_vcpus(host, "web1") == 4


def test_vcpu_set_above_the_boot_vcpus_is_refused(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, vcpus=2)
    with pytest.raises(XenError) as caught:
        host.set_vcpus("web1", 3)
    assert caught.value.message == TOO_MANY
    assert listed_vcpus(host, "web1") == 2


@pytest.mark.parametrize("count", [0, -1])
def test_vcpu_set_to_zero_or_less_is_refused(host: SimHost, clock: VirtualClock, count: int) -> None:
    booted(host, clock, vcpus=2)
    with pytest.raises(XenError) as caught:
        host.set_vcpus("web1", count)
    assert caught.value.message == "Zero or less VCPUs is invalid"
    assert listed_vcpus(host, "web1") == 2


def test_vcpu_set_up_to_maxvcpus_brings_more_vcpus_online(host: SimHost, clock: VirtualClock) -> None:
    booted(host, clock, vcpus=2, maxvcpus=4)
    assert listed_vcpus(host, "web1") == 2
    host.set_vcpus("web1", 4)
    assert listed_vcpus(host, "web1") == 4
    with pytest.raises(XenError) as caught:
        host.set_vcpus("web1", 5)
    assert caught.value.message == TOO_MANY


def test_domain0_vcpu_set_within_its_cpus(host: SimHost) -> None:
    host.set_vcpus(DOMAIN0, 2)
    assert listed_vcpus(host, DOMAIN0) == 2
    with pytest.raises(XenError) as caught:
        host.set_vcpus(DOMAIN0, host.profile.cpus + 1)
    assert caught.value.message == TOO_MANY
