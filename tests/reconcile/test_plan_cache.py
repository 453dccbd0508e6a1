"""A plan of unchanged specs on an unchanged host comes from the cache, and only then."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.reconcile.support import WEBFARM, connect, converge, ok, xenctl
from xenctl.engine.api import DomainConfig
from xenctl.engine.sim import VirtualClock, init_host, open_host
from xenctl.engine.sim.profile import default_profile
from xenctl.spec import files


def cached_plans(home: Path) -> int:
    directory = home / "cache" / "plans"
    return len(list(directory.glob("*.json"))) if directory.exists() else 0


def test_an_unchanged_host_and_specs_give_the_cached_plan(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    first = ok(xenctl(home, "plan", str(WEBFARM)))
    assert cached_plans(home) == 1
    with connect(home) as host:
        token = host.change_token()
    again = ok(xenctl(home, "plan", str(WEBFARM)))
    assert again.stdout == first.stdout
    assert cached_plans(home) == 1
    with connect(home) as host:
        assert host.change_token() == token  # the cached plan read nothing that changes the host


def test_a_change_by_hand_is_planned_though_the_specs_did_not_change(tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    assert "No changes" in ok(xenctl(home, "plan", str(WEBFARM))).stdout
    ok(xenctl(home, "mem-set", "db", "1024"))
    result = xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM))
    assert result.returncode == 2
    assert "memory: 1G -> 2G" in result.stdout
    again = xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM))  # from the cache: the same exit code
    assert again.returncode == 2
    assert again.stdout == result.stdout


def test_an_edited_spec_or_a_new_autostart_entry_is_planned(tmp_path: Path, xen_root: Path) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    shutil.copytree(WEBFARM, specs)
    converge(home, [specs])
    assert "No changes" in ok(xenctl(home, "plan", str(specs))).stdout

    domains = specs / "domains.yaml"
    domains.write_text(domains.read_text().replace("memory: 2G", "memory: 3G", 1))
    assert "memory: 2G -> 3G" in ok(xenctl(home, "plan", str(specs))).stdout

    domains.write_text(domains.read_text().replace("memory: 3G", "memory: 2G", 1))
    assert "No changes" in ok(xenctl(home, "plan", str(specs))).stdout
    (xen_root / "auto" / "db").write_text("# edited by hand\n" + (xen_root / "auto" / "db").read_text())
    assert "autostart.db" in ok(xenctl(home, "plan", str(specs))).stdout


def test_the_change_token_moves_with_every_operation_and_when_a_boot_falls_due(tmp_path: Path) -> None:
    clock = VirtualClock()
    with open_host(str(tmp_path / "home"), clock=clock) as host:
        quiet = host.change_token()
        assert host.change_token() == quiet
        clock.advance(60)
        assert host.change_token() == quiet  # nothing due: time alone changes nothing a plan reads

        host.create_domain(DomainConfig(name="web1", kernel="/boot/vmlinuz-2.6.18-xen"))
        booting = host.change_token()
        assert booting != quiet
        clock.advance(1)
        assert host.change_token() == booting
        clock.advance(60)  # the boot is done: the domain is now running, with nothing done to it
        assert host.change_token() != booting


def test_a_host_made_anew_has_another_token(tmp_path: Path) -> None:
    clock = VirtualClock()
    home = str(tmp_path / "home")
    with open_host(home, clock=clock) as host:
        before = host.change_token()
    init_host(home, default_profile(), clock=clock, force=True).close()
    with open_host(home, clock=clock) as host:
        assert host.change_token() != before


# -- what the plan cache reads of the spec files ------------------------------------------------


class Reads:
    """The spec files ``xenctl.spec.files`` opens, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str, *args: object, **kwargs: object) -> object:
        self.names.append(os.path.basename(name))
        return open(name, *args, **kwargs)  # type: ignore[call-overload]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    """The files' reads counted, and a file taken as steady at once (not a second after it was
    written, which a test would have to wait for)."""
    seen = Reads()
    monkeypatch.setattr(files, "open", seen, raising=False)
    monkeypatch.setattr(files, "STEADY_NS", 10_000_000)  # written at least 10 ms before it was read
    monkeypatch.setattr(files, "filesystem_types", lambda: {os.stat("/").st_dev: "ext4", tmp_device(): "ext4"})
    return seen


def tmp_device() -> int:
    return os.stat(tempfile.gettempdir()).st_dev


def steady_specs(tmp_path: Path) -> tuple[Path, Path]:
    home, specs = tmp_path / "home", tmp_path / "specs"
    shutil.copytree(WEBFARM, specs)
    converge(home, [specs])
    time.sleep(0.02)
    return home, specs


def test_a_cached_plan_reads_no_spec_file_unchanged_since_the_last_plan(tmp_path: Path, reads: Reads) -> None:
    home, specs = steady_specs(tmp_path)
    first = ok(xenctl(home, "plan", str(specs)))
    assert sorted(set(reads.names)) == sorted(p.name for p in specs.glob("*.yaml"))
    reads.names.clear()
    again = ok(xenctl(home, "plan", str(specs)))
    assert again.stdout == first.stdout and "No changes" in again.stdout
    assert reads.names == []


def test_an_edit_that_keeps_the_files_size_and_time_is_planned(tmp_path: Path, reads: Reads) -> None:
    home, specs = steady_specs(tmp_path)
    assert "No changes" in ok(xenctl(home, "plan", str(specs))).stdout
    domains = specs / "domains.yaml"
    before = domains.stat()
    time.sleep(0.02)  # a later tick of the filesystem's clock
    domains.write_text(domains.read_text().replace("memory: 2G", "memory: 3G", 1))  # the same size
    os.utime(domains, ns=(before.st_atime_ns, before.st_mtime_ns))  # and its time set back
    assert domains.stat().st_size == before.st_size and domains.stat().st_mtime_ns == before.st_mtime_ns
    reads.names.clear()
    assert "memory: 2G -> 3G" in ok(xenctl(home, "plan", str(specs))).stdout
    assert reads.names.count("domains.yaml") >= 1 and len(set(reads.names)) == 1  # the others were not read


def test_a_file_read_just_after_it_was_written_is_read_again(
    tmp_path: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "STEADY_NS", 10**12)  # none steady when read: each read could have raced a write
    home, specs = steady_specs(tmp_path)
    ok(xenctl(home, "plan", str(specs)))
    reads.names.clear()
    ok(xenctl(home, "plan", str(specs)))
    assert sorted(set(reads.names)) == sorted(p.name for p in specs.glob("*.yaml"))


def test_files_on_a_network_filesystem_are_read_every_time(
    tmp_path: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "filesystem_types", lambda: {tmp_device(): "nfs4"})
    home, specs = steady_specs(tmp_path)
    ok(xenctl(home, "plan", str(specs)))
    reads.names.clear()
    assert "No changes" in ok(xenctl(home, "plan", str(specs))).stdout
    assert sorted(set(reads.names)) == sorted(p.name for p in specs.glob("*.yaml"))


def test_a_damaged_record_of_the_files_is_a_miss(tmp_path: Path, reads: Reads) -> None:
    home, specs = steady_specs(tmp_path)
    first = ok(xenctl(home, "plan", str(specs))).stdout
    (record,) = (home / "cache" / "plans").glob("*.stamps")
    kept = json.loads(record.read_text())
    name = str(specs / "domains.yaml")
    assert name in kept  # what the damage below is done to
    wrongs: list[object] = [
        [*kept[name][:5], str(kept[name][5]), *kept[name][6:]],  # when it was read, as text
        [*kept[name][:6], 0, kept[name][7]],  # its digest, a number
        [*kept[name][:7], 1],  # its hosts: mark, a number
        [*kept[name][:5], True, *kept[name][6:]],  # a truth for a time
        kept[name][:7],  # a part short
        "stamp",
    ]
    damages = [json.dumps({**kept, name: wrong}) for wrong in wrongs]
    damages += ["{not json", "[]", "[" * 100_000]
    for damage in damages:
        record.write_text(damage)
        reads.names.clear()
        assert ok(xenctl(home, "plan", str(specs))).stdout == first
        assert "domains.yaml" in reads.names  # read again


def test_filesystem_types_come_by_device_from_the_mount_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "mountinfo"
    table.write_bytes(
        b"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        b"30 27 0:52 / /srv/my\\040specs rw shared:5 - nfs4 server:/x rw,vers=4.2\n"
        b"31 27 0:53 /x.yaml /specs/x.yaml rw master:1 - fuse.sshfs me@there: rw\n"
        b"damaged line\n"
    )
    real_open = open

    def table_here(name: str, *args: object, **kwargs: object) -> object:
        return real_open(table if name == "/proc/self/mountinfo" else name, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(files, "open", table_here, raising=False)
    assert files.filesystem_types() == {
        os.makedev(254, 0): "ext4",
        os.makedev(0, 52): "nfs4",
        os.makedev(0, 53): "fuse.sshfs",
    }
