"""``xenctl runlevel``, ``boot``, ``halt``, ``autostart list``, and ``apply`` writing the specs'
autostart entries, as a user runs them (in-process, with instant simulated time)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import domain
from tests.reconcile.support import WEBFARM, connect, ok, write_spec, xenctl
from xenctl.engine.api import Fault, OnEvent
from xenctl.xmconfig.auto import AutoDir, Ordering
from xenctl.xmconfig.domain import write_config

KERNEL = "/boot/vmlinuz-2.6.18-xen"
MAIL = f'name = "mail"\nmemory = 64\nkernel = "{KERNEL}"\n'
FARM = ("db", "nfs1", "web1", "web2")


def auto_files(xen_root: Path) -> list[str]:
    auto = xen_root / "auto"
    return sorted(os.listdir(auto)) if auto.exists() else []


def place(xen_root: Path, file: str, text: str) -> Path:
    path = xen_root / "auto" / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def guests(home: Path) -> set[str]:
    with connect(home) as host:
        return {d.name for d in host.snapshot().domains if d.domid != 0}


@pytest.fixture
def farm(home: Path, tmp_path: Path) -> Path:
    """The web farm example, copied (so a test may edit it) and applied."""
    specs = tmp_path / "webfarm"
    shutil.copytree(WEBFARM, specs)
    ok(xenctl(home, "apply", "--auto-approve", str(specs)))
    return specs


# -- apply ------------------------------------------------------------------------------------


def test_apply_writes_the_specs_autostart_entries_into_the_auto_directory(home: Path, xen_root: Path) -> None:
    ok(xenctl(home, "apply", "--auto-approve", str(WEBFARM)))
    assert auto_files(xen_root) == list(FARM)
    entries = {e.file: e for e in AutoDir(str(xen_root)).read()[0]}
    assert all(e.managed and e.source == str(WEBFARM / "autostart.yaml") for e in entries.values())
    assert entries["db"].ordering == Ordering(order=20, up=10.0, stop="save", stop_timeout=120.0)
    assert entries["web1"].ordering == Ordering(after=("nfs1", "db"), stop_timeout=60.0)
    assert entries["web1"].config.nfs_root == "/export/webroot"  # the config xm create would get
    assert "# Managed by xenctl from" in (xen_root / "auto" / "db").read_text().splitlines()[0]


def test_a_second_plan_shows_no_changes(home: Path, farm: Path) -> None:
    result = xenctl(home, "plan", "--detailed-exitcode", str(farm))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout


def test_an_entry_edited_by_hand_is_planned_back_and_rewritten(home: Path, farm: Path, xen_root: Path) -> None:
    path = xen_root / "auto" / "db"
    written = path.read_text()
    path.write_text(written.replace('"order": 20', '"order": 5'))
    result = xenctl(home, "plan", "--detailed-exitcode", str(farm))
    assert result.returncode == 2 and "autostart.db" in result.stdout
    ok(xenctl(home, "apply", "--auto-approve", str(farm)))
    assert path.read_text() == written


def test_without_the_autostart_section_apply_removes_the_managed_entries_but_not_a_hand_placed_one(
    home: Path, farm: Path, xen_root: Path
) -> None:
    place(xen_root, "mail", MAIL)
    (farm / "autostart.yaml").unlink()
    plan = xenctl(home, "plan", "--detailed-exitcode", str(farm))
    assert plan.returncode == 2
    for file in FARM:
        assert f"- autostart.{file}" in plan.stdout
    assert "- autostart.mail" not in plan.stdout
    assert "left alone: autostart.mail" in plan.stdout
    ok(xenctl(home, "apply", "--auto-approve", str(farm)))
    assert auto_files(xen_root) == ["mail"]
    assert (xen_root / "auto" / "mail").read_text() == MAIL
    assert guests(home) == set(FARM)  # the domains stay: only their entries went
    assert "No changes" in ok(xenctl(home, "plan", str(farm))).stdout


def test_the_same_specs_planned_by_another_path_show_no_changes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok(xenctl(home, "apply", "--auto-approve", str(WEBFARM)))
    monkeypatch.chdir(WEBFARM.parent)
    result = xenctl(home, "plan", "--detailed-exitcode", "webfarm")
    assert result.returncode == 0, result.stdout
    assert "No changes" in result.stdout


def test_a_spec_entry_named_like_a_hand_placed_one_is_a_plan_error_that_changes_nothing(
    home: Path, xen_root: Path
) -> None:
    hand = place(xen_root, "db", MAIL)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = xenctl(home, *command, str(WEBFARM))
        assert result.returncode == 1, result.stdout
        assert str(hand) in result.stderr and "placed by hand" in result.stderr
    assert auto_files(xen_root) == ["db"]
    assert hand.read_text() == MAIL
    assert guests(home) == set()


def test_a_spec_entry_with_its_own_file_name_lives_beside_a_hand_placed_one(
    home: Path, tmp_path: Path, xen_root: Path
) -> None:
    place(xen_root, "db", MAIL)
    spec = write_spec(
        tmp_path / "specs",
        f"domains:\n  - {{name: db, memory: 64M, kernel: {KERNEL}}}\nautostart:\n  - {{domain: db, file: 20-db}}\n",
    )
    ok(xenctl(home, "apply", "--auto-approve", str(spec)))
    assert auto_files(xen_root) == ["20-db", "db"]
    assert (xen_root / "auto" / "db").read_text() == MAIL


# -- runlevel, boot, halt -----------------------------------------------------------------------


def test_halt_stops_every_guest_in_reverse_order_and_saves_the_save_mode_ones(home: Path, farm: Path) -> None:
    result = xenctl(home, "runlevel", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Stop (runlevel 3 -> 0): 3 shut down, 1 saved" in result.stdout
    lines = result.stdout.splitlines()
    ended = [line.split(":")[0] for line in lines if line.endswith("s]") and "..." not in line]
    assert ended.index("db") > ended.index("web1") and ended.index("db") > ended.index("web2")
    assert ended.index("nfs1") > ended.index("db")
    assert guests(home) == set()
    with connect(home) as host:
        save_dir = host.snapshot().host.save_dir
    assert os.listdir(save_dir) == ["db"]


def test_runlevel_3_after_a_halt_restores_then_boots_and_boot_again_has_nothing_to_do(home: Path, farm: Path) -> None:
    ok(xenctl(home, "halt"))
    result = xenctl(home, "runlevel", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Boot (runlevel 0 -> 3): 1 restored, 3 started, 1 already running" in result.stdout
    assert "db: restored" in result.stdout
    assert guests(home) == set(FARM)
    again = xenctl(home, "boot")
    assert again.returncode == 0
    assert again.stdout.strip() == "Runlevel 3: already booted; nothing to do."


def test_boot_on_a_host_not_yet_booted_says_what_already_runs(home: Path, farm: Path) -> None:
    result = xenctl(home, "boot")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Boot (runlevel 3 -> 3): 4 already running" in result.stdout
    assert "nothing to do" in xenctl(home, "boot").stdout


def test_boot_from_runlevel_0_enters_runlevel_3(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "halt"))
    result = ok(xenctl(home, "boot"))
    assert "Boot (runlevel 0 -> 3): 1 started" in result.stdout
    assert guests(home) == {"mail"}
    with connect(home) as host:
        info = host.snapshot().host
    assert (info.runlevel, info.booted) == (3, True)


def test_halt_twice_has_nothing_to_stop_the_second_time(home: Path, farm: Path) -> None:
    ok(xenctl(home, "halt"))
    second = xenctl(home, "halt")
    assert second.returncode == 0
    assert "Stop (runlevel 0 -> 0): nothing to do" in second.stdout


def test_a_failed_start_exits_1_and_says_what_it_skipped(home: Path, farm: Path) -> None:
    ok(xenctl(home, "halt"))
    with connect(home) as host:
        host.add_fault(Fault(op="create", obj="nfs1", message="no more loop devices"))
    result = xenctl(home, "boot")
    assert result.returncode == 1
    assert "nfs1: FAILED (no more loop devices)" in result.stdout
    assert "web1: skipped (nfs1 did not start)" in result.stdout
    assert "1 failed" in result.stdout and "2 skipped" in result.stdout
    assert guests(home) == {"db"}  # restored from its save file; it needs no nfs1


def test_a_broken_entry_makes_boot_exit_1_naming_it_while_the_others_start(home: Path, xen_root: Path) -> None:
    ok(xenctl(home, "halt"))
    place(xen_root, "mail", MAIL)
    broken = place(xen_root, "README", "Guests to start at boot go here.\n")
    result = xenctl(home, "boot")
    assert result.returncode == 1
    assert f"Error: broken autostart entry: {broken}:1: not a config file" in result.stderr
    assert "1 broken entry" in result.stdout and "README" not in result.stdout  # said once, as an error
    assert guests(home) == {"mail"}


def test_a_guest_left_running_on_halt_makes_it_exit_1(home: Path, xen_root: Path) -> None:
    meta = '# xenctl-autostart: {"stop_timeout": 30, "on_timeout": "leave"}\n'
    place(xen_root, "mail", meta + MAIL)
    ok(xenctl(home, "boot"))
    ok(xenctl(home, "host", "fault", "add", "shutdown", "mail", "--kind", "ignore-shutdown"))
    result = xenctl(home, "halt")
    assert result.returncode == 1
    assert "left running" in result.stdout
    assert guests(home) == {"mail"}


def test_a_hung_guest_is_destroyed_on_halt_by_default(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", '# xenctl-autostart: {"stop": "shutdown"}\n' + MAIL)
    ok(xenctl(home, "boot"))
    ok(xenctl(home, "host", "fault", "add", "shutdown", "mail", "--kind", "ignore-shutdown"))
    result = ok(xenctl(home, "halt"))
    assert "mail: destroyed" in result.stdout
    assert guests(home) == set()


@pytest.mark.parametrize("level", ["7", "-1", "three"])
def test_runlevel_refuses_what_is_no_runlevel(home: Path, level: str) -> None:
    result = xenctl(home, "runlevel", level)
    assert result.returncode == 1
    assert result.stderr.startswith("Error:")


def test_a_spec_with_after_and_no_order_boots_both_domains(home: Path, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "specs",
        f"""
