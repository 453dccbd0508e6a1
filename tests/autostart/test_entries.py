"""Reading the auto directory: usable entries, broken ones with a reason, editors' files passed over;
writing and removing managed entries whole, and never someone else's."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from tests.helpers import disk, domain
from xenctl.engine.api import OnEvent, Vif
from xenctl.xmconfig.auto import AutoDir, Broken, Entry, EntryError, Ordering, render_entry

KERNEL = "/boot/vmlinuz-2.6.18-xen"
WEB = f'name = "web"\nmemory = 256\nkernel = "{KERNEL}"\n'
MANAGED = "# Managed by xenctl from specs/web.yaml: 'xenctl apply' rewrites or removes this file.\n"


def auto_of(xen_root: Path) -> Path:
    path = xen_root / "auto"
    path.mkdir(parents=True, exist_ok=True)
    return path


def put(xen_root: Path, name: str, text: str) -> Path:
    path = auto_of(xen_root) / name
    path.write_text(text)
    return path


def read(xen_root: Path, **options: bool) -> tuple[dict[str, Entry], dict[str, Broken]]:
    entries, broken = AutoDir(str(xen_root), **options).read()
    return {e.file: e for e in entries}, {b.file: b for b in broken}


# -- reading --------------------------------------------------------------------------------


def test_a_hand_placed_config_is_an_entry_of_its_domain_with_the_default_ordering(xen_root: Path) -> None:
    put(xen_root, "10-web", WEB)
    entries, broken = read(xen_root)
    assert not broken
    entry = entries["10-web"]
    assert entry.domain == "web"  # the config's name, not the file's
    assert entry.config.memory == 256 and entry.config.kernel == KERNEL
    assert entry.path == str(xen_root / "auto" / "10-web")
    assert not entry.managed and not entry.has_metadata and entry.source == ""
    assert entry.ordering == Ordering()
    assert (entry.ordering.stop, entry.ordering.stop_timeout, entry.ordering.on_timeout) == ("shutdown", 300, "destroy")
    assert not entry.ordering.ordered


def test_a_config_without_a_name_creates_the_domain_named_after_its_file(xen_root: Path) -> None:
    put(xen_root, "mail", f'memory = 128\nkernel = "{KERNEL}"\n')
    entries, _ = read(xen_root)
    assert entries["mail"].domain == "mail"  # as xm create names it


def test_entries_come_in_file_name_order(xen_root: Path) -> None:
    for name in ("web", "db", "10-nfs", "mail"):
        put(xen_root, name, f'memory = 64\nkernel = "{KERNEL}"\n')
    entries, _ = AutoDir(str(xen_root)).read()
    assert [e.file for e in entries] == ["10-nfs", "db", "mail", "web"]


def test_no_auto_directory_means_no_entries(xen_root: Path) -> None:
    assert AutoDir(str(xen_root)).read() == ((), ())


def test_the_managed_header_marks_an_entry_as_xenctl_s_and_names_its_spec(xen_root: Path) -> None:
    put(xen_root, "web", MANAGED + WEB)
    entries, _ = read(xen_root)
    assert entries["web"].managed
    assert entries["web"].source == "specs/web.yaml"


def test_the_managed_mark_counts_only_in_the_header_before_the_settings(xen_root: Path) -> None:
    put(xen_root, "web", WEB + MANAGED)
    entries, _ = read(xen_root)
    assert not entries["web"].managed


def test_the_metadata_line_orders_a_hand_placed_entry(xen_root: Path) -> None:
    meta = (
        '# xenctl-autostart: {"order": 20, "after": ["db", "nfs"], "up": 5, "stop": "save", '
        '"stop_timeout": 90, "on_timeout": "leave"}\n'
    )
    put(xen_root, "web", meta + WEB)
    entries, broken = read(xen_root)
    assert not broken
    entry = entries["web"]
    assert entry.has_metadata and not entry.managed
    assert entry.ordering == Ordering(20, ("db", "nfs"), 5.0, "save", 90.0, "leave")
    assert entry.ordering.ordered
    assert entry.config.memory == 256  # the comment line is no setting


def test_metadata_with_only_some_fields_takes_the_defaults_for_the_rest(xen_root: Path) -> None:
    put(xen_root, "web", '# xenctl-autostart: {"after": ["db"]}\n' + WEB)
    entries, _ = read(xen_root)
    assert entries["web"].ordering == Ordering(after=("db",))


def test_a_symlink_inside_the_xen_root_is_followed(xen_root: Path) -> None:
    auto = auto_of(xen_root)
    (xen_root / "web.cfg").write_text(WEB)
    (auto / "web").symlink_to("../web.cfg")
    entries, broken = read(xen_root)
    assert not broken
    assert entries["web"].domain == "web" and entries["web"].config.memory == 256
    assert entries["web"].path == str(auto / "web")  # the link's own path, as the entry's


def test_a_symlink_to_nothing_is_broken_and_says_where_it_points(xen_root: Path) -> None:
    (auto_of(xen_root) / "gone").symlink_to("../gone.cfg")
    put(xen_root, "web", WEB)
    entries, broken = read(xen_root)
    assert "does not exist" in broken["gone"].reason and "../gone.cfg" in broken["gone"].reason
    assert list(entries) == ["web"]  # the others are still there to boot


def test_a_symlink_out_of_the_xen_root_is_broken_unless_outside_links_are_allowed(
    xen_root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "someone" / "vm.cfg"
    elsewhere.parent.mkdir()
    elsewhere.write_text(WEB)
    (auto_of(xen_root) / "web").symlink_to(elsewhere)
    entries, broken = read(xen_root)
    assert not entries
    assert "outside" in broken["web"].reason and "--allow-outside-links" in broken["web"].reason
    entries, broken = read(xen_root, outside_links=True)
    assert not broken
    assert entries["web"].config.memory == 256


def test_a_symlink_out_of_the_xen_root_and_back_in_is_followed(xen_root: Path, tmp_path: Path) -> None:
    (xen_root / "web.cfg").parent.mkdir(parents=True, exist_ok=True)
    (xen_root / "web.cfg").write_text(WEB)
    hop = tmp_path / "hop"
    hop.symlink_to(xen_root / "web.cfg")
    (auto_of(xen_root) / "web").symlink_to(hop)
    entries, broken = read(xen_root)
    assert not broken and entries["web"].domain == "web"  # where it ends up is what counts


def test_a_file_that_is_no_config_is_broken_with_the_reason_and_the_others_still_read(xen_root: Path) -> None:
    put(xen_root, "README", "Put the guests to start at boot here.\n")
    put(xen_root, "web", WEB)
    entries, broken = read(xen_root)
    assert list(entries) == ["web"]
    reason = broken["README"].reason
    assert "not a config file" in reason and str(xen_root / "auto" / "README") in reason
    assert not broken["README"].managed


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("{order: 10}", "not JSON"),
        ('["order", 10]', "expected a JSON object"),
        ('{"order": 10, "delay": 5}', "unknown field 'delay'"),
        ('{"order": -1}', "order -1"),
        ('{"order": 1.5}', "order 1.5"),
        ('{"after": "db"}', "after must be a list"),
        ('{"up": "5s"}', "up '5s'"),
        ('{"stop": "suspend"}', "stop 'suspend'"),
        ('{"stop_timeout": -1}', "stop_timeout -1"),
        ('{"on_timeout": "kill"}', "on_timeout 'kill'"),
    ],
)
def test_a_bad_metadata_line_breaks_the_entry_naming_the_line(xen_root: Path, line: str, said: str) -> None:
    put(xen_root, "web", f"# a comment\n# xenctl-autostart: {line}\n{WEB}")
    entries, broken = read(xen_root)
    assert not entries
    reason = broken["web"].reason
    assert said in reason
    assert f"{xen_root / 'auto' / 'web'}:2" in reason


def test_a_managed_entry_that_no_longer_reads_is_broken_and_still_known_as_managed(xen_root: Path) -> None:
    put(xen_root, "web", MANAGED + "# xenctl-autostart: {broken\n" + WEB)
    _, broken = read(xen_root)
    assert broken["web"].managed


@pytest.mark.parametrize("name", [".web", "web~", ".web.swp", "web.swp", "web.tmp", "4913", "#web#", "web.bak"])
def test_editors_passing_files_are_passed_over(xen_root: Path, name: str) -> None:
    put(xen_root, name, "not even a config ((\n")
    put(xen_root, "web", WEB)
    entries, broken = read(xen_root)
    assert list(entries) == ["web"]
    assert not broken


def test_a_fifo_in_the_auto_directory_is_broken_and_does_not_hang_the_read(xen_root: Path) -> None:
    os.mkfifo(auto_of(xen_root) / "pipe")  # nobody writes: a blocking open would wait for ever
    put(xen_root, "web", WEB)
    got: list[tuple[dict[str, Entry], dict[str, Broken]]] = []
    reader = threading.Thread(target=lambda: got.append(read(xen_root)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading the auto directory hangs on a FIFO"
    entries, broken = got[0]
    assert list(entries) == ["web"]
    assert broken["pipe"].reason == "not a regular file"


def test_a_directory_in_the_auto_directory_is_broken_and_the_others_still_read(xen_root: Path) -> None:
    (auto_of(xen_root) / "old").mkdir()
    put(xen_root, "web", WEB)
    entries, broken = read(xen_root)
    assert list(entries) == ["web"]
    assert broken["old"].reason == "a directory, not a config file"


def test_a_huge_file_is_broken_not_read_whole(xen_root: Path) -> None:
    put(xen_root, "big", "# " + "x" * (1 << 20) + "\n" + WEB)
    _, broken = read(xen_root)
    assert "larger than" in broken["big"].reason


# -- writing and removing -----------------------------------------------------------------


def managed_text(name: str = "web", memory: int = 256, ordering: Ordering | None = None) -> str:
    return render_entry(domain(name, memory), ordering or Ordering(order=10), "specs/web.yaml")


def leftovers(xen_root: Path) -> list[str]:
    return sorted(os.listdir(xen_root / "auto"))


def test_write_makes_the_auto_directory_and_a_managed_entry_readable_by_all(xen_root: Path) -> None:
    auto = AutoDir(str(xen_root))
    auto.write("web", managed_text())
    assert leftovers(xen_root) == ["web"]
    assert stat.S_IMODE((xen_root / "auto" / "web").stat().st_mode) == 0o644
    entries, _ = read(xen_root)
    assert entries["web"].managed and entries["web"].ordering == Ordering(order=10)


def test_write_replaces_a_managed_entry(xen_root: Path) -> None:
    auto = AutoDir(str(xen_root))
    auto.write("web", managed_text(memory=256))
    auto.write("web", managed_text(memory=512))
    entries, _ = read(xen_root)
    assert entries["web"].config.memory == 512
    assert leftovers(xen_root) == ["web"]


def test_write_rewrites_a_managed_entry_that_no_longer_reads(xen_root: Path) -> None:
    put(xen_root, "web", MANAGED + "# xenctl-autostart: {broken\n" + WEB)
    AutoDir(str(xen_root)).write("web", managed_text())
    entries, broken = read(xen_root)
    assert not broken and entries["web"].managed


def test_write_refuses_a_hand_placed_file_and_leaves_it_as_it_was(xen_root: Path) -> None:
    path = put(xen_root, "web", WEB)
    with pytest.raises(EntryError, match="placed by hand"):
        AutoDir(str(xen_root)).write("web", managed_text(memory=512))
    assert path.read_text() == WEB
    assert leftovers(xen_root) == ["web"]


def test_write_refuses_a_hand_placed_file_that_is_no_config(xen_root: Path) -> None:
    path = put(xen_root, "web", "not a config ((\n")
    with pytest.raises(EntryError, match="placed by hand"):
        AutoDir(str(xen_root)).write("web", managed_text())
    assert path.read_text() == "not a config ((\n"


def test_write_refuses_a_hand_placed_symlink_even_to_a_managed_file(xen_root: Path) -> None:
    (xen_root / "web.cfg").parent.mkdir(parents=True, exist_ok=True)
    (xen_root / "web.cfg").write_text(managed_text())
    link = auto_of(xen_root) / "web"
    link.symlink_to("../web.cfg")
    with pytest.raises(EntryError, match="symlink"):
        AutoDir(str(xen_root)).write("web", managed_text(memory=512))
    assert link.is_symlink() and "memory = 256" in link.read_text()


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", ".web", "web~", "web.swp", "web.tmp", "4913"])
def test_write_refuses_a_name_the_auto_directory_would_pass_over_or_leave(xen_root: Path, name: str) -> None:
    with pytest.raises(EntryError, match="cannot be an entry's file name"):
        AutoDir(str(xen_root)).write(name, managed_text())
    assert not (xen_root / "auto").exists() or leftovers(xen_root) == []


def test_a_write_that_fails_leaves_the_old_entry_whole_and_no_temporary_file(
    xen_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto = AutoDir(str(xen_root))
    auto.write("web", managed_text(memory=256))
    before = (xen_root / "auto" / "web").read_text()

    def full_disk(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(EntryError, match="No space left on device"):
        auto.write("web", managed_text(memory=512))
    assert (xen_root / "auto" / "web").read_text() == before
    assert leftovers(xen_root) == ["web"]


def test_a_reader_during_a_write_sees_the_old_entry_whole_and_never_the_half_written_one(
    xen_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto = AutoDir(str(xen_root))
    auto.write("web", managed_text(memory=256))
    seen: list[tuple[dict[str, Entry], dict[str, Broken]]] = []
    real_replace = os.replace

    def replace_after_a_look(src: str, dst: str) -> None:
        seen.append(read(xen_root))  # the new text is on disk, under its temporary name
        assert len(leftovers(xen_root)) == 2
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_after_a_look)
    auto.write("web", managed_text(memory=512))
    entries, broken = seen[0]
    assert list(entries) == ["web"] and not broken
    assert entries["web"].config.memory == 256
    assert read(xen_root)[0]["web"].config.memory == 512


def test_remove_deletes_a_managed_entry(xen_root: Path) -> None:
    auto = AutoDir(str(xen_root))
    auto.write("web", managed_text())
    auto.remove("web")
    assert leftovers(xen_root) == []


def test_remove_of_an_entry_that_is_not_there_is_fine(xen_root: Path) -> None:
    AutoDir(str(xen_root)).remove("web")
    assert not (xen_root / "auto").exists()


def test_remove_refuses_a_hand_placed_file(xen_root: Path) -> None:
    path = put(xen_root, "web", WEB)
    with pytest.raises(EntryError, match="placed by hand; xenctl will not remove it"):
        AutoDir(str(xen_root)).remove("web")
    assert path.read_text() == WEB


def test_remove_refuses_a_hand_placed_file_with_metadata(xen_root: Path) -> None:
    path = put(xen_root, "web", '# xenctl-autostart: {"order": 1}\n' + WEB)
    with pytest.raises(EntryError, match="placed by hand"):
        AutoDir(str(xen_root)).remove("web")
    assert path.exists()


def test_remove_refuses_a_symlink(xen_root: Path) -> None:
    (xen_root / "web.cfg").parent.mkdir(parents=True, exist_ok=True)
    (xen_root / "web.cfg").write_text(managed_text())
    link = auto_of(xen_root) / "web"
    link.symlink_to("../web.cfg")
    with pytest.raises(EntryError, match="symlink"):
        AutoDir(str(xen_root)).remove("web")
    assert link.is_symlink() and (xen_root / "web.cfg").exists()


# -- render_entry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "ordering"),
    [
        (domain("web", 256), Ordering()),
        (
            domain(
                "db",
                2048,
                maxmem=4096,
                vcpus=2,
                maxvcpus=4,
                disks=[disk("/dev/data/db-root", "sda1"), disk("/dev/data/db-data", "sda2", "r")],
                vifs=(Vif("xenbr0", "00:16:3e:00:00:01"), Vif("xenbr1")),
                root="/dev/sda1 ro",
                extra="console=xvc0 'quoted' \"too\"",
                on_crash=OnEvent.PRESERVE,
                ip="10.0.0.3",
                uuid="6f1b7b52-4a42-4c8e-9d3b-1a2b3c4d5e6f",
            ),
            Ordering(order=20, after=("nfs1",), up=10.0, stop="save", stop_timeout=120.0, on_timeout="leave"),
        ),
        (
            domain("web1", 512, root="/dev/nfs", nfs_server="10.0.0.2", nfs_root="/export/webroot"),
            Ordering(after=("nfs1", "db"), stop_timeout=60.0),
        ),
    ],
)
def test_a_rendered_entry_reads_back_to_the_same_config_and_ordering(
    xen_root: Path, config: object, ordering: Ordering
) -> None:
    auto = AutoDir(str(xen_root))
    auto.write("entry", render_entry(config, ordering, "specs/farm.yaml"))  # type: ignore[arg-type]
    entries, broken = read(xen_root)
    assert not broken
    entry = entries["entry"]
    assert entry.config == config
    assert entry.ordering == ordering
    assert entry.managed and entry.has_metadata and entry.source == "specs/farm.yaml"


def test_a_rendered_entry_s_text_is_the_header_the_metadata_line_then_the_config() -> None:
    text = render_entry(domain("web", 256), Ordering(order=10, up=5.0), "specs/web.yaml")
    lines = text.splitlines()
    assert lines[0].startswith("# Managed by xenctl from specs/web.yaml")
    assert lines[1].startswith("# xenctl-autostart: {")
    assert '"order": 10' in lines[1] and '"up": 5.0' in lines[1]
    assert 'name = "web"' in lines
