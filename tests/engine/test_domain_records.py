"""The record a domain's row keeps of its config: what differs from the defaults, its name and
uuid left to the row's columns and its MACs to a column of their own, so that guests made from
one template keep one record."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import domain
from xenctl.engine.api import DiskMode, DomainDisk, Vif
from xenctl.engine.sim import SimHost, VirtualClock, open_host
from xenctl.engine.sim.store import SCHEMA_VERSION
from xenctl.units import GIB

BOOT = 8.0


def records(home: Path, column: str = "record") -> dict[str, str]:
    with sqlite3.connect(home / "host.db") as db:
        return dict(db.execute(f"SELECT name, {column} FROM domains"))


def saving(host: SimHost, monkeypatch: pytest.MonkeyPatch, name: str, path: Path) -> None:
    """Start ``xm save`` of ``name`` and return while it is under way (xend calls it migrating-<name>)."""
    with monkeypatch.context() as patch:
        patch.setattr(host, "_wait_until", lambda _done: None)
        host.save_domain(name, str(path))


def guests(host: SimHost, *names: str) -> None:
    """Guests made from one template, each on a volume of its own."""
    host.create_volume_group("vg", ("/dev/sda10",))
    for name in names:
        host.create_logical_volume("vg", name, GIB)
        host.create_domain(domain(name, 256, disks=[(f"/dev/vg/{name}", "sda1")], vifs=()))


def test_guests_of_one_template_keep_one_record(host: SimHost, home: Path) -> None:
    guests(host, "web1", "web2", "web3")
    kept = records(home)
    assert kept["web1"] == kept["web2"] == kept["web3"]
    assert "web1" not in kept["web1"] and "uuid" not in kept["web1"]
    assert [d.config.name for d in host.snapshot().domains[1:]] == ["web1", "web2", "web3"]
    assert len({d.config.uuid for d in host.snapshot().domains}) == 4


def test_a_guest_being_saved_keeps_its_configs_name(
    host: SimHost, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = domain("web1", 256, uuid="6b1f7e4a-0000-4000-8000-000000000001", vifs=())
    host.create_domain(config)
    host.create_domain(replace(config, name="web2", uuid=None))  # the same record, before the save
    clock.advance(BOOT)
    saving(host, monkeypatch, "web1", tmp_path / "web1.save")
    state = host.snapshot()
    assert [d.name for d in state.domains] == ["Domain-0", "migrating-web1", "web2"]
    assert state.domains[1].config == config and host.domain("migrating-web1").config == config
    assert state.domains[2].config.name == "web2"


def as_schema_7(home: Path) -> None:
    """Turn the host file in ``home`` into what schema 7 made: each record, in a column named
    ``config``, holds its guest's name first, its MACs in its interfaces and its uuid last; no
    column of MACs, nor triggers reading it."""
    with sqlite3.connect(home / "host.db") as db:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'domains'"
        triggers = db.execute(query).fetchall()
        for trigger, _sql in triggers:
            db.execute(f"DROP TRIGGER {trigger}")
        for name, uuid, text, macs in db.execute("SELECT name, uuid, record, macs FROM domains").fetchall():
            record = json.loads(text)
            for vif, mac in zip(record.get("vifs", ()), json.loads(macs or "[]"), strict=True):
                vif["mac"] = mac
            old = {"name": record.pop("name", name), **record, "uuid": uuid}
            db.execute("UPDATE domains SET record = ? WHERE name = ?", (json.dumps(old), name))
        db.execute("ALTER TABLE domains DROP COLUMN macs")
        db.execute("ALTER TABLE domains RENAME COLUMN record TO config")
        for _trigger, sql in triggers:
            old_sql = sql.replace(", NEW.macs", "").replace(", OLD.macs", "")
            db.execute(old_sql.replace("NEW.record", "NEW.config").replace("OLD.record", "OLD.config"))
        db.execute("PRAGMA user_version = 7")


def test_a_host_file_of_schema_7_is_read_as_it_was_and_upgraded(
    host: SimHost, home: Path, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema 7 kept each guest's name, uuid and MACs in its record; the upgrade takes out the
    name and uuid where they are the row's, moves the MACs to a column, and the host reads the same."""
    guests(host, "web1", "web2", "web3")
    drive = DomainDisk("", "hdc", DiskMode.READ, cdrom=True)
    host.create_domain(domain("desk", 512, disks=[("/dev/sda8", "hda"), drive], uuid="u-desk"))
    for name in ("net1", "net2"):  # interfaces: a MAC of each guest's own
        host.create_domain(domain(name, 64, vifs=(Vif(), Vif("xenbr1", None, "ioemu", "e1000"))))
    clock.advance(BOOT)
    saving(host, monkeypatch, "web3", tmp_path / "web3.save")
    before = host.snapshot()
    token = host.change_token()
    host.close()
    as_schema_7(home)
    old = records(home, "config")
    assert '"name": "web1"' in old["web1"] and '"mac": "00:16:3e' in old["net1"]
    with open_host(str(home), clock=clock) as upgraded:
        assert upgraded.snapshot() == before
        assert token is not None and upgraded.unchanged_since(token)  # records written anew: no guest changed
        upgraded.pause_domain("net1")
        assert upgraded.changed_domains(token) == {"net1"}
    kept = records(home)
    assert kept["web1"] == kept["web2"] and kept["net1"] == kept["net2"]
    assert '"name"' not in kept["web1"] and '"uuid"' not in kept["desk"] and "00:16:3e" not in kept["net1"]
    assert json.loads(kept["migrating-web3"])["name"] == "web3"  # not the row's: it stays
    with sqlite3.connect(home / "host.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        macs = dict(db.execute("SELECT name, macs FROM domains"))
        columns = {row[1] for row in db.execute("PRAGMA table_info(domains)")}
    assert "config" not in columns  # an older xenctl with the file open fails, not misreads a record
    net1 = next(d for d in before.domains if d.name == "net1")
    assert macs["web1"] is None and [v.mac for v in net1.config.vifs] == json.loads(macs["net1"])
