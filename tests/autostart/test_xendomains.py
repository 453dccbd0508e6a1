"""xendomains' settings (``<etc>/sysconfig/xendomains`` or ``<etc>/default/xendomains``) at halt and
boot: a hand-placed entry stops as xendomains would stop it; an entry with xenctl's line as it says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.autostart.test_cli_autostart import MAIL, guests, place
from tests.helpers import domain
from tests.reconcile.support import connect, ok, xenctl
from xenctl.autostart.xendomains import Settings, Shutdown, read_settings
from xenctl.errors import ConfigError

SHIPPED = Path(__file__).parent / "data" / "sysconfig.xendomains"
WEB = MAIL.replace("mail", "web")


def settings(xen_root: Path, text: str, kind: str = "sysconfig") -> Path:
    """Write xendomains' settings beside the xen root ``<etc>/xen``: ``<etc>/<kind>/xendomains``."""
    path = xen_root.parent / kind / "xendomains"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def save_dir(home: Path) -> str:
    with connect(home) as host:
        return host.snapshot().host.save_dir


def test_the_shipped_settings_file_reads_as_xendomains_defaults(xen_root: Path) -> None:
    path = settings(xen_root, SHIPPED.read_text())
    assert read_settings(str(xen_root)) == Settings(file=str(path))
    assert Settings() == Settings(
        file=None,
        migrate="",
        save="/var/lib/xen/save",
        shutdown=Shutdown(asked=True, wait=True),
        stop_maxwait=300.0,
        restore=True,
        auto_only=False,
    )


