"""The host profile: the built-in default, profile files, and errors that name the file and the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from xenctl.engine.sim import SimHost
from xenctl.engine.sim.profile import HostProfile, default_profile, load_profile, profile_from_dict
from xenctl.errors import ProfileError, XenctlError
from xenctl.units import GIB, MIB


def write(tmp_path: Path, text: str | bytes, name: str = "host.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- the built-in default ---------------------------------------------------------------------------


def test_the_default_profile_is_the_documented_server() -> None:
    profile = default_profile()
    assert (profile.memory, profile.cpus) == (16 * 1024, 8)
    assert (profile.dom0_memory, profile.dom0_min_mem, profile.ballooning) == (1024, 196, True)
    assert profile.max_loop == 8
    assert profile.storage_root == "/var/lib/xen/images"
    assert profile.guest_write_rate == MIB
    assert profile.nfs_servers == (("2.3.4.5", ("/path/to/root", "/export/roots/debian")),)


def test_the_default_profile_has_the_documented_partitions() -> None:
    parts = {p.name: p for p in default_profile().partitions}
    assert (parts["hda1"].mount, parts["hda1"].mode) == ("/", "rw")
    assert (parts["hda2"].mount, parts["hda2"].mode) == ("/var", "rw")
    assert parts["sda5"].mode == "ro"
    assert parts["hda3"].mount is None
    assert parts["sda10"].size == 40 * GIB
    assert parts["sda12"].size == 20 * GIB
    assert {"hda3", "hda4", "sda1", "sda2", "sda3", "sda6", "sda7", "sda8", "sda9", "sda11"} <= set(parts)


def test_a_default_host_shows_the_profile_in_its_snapshot(host: SimHost) -> None:
    state = host.snapshot()
    info = state.host
    assert (info.total_memory, info.pcpus, info.dom0_memory, info.dom0_min_mem) == (16384, 8, 1024, 196)
    assert (info.max_loop, info.loops_used, info.storage_root) == (8, 0, "/var/lib/xen/images")
    mounted = {p.path: (p.mountpoint, p.mounted) for p in state.partitions if p.mounted}
    assert mounted == {"/dev/hda1": ("/", "rw"), "/dev/hda2": ("/var", "rw"), "/dev/sda5": ("/srv/xen-usr", "ro")}
    sizes = {p.path: p.size for p in state.partitions}
    assert (sizes["/dev/hda3"], sizes["/dev/sda10"]) == (20 * GIB, 40 * GIB)
    assert "2.3.4.5:/path/to/root" in {e.address for e in state.nfs_exports}


# -- profile files ------------------------------------------------------------------------------------


OVERRIDES = """\
name: lab2
memory: 8G
max_loop: 16
dom0:
  memory: 512M
durations:
  boot: 20s
"""


def test_a_profile_file_sets_the_fields_it_names(tmp_path: Path) -> None:
    profile = load_profile(str(write(tmp_path, OVERRIDES)))
    assert (profile.name, profile.memory, profile.max_loop, profile.dom0_memory) == ("lab2", 8192, 16, 512)
    assert profile.durations.boot == 20.0
    assert (profile.cpus, profile.dom0_min_mem, profile.durations.shutdown) == (8, 196, 4.0)


def test_a_profile_file_keeps_the_default_for_every_field_it_does_not_name(tmp_path: Path) -> None:
    """profile.py: "Every field is optional; a missing one takes the default's value"."""
    profile = load_profile(str(write(tmp_path, OVERRIDES)))
    default = default_profile()
    expected = replace(
        default,
        name="lab2",
        memory=8192,
        max_loop=16,
        dom0_memory=512,
        durations=replace(default.durations, boot=20.0),
    )
    assert profile == expected


def test_a_profile_file_can_describe_its_own_disks(tmp_path: Path) -> None:
    text = """\
disks:
  xvda:
    size: 10G
    partitions:
      xvda1: {size: 2G, filesystem: ext3, mount: /, mode: rw}
      xvda2: {size: 8G}
