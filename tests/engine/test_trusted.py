"""Values built from the host file's rows (``engine.trusted``, ``records.config_from_dict``) are
the very values the dataclasses' own constructors make: equal, hashed alike, printed alike."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, HvmConfig, LogicalVolume, OnEvent, Owner, Vif
from xenctl.engine.sim.records import (
    config_from_dict,
    config_to_dict,
    configs_from_records,
    record_dict,
    renamed_record,
    stored_record,
)
from xenctl.engine.trusted import copier, maker
from xenctl.errors import StoreError


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


Row = tuple[str, str, DomainConfig, tuple[DomainDisk, ...]]  # a guest's name, uuid, config, disks as read
TEMPLATE = DomainConfig(name="", memory=256, vcpus=2, kernel="/boot/vmlinuz", vifs=(Vif(),))


Stored = tuple[str, "str | None"]  # a row's record and its MACs


def stored(row: Row) -> Stored:
    """The record and MACs the domains table keeps of a row's config, as the driver writes them."""
    name, _uuid, config, _disks = row
    text, macs = stored_record(config)
    return (text if config.name == name else renamed_record(text, config.name)), macs


def read_by_record(rows: list[Row], records: list[Stored] | None = None) -> list[DomainConfig]:
    """The configs ``configs_from_records`` reads from the rows' records: each the one its own parse gives."""
    records = records or [stored(row) for row in rows]
    texts, macs = [r[0] for r in records], [r[1] for r in records]
    read = configs_from_records(texts, [r[0] for r in rows], [r[1] for r in rows], macs, [r[3] for r in rows])
    expected = [
        config_from_dict(record_dict(t, n, u, m), d) for (t, m), (n, u, _c, d) in zip(records, rows, strict=True)
    ]
    assert read == expected
    assert [hash(c) for c in read] == [hash(c) for c in expected]
    assert list(map(repr, read)) == list(map(repr, expected))
    return read


def mac(i: int) -> str:
    return f"00:16:3e:00:00:{i:02x}"


def test_a_stored_record_leaves_the_name_uuid_and_macs_to_the_row() -> None:
    """Guests made from one template keep one record; the row's name, uuid and MACs make each config whole."""
    one = replace(TEMPLATE, name="web1", uuid="u-1", vifs=(Vif(mac=mac(1)), Vif("xenbr1", mac(2), "ioemu", "e1000")))
    two = replace(TEMPLATE, name="web2", vifs=(Vif(mac=mac(3)), Vif("xenbr1", mac(4), "ioemu", "e1000")))
    (text, macs), (other, others) = stored_record(one), stored_record(two)
    assert text == other and "00:16:3e" not in text and json.loads(macs or "") == [mac(1), mac(2)] != others
    assert config_from_dict(record_dict(text, "web1", "u-1", macs), ()) == one
    renamed = renamed_record(text, "web1")  # the row took xend's migrating-web1
    assert config_from_dict(record_dict(renamed, "migrating-web1", "u-1", macs), ()) == one
    assert stored_record(replace(TEMPLATE, name="quiet", vifs=()))[1] is None  # no interface, no MACs


