"""What the contract tests share: a guest's config on any driver, and states compared as a user sees them."""

from __future__ import annotations

from dataclasses import replace

from tests.contract.drivers import Subject
from xenctl.engine.api import Domain, DomainConfig, DomainDisk, HostState, ImageFile, LogicalVolume, Owner, Vif

MIB = 1024 * 1024
GIB = 1024 * MIB
OURS = Owner("xenctl", "specs/contract.yaml")


def guest(
    subject: Subject, name: str = "web1", *, disks: tuple[DomainDisk, ...] = (), **fields: object
) -> DomainConfig:
    """A small paravirtual guest this driver can boot: its kernel, one vif on its bridge."""
    values: dict[str, object] = {
        "memory": 128,
        "maxmem": 256,
        "vcpus": 2,
        "kernel": subject.case.kernel,
        "disks": disks,
        "vifs": (Vif(subject.case.bridge, "00:16:3e:00:00:01"),),
    }
    values.update(fields)
    return DomainConfig(name=name, **values)  # type: ignore[arg-type]


def booted(subject: Subject, name: str = "web1", *, owner: Owner | None = OURS, **fields: object) -> Domain:
    """A guest created and waited up."""
    subject.driver.create_domain(guest(subject, name, **fields), owner=owner)  # type: ignore[arg-type]
    assert subject.driver.wait_domain(name, "up", timeout=600).reached, f"{name} did not come up"
    return subject.driver.domain(name)


def steady(domain: Domain) -> Domain:
    """A domain without what moves by itself as time passes (CPU time)."""
    return replace(domain, cpu_time=0.0)


def still_lv(lv: LogicalVolume) -> LogicalVolume:
    """A logical volume without what a running guest's writes move by themselves."""
    return replace(lv, digest="", cow_used=0)


def still_image(image: ImageFile) -> ImageFile:
    return replace(image, digest="")


def comparable(state: HostState) -> tuple[object, ...]:
    """Everything a snapshot shows that stands still while no one changes the host."""
    host = replace(state.host, now=0.0)
    return (
        host,
        tuple(steady(d) for d in state.domains),
        tuple(replace(p, digest="") for p in state.partitions),
        state.volume_groups,
        tuple(still_lv(lv) for lv in state.logical_volumes),
        tuple(still_image(i) for i in state.images),
        state.nfs_exports,
    )


def lv_named(state: HostState, vg: str, name: str) -> LogicalVolume | None:
    return next((lv for lv in state.logical_volumes if lv.vg == vg and lv.name == name), None)


def image_at(state: HostState, path: str) -> ImageFile | None:
    return next((i for i in state.images if i.path == path), None)