def test_without_settings_a_hand_placed_entry_is_saved_at_halt_and_restored_at_boot(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    halted = ok(xenctl(home, "halt"))
    saved = os.path.join(save_dir(home), "mail")
    assert f"mail: saved (to {saved})" in halted.stdout
    assert os.path.exists(saved) and guests(home) == set()
    booted = ok(xenctl(home, "boot"))
    assert "mail: restored" in booted.stdout and "1 restored, 1 already running" in booted.stdout
    assert guests(home) == {"mail"} and not os.path.exists(saved)


def test_the_shipped_settings_file_saves_every_guest_at_halt_a_guest_without_an_entry_too(
    home: Path, xen_root: Path
) -> None:
    settings(xen_root, SHIPPED.read_text())
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    with connect(home) as host:
        host.create_domain(domain("scratch"))
    halted = ok(xenctl(home, "halt"))
    assert "Stop (runlevel 3 -> 0): 2 saved" in halted.stdout
    assert sorted(os.listdir(save_dir(home))) == ["mail", "scratch"]


def test_an_empty_save_setting_shuts_hand_placed_entries_down(home: Path, xen_root: Path) -> None:
    settings(xen_root, 'XENDOMAINS_SAVE=""\n')
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    halted = ok(xenctl(home, "halt"))
    assert "mail: shut down" in halted.stdout
    assert os.listdir(save_dir(home)) == []


def test_the_sysconfig_file_wins_over_the_default_one(home: Path, xen_root: Path) -> None:
    settings(xen_root, "XENDOMAINS_SAVE=\n", kind="default")
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    assert "mail: shut down" in ok(xenctl(home, "halt")).stdout  # /etc/default/xendomains alone
    settings(xen_root, "XENDOMAINS_SAVE=/var/lib/xen/save\n")
    ok(xenctl(home, "boot"))
    assert "mail: saved" in ok(xenctl(home, "halt")).stdout


def test_a_save_directory_of_its_own_is_saved_to_and_restored_from(home: Path, xen_root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "srv" / "xen-save"
    settings(xen_root, f"XENDOMAINS_SAVE='{elsewhere}'  # not the host's own\n")
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    assert f"mail: saved (to {elsewhere / 'mail'})" in ok(xenctl(home, "halt")).stdout
    assert "mail: restored" in ok(xenctl(home, "boot")).stdout
    assert os.listdir(elsewhere) == []


def test_a_migration_to_a_host_without_a_uri_is_said_and_the_guest_saved_instead(home: Path, xen_root: Path) -> None:
    settings(xen_root, 'XENDOMAINS_MIGRATE="host2 --live"\n')
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    halted = xenctl(home, "halt")
    assert halted.returncode == 1  # not stopped as asked, as when xendomains' migration failed
    assert "mail: saved (Not migrated (XENDOMAINS_MIGRATE='host2 --live': 'host2' is not a host URI" in halted.stdout
    assert "so saved to" in halted.stdout
    assert guests(home) == set()


def test_shutdown_without_wait_asks_and_does_not_wait(home: Path, xen_root: Path) -> None:
    settings(xen_root, 'XENDOMAINS_SAVE=""\nXENDOMAINS_SHUTDOWN="--halt"\n')
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    ok(xenctl(home, "host", "fault", "add", "shutdown", "mail", "--kind", "ignore-shutdown"))
    halted = ok(xenctl(home, "halt"))
    assert "mail: shutting down (asked to shut down, not waited for" in halted.stdout
    assert guests(home) == {"mail"}  # it never went: nothing waited to destroy it


def test_the_stop_maxwait_is_the_stop_timeout_of_a_hung_guest(home: Path, xen_root: Path) -> None:
    settings(xen_root, "XENDOMAINS_SAVE=\nXENDOMAINS_STOP_MAXWAIT=45\n")
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    ok(xenctl(home, "host", "fault", "add", "shutdown", "mail", "--kind", "ignore-shutdown"))
    halted = ok(xenctl(home, "halt"))
    assert "mail: destroyed (it did not stop within 45s)" in halted.stdout
    assert guests(home) == set()


def test_restore_false_leaves_the_save_files_and_starts_the_entries_afresh(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    ok(xenctl(home, "halt"))
    settings(xen_root, "XENDOMAINS_RESTORE=false\n")
    booted = ok(xenctl(home, "boot"))
    assert "restored" not in booted.stdout and "mail: started" in booted.stdout
    assert os.listdir(save_dir(home)) == ["mail"]


def test_auto_only_saves_the_entries_guests_and_sweeps_the_others(home: Path, xen_root: Path) -> None:
    settings(xen_root, "XENDOMAINS_AUTO_ONLY=true\n")
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    with connect(home) as host:
        host.create_domain(domain("scratch"))
    halted = ok(xenctl(home, "halt"))
    assert "mail: saved" in halted.stdout and "scratch: shut down" in halted.stdout
    assert os.listdir(save_dir(home)) == ["mail"]


def test_auto_only_without_a_sweep_leaves_the_other_guests_running(home: Path, xen_root: Path) -> None:
    settings(xen_root, "XENDOMAINS_AUTO_ONLY=true\nXENDOMAINS_SHUTDOWN_ALL=\n")
    ok(xenctl(home, "boot"))
    with connect(home) as host:
        host.create_domain(domain("scratch"))
    halted = ok(xenctl(home, "halt"))
    assert "scratch: left running" in halted.stdout
    assert guests(home) == {"scratch"}


def test_an_entry_with_xenctls_line_stops_as_its_line_says(home: Path, xen_root: Path) -> None:
    settings(xen_root, SHIPPED.read_text())
    place(xen_root, "mail", '# xenctl-autostart: {"stop": "shutdown"}\n' + MAIL)
    place(xen_root, "web", WEB)
    ok(xenctl(home, "boot"))
    halted = ok(xenctl(home, "halt"))
    assert "mail: shut down" in halted.stdout and "web: saved" in halted.stdout


def test_autostart_list_shows_the_effective_stop_mode(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", '# xenctl-autostart: {"stop": "shutdown", "stop_timeout": 60}\n' + MAIL)
    place(xen_root, "web", WEB)

    def stop_column() -> dict[str, str]:
        listed = ok(xenctl(home, "autostart", "list")).stdout
        return {line.split()[0]: line.split()[7] for line in listed.splitlines()[2:4]}

    assert stop_column() == {"mail": "shutdown/60s/destroy", "web": "save/300s/destroy"}
    path = settings(xen_root, 'XENDOMAINS_SAVE=""\nXENDOMAINS_STOP_MAXWAIT=90\nXENDOMAINS_MIGRATE=host2\n')
    assert stop_column() == {"mail": "shutdown/60s/destroy", "web": "migrate?shutdown/90s/destroy"}
    listed = ok(xenctl(home, "autostart", "list")).stdout
    assert (
        f"Entries without an xenctl-autostart line and guests without an entry stop as {path} says: "
        "not migrated (XENDOMAINS_MIGRATE='host2': 'host2' is not a host URI (sim:///DIR, xen:///system, "
        "qemu+ssh://HOST/system)), else shut down within 90s, then destroyed"
    ) in listed


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("XENDOMAINS_SAVE=$(rm -rf /srv)", "'$' in a value: the shell would expand or run it"),
        ('XENDOMAINS_SAVE="$HOME/save"', "a value the shell would expand"),
        ("XENDOMAINS_SAVE=/srv/save; touch {pwned}", "';' in a value"),
        ("XENDOMAINS_SAVE=/srv/save touch {pwned}", "'touch' after the value would run as a command"),
        ('XENDOMAINS_SAVE="/srv/save', 'a " that is never closed'),
        ("touch {pwned}", "expected KEY=value"),
        ("XENDOMAINS_STOP_MAXWAIT=soon", "XENDOMAINS_STOP_MAXWAIT: 'soon' is not a whole number of seconds"),
        ("XENDOMAINS_RESTORE=yes", "XENDOMAINS_RESTORE: 'yes' is not true or false"),
        ('XENDOMAINS_SHUTDOWN="--reboot --wait"', "XENDOMAINS_SHUTDOWN: '--reboot' is not an option"),
        ("XENDOMAINS_SAVE=save", "XENDOMAINS_SAVE: 'save' is not an absolute directory"),
    ],
)
def test_a_malformed_line_is_one_error_with_file_and_line_and_halt_changes_nothing(
    home: Path, xen_root: Path, tmp_path: Path, line: str, says: str
) -> None:
    pwned = tmp_path / "pwned"
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    path = settings(xen_root, "# xendomains\nXENDOMAINS_RESTORE=true\n" + line.format(pwned=pwned) + "\n")
    halted = xenctl(home, "halt")
    assert halted.returncode == 1
    assert halted.stderr.startswith(f"Error: {path}:3: ") and says in halted.stderr
    assert len(halted.stderr.splitlines()) == 1 and halted.stdout == ""
    assert guests(home) == {"mail"}
    with connect(home) as host:
        assert host.snapshot().host.runlevel == 3  # not half-way down
    assert not pwned.exists()  # read, never run
    with pytest.raises(ConfigError):
        read_settings(str(xen_root))


def test_a_broken_entry_is_said_once_and_does_not_fail_a_halt(home: Path, xen_root: Path) -> None:
    place(xen_root, "mail", MAIL)
    ok(xenctl(home, "boot"))
    broken = place(xen_root, "README", "Guests to start at boot go here.\n")
    halted = xenctl(home, "halt")
    assert halted.returncode == 0, halted.stdout + halted.stderr
    assert "mail: saved" in halted.stdout and guests(home) == set()
    said = [line for line in (halted.stdout + halted.stderr).splitlines() if "README" in line]
    assert said == [f"Warning: broken autostart entry passed over: {broken}:1: not a config file: invalid syntax"]