def test_configs_alike_but_for_name_uuid_and_macs_are_read_as_each_record_parses() -> None:
    """Records alike are parsed once; the ones that cannot be taken for another's (a name that is
    not the row's, a uuid or MACs of its own, removable drives) are parsed for each guest."""
    drive = (DomainDisk("/dev/vg/a", "sda1"), DomainDisk("", "hdc", DiskMode.READ, cdrom=True))
    unmarked = tuple(replace(d, cdrom=False) for d in drive)
    two_vifs = (Vif(), Vif("xenbr1", None, "ioemu", "e1000"))
    alike = [
        (
            f"web{i}",
            f"u-{i}",
            replace(
                TEMPLATE, name=f"web{i}", vifs=tuple(replace(v, mac=mac(2 * i + k)) for k, v in enumerate(two_vifs))
            ),
            (DomainDisk(f"/dev/vg/web{i}", "sda1"),),
        )
        for i in range(5)
    ]
    rows: list[Row] = [
        *alike,
        ("migrating-old", "u-r", replace(TEMPLATE, name="old"), ()),  # the record's name is not the row's
        ("migrating-old2", "u-r2", replace(TEMPLATE, name="old"), ()),  # the same record: parsed again
        ('q"uote\\d', "u-q", replace(TEMPLATE, name='q"uote\\d'), ()),  # a name the JSON escapes
        ("disc1", "u-d1", replace(TEMPLATE, name="disc1", disks=drive), unmarked),
        ("disc2", "u-d2", replace(TEMPLATE, name="disc2", disks=drive), unmarked),
        ("own", "u-row", replace(TEMPLATE, name="own"), ()),  # its record keeps a uuid of its own
        ("own2", "u-row2", replace(TEMPLATE, name="own2"), ()),
        ("kept", "u-k", replace(TEMPLATE, name="kept", vifs=(Vif(mac=mac(90)),)), ()),  # MACs in the record
        ("kept2", "u-k2", replace(TEMPLATE, name="kept2", vifs=(Vif(mac=mac(90)),)), ()),
        ("bare", "u-b", replace(TEMPLATE, name="bare", vifs=()), ()),  # no interface
        ("bare2", "u-b2", replace(TEMPLATE, name="bare2", vifs=()), ()),
    ]
    records = [stored(row) for row in rows]
    records[10] = records[11] = (json.dumps({"uuid": "u-kept", **json.loads(records[11][0])}), records[11][1])
    in_record = json.dumps({**json.loads(records[12][0]), "vifs": [{"mac": mac(91)}]})  # as schema 7 kept them
    records[12], records[13] = (in_record, json.dumps([mac(92)])), (in_record, None)
    read = read_by_record(rows, records)
    assert read[1] == replace(alike[1][2], uuid="u-1", disks=alike[1][3]) and read[4].vifs[1] == Vif(
        "xenbr1", mac(9), "ioemu", "e1000"
    )
    assert read[5].name == read[6].name == "old" and read[6].uuid == "u-r2"
    assert read[7].name == 'q"uote\\d' and read[9].disks == drive
    assert read[10].uuid == read[11].uuid == "u-kept" and read[11].name == "own2"
    assert (
        read[12].vifs == (Vif(mac=mac(92)),)
        and read[13].vifs == (Vif(mac=mac(91)),)
        and read[15] == replace(TEMPLATE, name="bare2", uuid="u-b2", vifs=())
    )


def test_records_all_different_are_read_as_each_record_parses() -> None:
    rows: list[Row] = [(f"odd{i}", f"u{i}", replace(TEMPLATE, name=f"odd{i}", memory=64 + i), ()) for i in range(70)]
    rows += [(f"late{i}", f"v{i}", replace(TEMPLATE, name=f"late{i}", memory=64), ()) for i in range(3)]
    read = read_by_record(rows)
    assert [c.name for c in read[-3:]] == ["late0", "late1", "late2"] and read[-1].memory == 64


def test_macs_stored_for_other_interfaces_than_the_record_has_are_refused() -> None:
    """A host file whose MACs do not match its records' interfaces is damaged: it says so."""
    text, macs = stored_record(replace(TEMPLATE, name="web1", vifs=(Vif(mac=mac(1)),)))
    two = json.dumps([mac(1), mac(2)])
    with pytest.raises(StoreError, match=r"^domain web1: 2 MACs stored for 1 interfaces$"):
        configs_from_records([text], ["web1"], ["u1"], [two], [()])  # the record parsed
    with pytest.raises(StoreError, match=r"^domain web2: 2 MACs stored for 1 interfaces$"):
        configs_from_records([text, text], ["web1", "web2"], ["u1", "u2"], [macs, two], [(), ()])  # a copy


@pytest.mark.parametrize(
    ("record", "macs", "said"),
    [
        ("{", None, "its record in the host file is not JSON"),
        ("[]", None, "its record in the host file is not a JSON dict"),
        ('{"vifs": [{}]}', '["a", ', "its list of MACs in the host file is not JSON"),
        ('{"vifs": [{}]}', '{"a": 1}', "its list of MACs in the host file is not a JSON list"),
    ],
)
def test_a_damaged_record_is_refused_with_its_guests_name(record: str, macs: str | None, said: str) -> None:
    good, good_macs = stored_record(replace(TEMPLATE, name="web1", vifs=(Vif(mac=mac(1)),)))
    names, uuids, disks = ["web1", "web2"], ["u1", "u2"], [(), ()]
    with pytest.raises(StoreError, match=f"^domain web2: {said}"):
        configs_from_records([good, record], names, uuids, [good_macs, macs], disks)
    with pytest.raises(StoreError, match=f"^domain web2: {said}"):
        record_dict(record, "web2", "u2", macs)


def test_a_copier_sets_the_fields_named_and_keeps_the_others() -> None:
    rename = copier(Vif, "mac")
    assert rename(Vif("xenbr1", "a", "ioemu", "e1000"), "b") == Vif("xenbr1", "b", "ioemu", "e1000")
    with pytest.raises(TypeError, match="no field"):
        copier(Vif, "name")