"""
    profile = load_profile(str(write(tmp_path, text)))
    assert [(p.name, p.size, p.mode) for p in profile.partitions] == [
        ("xvda1", 2 * GIB, "rw"),
        ("xvda2", 8 * GIB, None),
    ]


BAD_FIELDS = [
    pytest.param("memory: sixteen gigs\n", "memory", "is not a size", id="size-not-a-size"),
    pytest.param("colour: blue\n", "colour", "unknown field", id="unknown-field"),
    pytest.param("dom0:\n  mem: 1G\n", "dom0.mem", "unknown field", id="unknown-nested-field"),
    pytest.param("dom0: 1G\n", "dom0", "expected a mapping", id="section-not-a-mapping"),
    pytest.param("memory: 4G\ndom0:\n  memory: 8G\n", "dom0.memory", "between 64M and", id="dom0-above-host"),
    pytest.param("dom0:\n  memory: 1G\n  min_mem: 2G\n", "dom0.min_mem", "more than", id="min-mem-above-dom0"),
    pytest.param("cpus: eight\n", "cpus", "not a whole number", id="cpus-not-a-number"),
    pytest.param("max_loop: 300\n", "max_loop", "out of range", id="max-loop-out-of-range"),
    pytest.param("durations:\n  boot: soon\n", "durations.boot", "not a duration", id="bad-duration"),
    pytest.param(
        "disks:\n  hdb:\n    size: 10G\n    partitions:\n      hdb1: {size: 8G}\n      hdb2: {size: 4G}\n",
        "disks.hdb.partitions",
        "more than the disk",
        id="partitions-larger-than-disk",
    ),
    pytest.param(
        "disks:\n  hdb:\n    size: 10G\n    partitions:\n      sda1: {size: 1G}\n",
        "disks.hdb.partitions.sda1",
        "not a partition of hdb",
        id="partition-of-another-disk",
    ),
    pytest.param(
        "disks:\n  hdb:\n    size: 10G\n    partitions:\n      hdb1: {size: 1G, mode: ro}\n",
        "disks.hdb.partitions.hdb1.mode",
        "mount point",
        id="mode-without-mount",
    ),
    pytest.param("nfs_servers:\n  nfs1: /export\n", "nfs_servers.nfs1", "absolute paths", id="nfs-not-a-list"),
    pytest.param("storage_root: images\n", "storage_root", "absolute path", id="relative-storage-root"),
]


@pytest.mark.parametrize(("text", "field", "reason"), BAD_FIELDS)
def test_a_bad_field_is_a_profile_error_naming_the_file_and_the_field(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    error = caught.value
    assert error.file == str(path)
    assert error.path == field
    assert str(error).startswith(f"{path}: {field}: ")
    assert reason in str(error)


def test_a_profile_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "- hda\n- sda\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert str(caught.value) == (
        f"{path}: not a host profile (a YAML mapping of host settings, such as 'memory: 16G'); found a list"
    )


def test_invalid_yaml_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = write(tmp_path, "name: xen1\nmemory: 16G\n  cpus: 8\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert str(caught.value).startswith(f"{path}:3:")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, b"name: \xff\xfexen\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert str(path) in str(caught.value)
    assert "UTF-8" in str(caught.value)


def test_a_missing_profile_file_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert str(caught.value).startswith(f"{path}: cannot read the profile")
    assert isinstance(caught.value, XenctlError)


def test_profile_from_dict_names_the_file_it_is_given() -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_dict({"runlevel": 9}, file="lab.yaml")
    assert str(caught.value) == "lab.yaml: runlevel: 9 is out of range (0 to 6)"


# -- round trips ----------------------------------------------------------------------------------------


CUSTOM = {
    "name": "lab",
    "memory": "4G",
    "xen_reserved": "32M",
    "cpus": 2,
    "dom0": {"memory": None, "min_mem": 0, "ballooning": False, "vcpus": 1},
    "max_loop": 64,
    "bridges": ["xenbr0", "xenbr9"],
    "disks": {"xvda": {"size": "1536M", "partitions": {"xvda1": {"size": "512M", "mount": "/srv", "mode": "ro"}}}},
    "nfs_servers": {"10.0.0.1": ["/a", "/b"]},
    "storage_root": "/srv/xen/",
    "save_dir": "/var/lib/xen/save",
    "runlevel": 5,
    "guest_write_rate": "2048k",
    "durations": {"boot": "1.5s", "lv_create": "250ms", "save": "2m"},
}


@pytest.mark.parametrize(
    "profile",
    [default_profile(), profile_from_dict(CUSTOM, file="custom.yaml"), HostProfile()],
    ids=["default", "custom", "bare"],
)
def test_a_profile_read_back_from_its_dict_is_the_same_profile(profile: HostProfile) -> None:
    assert profile_from_dict(profile.to_dict(), file="roundtrip.yaml") == profile


def test_a_profile_written_as_yaml_and_loaded_is_the_same_profile(tmp_path: Path) -> None:
    profile = profile_from_dict(CUSTOM, file="custom.yaml")
    path = write(tmp_path, yaml.safe_dump(profile.to_dict()))
    assert load_profile(str(path)) == profile


def test_a_host_file_of_the_first_schema_is_brought_up_to_date_when_opened(tmp_path: Path) -> None:
    import sqlite3

    from xenctl.engine.api import Fault
    from xenctl.engine.sim import VirtualClock, open_host

    home = str(tmp_path / "old")
    with open_host(home, clock=VirtualClock()) as host:
        host.create_volume_group("vg", ("/dev/sda10",))
        host.create_logical_volume("vg", "data", 64 * 1024 * 1024)
    with sqlite3.connect(tmp_path / "old" / "host.db") as db:  # as the first xenctl wrote it
        for table, column in (
            ("lvs", "written"),
            ("images", "written"),
            ("faults", "skip"),
            ("faults", "rate"),
            ("faults", "seen"),
        ):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("DELETE FROM meta WHERE key IN ('host_id', 'generation')")
        triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'journal_%'")
        for (trigger,) in triggers.fetchall():
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP TABLE journal")
        db.execute("PRAGMA user_version=1")
    with open_host(home, clock=VirtualClock()) as host:
        (lv,) = host.snapshot().logical_volumes
        assert lv.written  # what an older xenctl made is taken as holding data
        assert host.change_token() is not None
        host.add_fault(Fault(op="create", skip=1))
        assert host.faults()[0].skip == 1