x-guest: &guest
  memory: 64M
  kernel: {KERNEL}
domains:
  - {{<<: *guest, name: db}}
  - {{<<: *guest, name: web}}
autostart:
  - domain: db
  - domain: web
    after: [db]
""",
    )
    ok(xenctl(home, "validate", str(spec)))
    ok(xenctl(home, "apply", "--auto-approve", str(spec)))
    ok(xenctl(home, "halt"))
    result = xenctl(home, "boot")
    assert result.returncode == 0, result.stdout
    assert guests(home) == {"db", "web"}


# -- autostart list -----------------------------------------------------------------------------


def test_autostart_list_shows_managed_hand_placed_and_broken_entries(home: Path, farm: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    place(xen_root, "README", "not a config ((\n")
    result = xenctl(home, "autostart", "list")
    assert result.returncode == 1  # a broken entry is an error
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:] if line.strip()}
    assert rows["db"][:5] == ["db", "db", "yes", "2", "20"]
    assert rows["nfs1"][:5] == ["nfs1", "nfs1", "yes", "1", "10"]
    assert rows["web1"][:6] == ["web1", "web1", "yes", "3", "-", "nfs1,db"]
    assert rows["mail"][:5] == ["mail", "mail", "no", "4", "-"]  # unordered: after every ordered one
    assert rows["mail"][-2:] == ["not", "running"]
    assert "README: BROKEN:" in result.stdout and "not a config file" in result.stdout


def test_autostart_list_with_nothing_says_none(home: Path) -> None:
    result = ok(xenctl(home, "autostart", "list"))
    assert "(none)" in result.stdout


def test_autostart_list_says_which_entries_cannot_start_and_why(home: Path, xen_root: Path) -> None:
    place(xen_root, "web", '# xenctl-autostart: {"after": ["ldap"]}\n' + MAIL.replace("mail", "web"))
    result = ok(xenctl(home, "autostart", "list"))
    assert "web cannot start: it starts after domain ldap, which has no autostart entry" in result.stdout
    with connect(home) as host:
        host.create_domain(domain("ldap"))
    assert "cannot start" not in ok(xenctl(home, "autostart", "list")).stdout


def test_autostart_list_and_boot_agree_about_an_entry_after_a_crashed_domain(home: Path, xen_root: Path) -> None:
    place(xen_root, "web", '# xenctl-autostart: {"after": ["ldap"]}\n' + MAIL.replace("mail", "web"))
    with connect(home) as host:
        host.add_fault(Fault(op="create", obj="ldap", kind="crash-at-boot"))
        host.create_domain(domain("ldap", on_crash=OnEvent.PRESERVE))
    assert "ldap" in ok(xenctl(home, "list")).stdout
    booted = xenctl(home, "boot")
    assert booted.returncode == 1 and "web: FAILED" in booted.stdout  # boot: ldap is not running
    listed = xenctl(home, "autostart", "list")
    assert "web cannot start" in listed.stdout


def test_symlinks_out_of_the_xen_root_are_followed_only_when_allowed(
    home: Path, tmp_path: Path, xen_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "someone" / "mail.cfg"
    elsewhere.parent.mkdir()
    elsewhere.write_text(MAIL)
    (xen_root / "auto").mkdir(parents=True)
    (xen_root / "auto" / "mail").symlink_to(elsewhere)
    refused = xenctl(home, "autostart", "list")
    assert refused.returncode == 1 and "--allow-outside-links" in refused.stdout
    allowed = ok(xenctl(home, "--allow-outside-links", "autostart", "list"))
    assert "BROKEN" not in allowed.stdout and "mail" in allowed.stdout
    monkeypatch.setenv("XENCTL_AUTO_OUTSIDE_LINKS", "1")
    ok(xenctl(home, "autostart", "list"))
    ok(xenctl(home, "boot"))
    assert guests(home) == {"mail"}


def test_xen_root_on_the_command_line_wins_over_the_environment(home: Path, tmp_path: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    other = tmp_path / "other-xen"
    (other / "auto").mkdir(parents=True)
    (other / "auto" / "web").write_text(write_config(domain("web", 64)))
    result = ok(xenctl(home, "--xen-root", str(other), "autostart", "list"))
    assert str(other / "auto") in result.stdout
    assert "web" in result.stdout and "mail" not in result.stdout


def test_a_directory_in_the_auto_directory_is_listed_as_broken(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    (xen_root / "auto" / "old").mkdir()
    result = xenctl(home, "autostart", "list")
    assert result.returncode == 1
    assert "old: BROKEN: a directory, not a config file" in result.stdout


def test_a_hand_placed_entry_for_a_domain_the_specs_autostart_is_a_plan_error(
    home: Path, xen_root: Path, farm: Path
) -> None:
    place(xen_root, "0-web1-old", write_config(domain("web1", memory=1024)))
    result = xenctl(home, "plan", str(farm))
    assert result.returncode == 1
    assert "0-web1-old" in result.stderr and "starts domain web1 too" in result.stderr


def test_a_managed_entry_behind_a_symlink_counts_as_placed_by_hand(home: Path, xen_root: Path, farm: Path) -> None:
    moved = xen_root / "web1.cfg"
    (xen_root / "auto" / "web1").rename(moved)
    (xen_root / "auto" / "web1").symlink_to(moved)
    listed = ok(xenctl(home, "autostart", "list")).stdout
    assert any(line.split()[:3] == ["web1", "web1", "no"] for line in listed.splitlines())
    planned = xenctl(home, "plan", str(farm))
    assert planned.returncode == 1 and "placed by hand" in planned.stderr  # never planned, then refused


def test_boot_and_halt_refuse_no_parallelism(home: Path) -> None:
    for command in ("boot", "halt"):
        result = xenctl(home, command, "--parallelism", "0")
        assert result.returncode == 1 and "--parallelism must be 1 or more" in result.stderr


def test_autostart_list_names_the_files_it_passes_over(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    place(xen_root, "mail~", MAIL)
    place(xen_root, ".mail.swp", "")
    listed = ok(xenctl(home, "autostart", "list")).stdout
    assert "mail~: passed over" in listed and ".mail.swp: passed over" in listed
