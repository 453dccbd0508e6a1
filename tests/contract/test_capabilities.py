"""Capabilities honestly reported: what a driver claims works when exercised, what it denies has
its reason and is refused with an EngineError (never quietly done some other way), and a
snapshot's ``HostInfo.capabilities`` is what ``capabilities()`` says.

``EXERCISES`` holds one exercise per capability: what to set up, the call, and what a user then
sees. The same exercise checks a claim (the call works, the effect shows) and a denial (the call
is refused, nothing shows). The denial checks also run on ``Denying``, a driver with each
capability taken away in turn, so that they are known to hold where they apply.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.contract.doubles import CALLS, Denying
from tests.contract.drivers import Subject
from tests.contract.support import GIB, MIB, booted, guest, image_at, lv_named
from xenctl.app.host import Host, connect
from xenctl.app.migrate import migrate
from xenctl.engine.api import Capabilities, DiskMode, DomainDisk, HostState, HvmConfig, Phase, Selection
from xenctl.engine.sim.profile import default_profile
from xenctl.errors import EngineError

VG = "vgcaps"
Step = Callable[[Subject], object]


def nothing(subject: Subject) -> None:
    return None


def running(subject: Subject) -> None:
    booted(subject, "web1", memory=128, maxmem=256, vcpus=2)


def group(subject: Subject) -> None:
    subject.can("volume_groups")
    subject.driver.create_volume_group(VG, subject.case.pvs)


def volume(subject: Subject) -> None:
    group(subject)
    subject.can("logical_volumes")
    subject.driver.create_logical_volume(VG, "data", GIB)


def image(subject: Subject) -> None:
    subject.can("images")
    subject.driver.create_image("caps.img", GIB)


def image_path(subject: Subject) -> str:
    return os.path.join(subject.driver.snapshot().host.storage_root, "caps.img")


def _peer(subject: Subject) -> Host:
    """A second host of the subject's driver, taking migrations, with the host as its own."""
    tmp = Path(subject.url.split("://", 1)[1]).parent / "peer"
    peer = connect(subject.case.url(tmp), subject.case.settings)
    if peer.is_simulated:
        peer.make_simulated(default_profile())
        (tmp / "etc" / "xen").mkdir(parents=True, exist_ok=True)
        (tmp / "etc" / "xen" / "xend-config.sxp").write_text("(xend-relocation-server yes)\n")
        peer = connect(peer.url, subject.case.settings)
    subject.others.append(peer)
    return peer


def moved_to_a_peer(subject: Subject) -> None:
    """app.migrate over the subject's driver (a double's denial included): web1 goes to a peer."""
    source = connect(subject.url, subject.case.settings)
    source._driver = subject.driver
    migrate(source, _peer(subject), "web1", live=True)


def moved_away(subject: Subject) -> bool:
    here = [d.name for d in subject.host.driver.snapshot().domains]
    there = [d.name for d in subject.others[-1].driver.snapshot().domains]
    return "web1" not in here and "web1" in there


def saved_and_restored(subject: Subject) -> None:
    path = os.path.join(subject.driver.snapshot().host.save_dir, "web1.save")
    subject.driver.save_domain("web1", path)
    subject.driver.restore_domain(path)


def under_a_new_domid(subject: Subject, before: HostState) -> bool:
    was, now = before.domain("web1"), subject.driver.snapshot().domain("web1")
    return was is not None and now is not None and now.domid != was.domid


def has(caps: Capabilities, capability: str) -> bool:
    if capability.startswith("grow:"):
        return capability.removeprefix("grow:") in caps.grow
    return bool(getattr(caps, capability))


@dataclass(frozen=True)
class Exercise:
    """Set up with ``prepare``, do ``act``; ``shows`` is what a user sees when it worked (given the
    host as it was before ``act``).
    ``refuses``: a driver without the capability refuses ``act`` (False for what is a count the
    host keeps rather than a call, such as loop devices: without it, nothing is counted)."""

    prepare: Step
    act: Step
    shows: Callable[[Subject, HostState], bool]
    refuses: bool = True


