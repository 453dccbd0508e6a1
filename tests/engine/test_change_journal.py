"""The simulated host's change journal: which guests changed since a change token.

A plan made after the host changed reads only the guests the journal names; whenever it cannot
name all that changed (storage written, a boot that fell due by the clock, a journal trimmed past
the token, another host), it answers None and the plan reads the host whole. A host whose guests
and settings were written but are back as a plan saw them is unchanged: its last plan stands.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers import disk, domain
from xenctl.engine.sim import SimHost, VirtualClock, open_host, transaction

BOOT = 8.0


def running(host: SimHost, clock: VirtualClock, *names: str) -> None:
    for name in names:
        host.create_domain(domain(name, 64))
    clock.advance(BOOT * 2)


def test_the_guests_changed_since_a_token_are_named(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1", "web2", "db")
    token = host.change_token()
    assert token is not None
    assert host.changed_domains(token) == frozenset()
    host.set_memory("web1", 48)
    host.pause_domain("db")
    assert host.changed_domains(token) == {"web1", "db"}
    host.unpause_domain("db")
    assert host.changed_domains(token) == {"web1"}  # db is back as a plan saw it then
    assert not host.unchanged_since(token)
    later = host.change_token()
    assert later is not None and later != token
    assert host.changed_domains(later) == frozenset()


def test_a_guest_made_or_gone_is_named_when_it_holds_no_disk(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1")
    token = host.change_token()
    assert token is not None
    host.create_domain(domain("web2", 64))
    host.destroy_domain("web1")
    assert host.changed_domains(token) == {"web1", "web2"}


def test_storage_written_is_not_told_by_guest(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1")
    token = host.change_token()
    assert token is not None
    host.create_image("/var/lib/xen/images/a.img", 64 * 1024 * 1024)
    assert host.changed_domains(token) is None


def test_a_guest_that_takes_a_disk_changes_more_than_itself(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1")
    token = host.change_token()
    assert token is not None
    host.create_domain(domain("reader", 64, disks=[disk("/dev/hda4", "sda1", "r")]))
    assert host.changed_domains(token) is None  # its disk: which volumes are held, and written


def test_a_boot_that_fell_due_by_the_clock_is_not_told_by_guest(host: SimHost, clock: VirtualClock) -> None:
    host.create_domain(domain("web1", 64))  # booting: up after BOOT seconds, with no write then
    token = host.change_token()
    assert token is not None
    assert host.changed_domains(token) == frozenset()
    clock.advance(BOOT * 2)
    assert host.change_token() != token
    assert host.changed_domains(token) is None


def test_a_journal_trimmed_past_the_token_cannot_tell(
    host: SimHost, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    running(host, clock, "web1")
    token = host.change_token()
    assert token is not None
    monkeypatch.setattr(transaction, "JOURNAL_KEPT", 1)
    host.set_memory("web1", 48)
    host.set_memory("web1", 40)
    assert host.changed_domains(token) is None


def test_a_token_of_another_host_or_an_older_xenctl_cannot_tell(
    host: SimHost, clock: VirtualClock, tmp_path: Path
) -> None:
    running(host, clock, "web1")
    other = open_host(str(tmp_path / "other"), clock=clock)
    try:
        theirs = other.change_token()
    finally:
        other.close()
    assert theirs is not None
    assert host.changed_domains(theirs) is None
    mine = host.change_token()
    assert mine is not None
    host_id, generation, rest = mine.split(":", 2)
    assert host.changed_domains(f"{host_id}:{generation.partition('.')[0]}:{rest}") is None  # no journal mark
    assert host.changed_domains("not a token") is None


def test_a_host_file_of_the_last_schema_gets_its_journal(tmp_path: Path, clock: VirtualClock) -> None:
    home = tmp_path / "home"
    host = open_host(str(home), clock=clock)
    host.close()
    db = sqlite3.connect(home / "host.db")
    triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'journal_%'")
    drops = "".join(f"DROP TRIGGER {name};" for (name,) in triggers)
    db.executescript(f"DROP TABLE journal;{drops}PRAGMA user_version = 3;")
    db.close()
    host = open_host(str(home), clock=clock)
    try:
        token = host.change_token()
        assert token is not None
        host.create_domain(domain("web1", 64))
        assert host.changed_domains(token) is None  # the token from before the journal: cannot tell
        token = host.change_token()
        assert token is not None
        host.set_memory("web1", 48)
        assert host.changed_domains(token) == {"web1"}
    finally:
        host.close()


def test_a_journal_of_the_last_schema_learns_what_plans_saw(tmp_path: Path, clock: VirtualClock) -> None:
    """A host file whose journal rows name guests only (schema 4) is upgraded in place: the rows
    it has are not known to have come back, the rows written from then on are."""
    home = tmp_path / "home"
    host = open_host(str(home), clock=clock)
    running(host, clock, "web1")
    token = host.change_token()
    host.close()
    assert token is not None
    db = sqlite3.connect(home / "host.db")
    triggers = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    db.executescript(
        "".join(f"DROP TRIGGER {name};" for name in triggers if name.startswith(("journal_domain", "journal_meta")))
        + "ALTER TABLE journal DROP COLUMN was; ALTER TABLE journal DROP COLUMN became;"
        + "CREATE TRIGGER journal_domain_update AFTER UPDATE ON domains BEGIN "
        + "INSERT INTO journal(kind, name) VALUES ('domain', OLD.name); END;"
        + "PRAGMA user_version = 4;"
    )
    db.execute("UPDATE domains SET paused = 1 WHERE name = 'web1'")  # written by the older xenctl
    db.execute("UPDATE domains SET paused = 0 WHERE name = 'web1'")
    db.execute(  # and marked the change, as it did
        "UPDATE meta SET value = json_quote('older.' || (SELECT MAX(seq) FROM journal)) WHERE key = 'generation'"
    )
    db.commit()
    db.close()
    host = open_host(str(home), clock=clock)
    try:
        assert host.changed_domains(token) == {"web1"}  # its rows say nothing of what was seen
        assert not host.unchanged_since(token)
        later = host.change_token()
        assert later is not None
        host.pause_domain("web1")
        host.unpause_domain("web1")
        assert host.unchanged_since(later)
    finally:
        host.close()


def test_a_host_whose_guests_came_back_is_unchanged_since_the_token(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1", "db")
    token = host.change_token()
    assert token is not None and host.unchanged_since(token)
    host.pause_domain("db")
    clock.advance(30)  # paused a while: it ran less, which no plan looks at
    host.unpause_domain("db")
    host.set_memory("web1", 48)
    assert not host.unchanged_since(token)
    host.set_memory("web1", 64)
    assert host.changed_domains(token) == frozenset()
    assert host.unchanged_since(token)
    assert host.change_token() != token  # the token moved: only the journal tells it came back


def test_a_host_setting_changed_is_not_unchanged(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1")
    token = host.change_token()
    assert token is not None
    host.set_memory("Domain-0", host.domain("Domain-0").memory - 64)
    assert host.changed_domains(token) == frozenset()  # no guest: a plan reads the host's settings again
    assert not host.unchanged_since(token)


def test_a_guest_that_came_and_went_or_was_restarted(host: SimHost, clock: VirtualClock) -> None:
    running(host, clock, "web1")
    token = host.change_token()
    assert token is not None
    host.create_domain(domain("brief", 64))
    host.destroy_domain("brief")
    assert host.changed_domains(token) == frozenset()  # absent then, absent now
    host.shutdown_domain("web1", reboot=True)
    clock.advance(BOOT * 4)
    assert host.changed_domains(token) == {"web1"}  # booted again: it is up since another moment
    assert not host.unchanged_since(token)
