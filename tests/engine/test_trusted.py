"""Values built from the host file's rows (``engine.trusted``, ``records.config_from_dict``) are
the very values the dataclasses' own constructors make: equal, hashed alike, printed alike."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, LogicalVolume, OnEvent, Owner, Vif
from xenctl.engine.sim.records import config_from_dict, config_to_dict
from xenctl.engine.trusted import maker


def test_a_value_made_positionally_is_the_value_the_constructor_makes() -> None:
    args = ("vg0", "web1-root", 4 << 20, "ext3", "d1", None, 0, 0, False, Owner("xenctl", "a.yaml"), ("web1",), True)
    made, built = maker(LogicalVolume)(*args), LogicalVolume(*args)
    assert type(made) is LogicalVolume
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert made.path == "/dev/vg0/web1-root"
    with pytest.raises(AttributeError):
        made.size = 1  # type: ignore[misc]  (still frozen)


def test_a_maker_with_fixed_fields_takes_the_others_in_order() -> None:
    plain = maker(LogicalVolume, origin=None, cow_size=0, cow_used=0, invalid=False)
    made = plain("vg0", "web1-root", 4 << 20, None, "d1", None, ("web1",), False)
    built = LogicalVolume("vg0", "web1-root", 4 << 20, None, "d1", holders=("web1",), written=False)
    assert type(made) is LogicalVolume
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    with pytest.raises(TypeError, match="no field"):
        maker(LogicalVolume, snapshot=None)


def test_only_dataclasses_with_slots_get_a_maker() -> None:
    @dataclass(frozen=True)
    class Plain:
        x: int

    with pytest.raises(TypeError, match="not a dataclass with slots"):
        maker(Plain)


@pytest.mark.parametrize(
    "config",
    [
        DomainConfig(name="web1"),
        DomainConfig(name="web2", memory=256, vcpus=2, vifs=(Vif(), Vif("xenbr1", "00:16:3e:00:00:02")), uuid="u-2"),
        DomainConfig(
            name="win1",
            memory=512,
            maxmem=1024,
            vcpus=2,
            maxvcpus=4,
            kernel="/usr/lib/xen/boot/hvmloader",
            builder="hvm",
            disks=(DomainDisk("/dev/vg/win1", "hda"), DomainDisk("", "hdc", DiskMode.READ, "phy", cdrom=True)),
            vifs=(Vif(), Vif("xenbr1", "00:16:3e:00:00:01", "ioemu", "e1000")),
            on_poweroff=OnEvent.PRESERVE,
            on_crash=OnEvent.COREDUMP_RESTART,
            uuid="6b1f7e4a-0000-4000-8000-000000000001",
            shadow_memory=8,
            hvm=HvmConfig(boot="dc", vnc=True, vncdisplay=3),
        ),
    ],
)
def test_a_config_read_back_from_the_host_file_is_the_config_written(config: DomainConfig) -> None:
    assert config_from_dict(config_to_dict(config)) == config
    without_disks = config_to_dict(config, with_disks=False)
    plain = tuple(DomainDisk(d.target, d.vdev, d.mode, d.backend) for d in config.disks)
    assert config_from_dict(without_disks, plain) == config  # the cdrom marks come back from the config


def test_a_null_field_in_a_record_takes_its_default() -> None:
    record = {"name": "web1", "memory": None, "builder": None, "kernel": "/boot/vmlinuz", "vifs": [{"bridge": None}]}
    expected = DomainConfig(name="web1", kernel="/boot/vmlinuz", vifs=(Vif(),))
    assert config_from_dict(record) == config_from_dict(record, ()) == expected
    assert repr(config_from_dict(record)) == repr(expected)