def console_has_lines(subject: Subject) -> bool:
    """Whether a user reading the guest's console sees its boot messages."""
    try:
        return len(subject.driver.console("web1")) > 0
    except EngineError:
        return False


def domain_phase(subject: Subject, name: str) -> Phase | None:
    found = subject.driver.snapshot().domain(name)
    return found.phase if found else None


EXERCISES: dict[str, Exercise | None] = {
    "live_memory": Exercise(
        running, lambda s: s.driver.set_memory("web1", 200), lambda s, _before: s.driver.domain("web1").target == 200
    ),
    "live_vcpus": Exercise(
        running, lambda s: s.driver.set_vcpus("web1", 1), lambda s, _before: s.driver.domain("web1").vcpus == 1
    ),
    "live_disks": Exercise(
        running,
        lambda s: s.driver.attach_disk("web1", DomainDisk(s.case.guest_disk, "sdb1", DiskMode.WRITE)),
        lambda s, _before: "sdb1" in [d.vdev for d in s.driver.domain("web1").config.disks],
    ),
    "pause": Exercise(
        running, lambda s: s.driver.pause_domain("web1"), lambda s, _before: domain_phase(s, "web1") is Phase.PAUSED
    ),
    "save_restore": Exercise(running, saved_and_restored, under_a_new_domid),
    "console": Exercise(running, lambda s: s.driver.console("web1"), lambda s, _before: console_has_lines(s)),
    "migration": Exercise(running, moved_to_a_peer, lambda s, _before: moved_away(s)),
    "hvm": Exercise(
        nothing,
        lambda s: s.driver.create_domain(
            guest(s, "hvm1", kernel="/usr/lib/xen/boot/hvmloader", builder="hvm", hvm=HvmConfig())
        ),
        lambda s, _before: "hvm1" in [d.name for d in s.driver.snapshot().domains],
    ),
    "volume_groups": Exercise(
        nothing,
        lambda s: s.driver.create_volume_group(VG, s.case.pvs),
        lambda s, _before: VG in [g.name for g in s.driver.snapshot().volume_groups],
    ),
    "logical_volumes": Exercise(
        group,
        lambda s: s.driver.create_logical_volume(VG, "data", GIB),
        lambda s, _before: lv_named(s.driver.snapshot(), VG, "data") is not None,
    ),
    "snapshots": Exercise(
        volume,
        lambda s: s.driver.create_snapshot(VG, "data-snap", "data", 256 * MIB),
        lambda s, _before: lv_named(s.driver.snapshot(), VG, "data-snap") is not None,
    ),
    "images": Exercise(
        nothing,
        lambda s: s.driver.create_image("caps.img", GIB),
        lambda s, _before: image_at(s.driver.snapshot(), image_path(s)) is not None,
    ),
    "nfs_exports": Exercise(
        lambda s: booted(s, "nfs1"),
        lambda s: s.driver.create_nfs_export("nfs1", "/export/roots"),
        lambda s, _before: "nfs1:/export/roots" in [e.address for e in s.driver.snapshot().nfs_exports],
    ),
    "filesystems": Exercise(
        volume,
        lambda s: s.driver.format_volume(f"/dev/{VG}/data", "ext3"),
        lambda s, _before: getattr(lv_named(s.driver.snapshot(), VG, "data"), "filesystem", None) == "ext3",
    ),
    "grow:lvm": Exercise(
        volume,
        lambda s: s.driver.grow_logical_volume(VG, "data", 2 * GIB),
        lambda s, _before: getattr(lv_named(s.driver.snapshot(), VG, "data"), "size", 0) == 2 * GIB,
    ),
    "grow:snapshot": Exercise(
        lambda s: (volume(s), s.driver.create_snapshot(VG, "data-snap", "data", 256 * MIB)),
        lambda s: s.driver.grow_logical_volume(VG, "data-snap", 512 * MIB),
        lambda s, _before: getattr(lv_named(s.driver.snapshot(), VG, "data-snap"), "cow_size", 0) == 512 * MIB,
    ),
    "grow:file": Exercise(
        image,
        lambda s: s.driver.grow_image(image_path(s), 2 * GIB),
        lambda s, _before: getattr(image_at(s.driver.snapshot(), image_path(s)), "size", 0) == 2 * GIB,
    ),
    "loop_devices": Exercise(
        image,
        lambda s: s.driver.create_domain(guest(s, "web1", disks=(DomainDisk(image_path(s), "sda1", backend="file"),))),
        lambda s, _before: s.driver.snapshot().host.loops_used == 1,
        refuses=False,
    ),
}


