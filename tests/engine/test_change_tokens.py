"""The change token read straight from the host file (the quick path of a cached plan) is the
driver's own, in every state a plan can meet; where only the driver can tell, it gives way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers import domain
from xenctl.engine.sim import SimHost, VirtualClock, open_host
from xenctl.engine.sim.store import SCHEMA_VERSION
from xenctl.engine.sim.tokens import quick_token, quick_unchanged_since

MIB = 1024 * 1024


def _open(tmp_path: Path, clock: VirtualClock, sxp: str | None = None) -> tuple[SimHost, str, str]:
    """A host whose xen root (and its xend-config.sxp, if given) it runs by: host, home, root."""
    root = tmp_path / "xen"
    root.mkdir(exist_ok=True)
    if sxp is not None:
        (root / "xend-config.sxp").write_text(sxp)
    home = str(tmp_path / "home")
    return open_host(home, clock=clock, xen_root=str(root)), home, str(root)


def test_the_quick_token_is_the_drivers_as_guests_boot_run_and_pause(tmp_path: Path, clock: VirtualClock) -> None:
    host, home, root = _open(tmp_path, clock)
    try:
        seen = [host.change_token()]
        assert quick_token(home, root, clock.now()) == seen[-1]
        host.create_domain(domain("web1", 64))  # booting: the token carries when it is up
        seen.append(host.change_token())
        assert quick_token(home, root, clock.now()) == seen[-1]
        clock.advance(30)  # up by the clock alone: the token moves without a write
        seen.append(host.change_token())
        assert quick_token(home, root, clock.now()) == seen[-1]
        host.pause_domain("web1")
        seen.append(host.change_token())
        assert quick_token(home, root, clock.now()) == seen[-1]
        assert len(set(seen)) == len(seen) and None not in seen
    finally:
        host.close()


def test_the_quick_journal_says_what_the_driver_says(tmp_path: Path, clock: VirtualClock) -> None:
    host, home, root = _open(tmp_path, clock)
    try:
        host.create_domain(domain("web1", 64))
        clock.advance(30)
        token = host.change_token()
        assert token is not None
        host.pause_domain("web1")
        host.unpause_domain("web1")  # back as a plan saw it
        assert quick_unchanged_since(home, root, token, clock.now()) is True
        assert host.unchanged_since(token)
        host.set_memory("web1", 48)  # a real change
        assert quick_unchanged_since(home, root, token, clock.now()) is False
        assert not host.unchanged_since(token)
    finally:
        host.close()


def test_an_edited_xend_config_is_another_token_on_both_paths(tmp_path: Path, clock: VirtualClock) -> None:
    host, home, root = _open(tmp_path, clock, "(dom0-min-mem 196)\n")
    before = host.change_token()
    host.close()
    assert quick_token(home, root, clock.now()) == before
    (Path(root) / "xend-config.sxp").write_text("(dom0-min-mem 1024)\n")
    after = quick_token(home, root, clock.now())
    assert after is not None and after != before
    host, _home, _root = _open(tmp_path, clock)
    try:
        assert host.change_token() == after
        assert not host.unchanged_since(before) and quick_unchanged_since(home, root, before, clock.now()) is False
    finally:
        host.close()


def test_the_quick_token_gives_way_where_only_the_driver_can_tell(tmp_path: Path, clock: VirtualClock) -> None:
    root, home = tmp_path / "xen", tmp_path / "home"
    root.mkdir()

    def quick() -> str | None:
        return quick_token(str(home), str(root), clock.now())

    assert quick() is None  # no host: the driver makes one
    assert not home.exists()
    _open(tmp_path, clock)[0].close()
    db = sqlite3.connect(home / "host.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")  # a file of the last schema: the driver upgrades it
    db.commit()
    db.close()
    assert quick() is None
    host, _home, _root = _open(tmp_path, clock)
    try:
        token = host.change_token()
        assert token is not None and quick() == token
        host.create_domain(domain("web1", 64))
        clock.advance(30)
        host.shutdown_domain("web1")
        clock.advance(60)  # its exit fell due: the driver carries it out first, writing
        assert quick() is None
        assert host.change_token() == quick()  # carried out: the same again
        host.create_volume_group("vg", ("/dev/sda10",))
        host.create_logical_volume("vg", "base", 256 * MIB)
        host.create_snapshot("vg", "clone", "base", 64 * MIB)  # how full it gets is the driver's to say
        assert quick() is None
        assert host.change_token() is not None
    finally:
        host.close()


def test_a_host_file_of_the_last_schema_gets_the_token_indexes(tmp_path: Path, clock: VirtualClock) -> None:
    host, home, _root = _open(tmp_path, clock)
    host.close()
    db = sqlite3.connect(Path(home) / "host.db")
    for index in ("domains_up", "domains_exit_any", "lvs_snapshots"):
        db.execute(f"DROP INDEX {index}")
    db.execute("PRAGMA user_version = 5")
    db.commit()
    db.close()
    open_host(home, clock=clock).close()
    db = sqlite3.connect(Path(home) / "host.db")
    try:
        plan = db.execute("EXPLAIN QUERY PLAN SELECT MIN(up_at) FROM domains WHERE up_at > 0").fetchall()
        assert "domains_up" in str(plan)  # one step down an index, not a pass over every guest
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()