def capability_names() -> list[str]:
    """Every capability a driver can claim or deny: each flag of ``Capabilities``, each kind that grows."""
    flags = [f.name for f in dataclasses.fields(Capabilities) if f.type in (bool, "bool")]
    return sorted([*flags, "grow:lvm", "grow:snapshot", "grow:file"])


def test_every_capability_has_an_exercise_and_a_call_list() -> None:
    assert sorted(EXERCISES) == capability_names()
    assert sorted(CALLS) == capability_names()


def test_the_host_info_reports_the_drivers_capabilities(subject: Subject) -> None:
    caps = subject.driver.capabilities()
    assert subject.driver.snapshot().host.capabilities == caps
    assert subject.driver.snapshot_of(Selection())[1].host.capabilities == caps


def test_the_drivers_numbers_are_ones_a_planner_can_count_with(subject: Subject) -> None:
    caps = subject.driver.capabilities()
    assert caps.domain_overhead >= 0
    assert caps.extent_size >= 1
    assert caps.pv_metadata >= 0
    assert caps.grow <= {"lvm", "snapshot", "file"}


def test_a_reason_is_given_only_for_what_is_denied(subject: Subject) -> None:
    caps = subject.driver.capabilities()
    for name, _reason in caps.why_not:
        assert name in capability_names() or name == "grow", f"a reason for no capability: {name}"
        assert name == "grow" or not has(caps, name), f"{name} is claimed and denied at once"


@pytest.mark.parametrize("capability", capability_names())
def test_a_claimed_capability_works_and_a_denied_one_is_refused_with_its_reason(
    subject: Subject, capability: str
) -> None:
    check_capability(subject, capability)


@pytest.mark.parametrize("capability", capability_names())
def test_a_driver_that_denies_a_capability_refuses_its_calls_with_its_reason(subject: Subject, capability: str) -> None:
    double = Denying(subject.host.driver, {capability: f"this host has no {capability}"})
    check_capability(subject.with_driver(double), capability)


def check_capability(subject: Subject, capability: str) -> None:
    caps = subject.driver.capabilities()
    exercise = EXERCISES[capability]
    if has(caps, capability):
        assert exercise is not None, f"{subject.case.name} claims {capability}, and no Driver call does it yet"
        exercise.prepare(subject)
        before = subject.driver.snapshot()
        exercise.act(subject)
        assert exercise.shows(subject, before), f"{subject.case.name} claims {capability}; nothing shows it"
        return
    declared = dict(caps.why_not)
    key = "grow" if capability.startswith("grow:") and not caps.grow else capability
    assert declared.get(key), f"{subject.case.name} denies {capability} without a reason"
    if exercise is None:
        return
    exercise.prepare(subject)
    before = subject.driver.snapshot()
    if exercise.refuses:
        with pytest.raises(EngineError):
            exercise.act(subject)
    else:
        exercise.act(subject)
    assert not exercise.shows(subject, before), f"{subject.case.name} denies {capability}, and did it anyway"
