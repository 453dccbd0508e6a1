"""xend-config.sxp: read safely from the xen root, and where it is present its values win over the
host profile's: Domain-0's ballooning floor, whether it balloons at all, its CPUs, and relocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import domain, run_xenctl
from xenctl.engine.sim import SimHost, VirtualClock, open_host
from xenctl.engine.sim.xendconfig import parse_xend_config
from xenctl.errors import ConfigError, XenError

# As Xen 3.3 ships it, less the comments: most keys are xend's own business, and passed over.
SHIPPED = """\
# -*- sh -*-
#(logfile /var/log/xen/xend.log)
(xend-relocation-server no)
(xend-relocation-port 8002)
(xend-relocation-hosts-allow '^localhost$ ^localhost\\\\.localdomain$')
(network-script network-bridge)
(vif-script vif-bridge)
(dom0-min-mem 196)
(enable-dom0-ballooning yes)
(dom0-cpus 0)
(vncpasswd '')
"""


def _host(tmp_path: Path, clock: VirtualClock, sxp: str | None) -> SimHost:
    root = tmp_path / "xen"
    root.mkdir(exist_ok=True)
    if sxp is not None:
        (root / "xend-config.sxp").write_text(sxp)
    return open_host(str(tmp_path / "home"), clock=clock, xen_root=str(root))


def test_the_shipped_file_reads_as_xend_reads_it(tmp_path: Path) -> None:
    xend = parse_xend_config(SHIPPED, "xend-config.sxp")
    assert (xend.dom0_min_mem, xend.enable_dom0_ballooning, xend.dom0_cpus) == (196, True, 0)
    assert (xend.relocation_server, xend.relocation_port) == (False, 8002)
    assert xend.relocation_hosts_allow == ("^localhost$", "^localhost\\.localdomain$")
    assert [(s.key, s.source) for s in xend.settings][:2] == [
        ("dom0-min-mem", "xend-config.sxp:8"),
        ("enable-dom0-ballooning", "xend-config.sxp:9"),
    ]


def test_its_dom0_min_mem_is_the_floor_of_domain0_s_mem_set(tmp_path: Path, clock: VirtualClock) -> None:
    with _host(tmp_path, clock, "(dom0-min-mem 512)\n") as host:
        assert host.profile.dom0_min_mem == 512 and host.snapshot().host.ballooning
        with pytest.raises(XenError, match="memory_dynamic_max too small"):
            host.set_memory("0", 400)  # above the profile's 196, below the file's 512
        host.set_memory("0", 512)


def test_ballooning_turned_off_there_refuses_a_guest_that_needs_it(tmp_path: Path, clock: VirtualClock) -> None:
    with _host(tmp_path, clock, "(dom0-min-mem 196)\n(enable-dom0-ballooning no)\n") as host:
        free = host.snapshot().host.free_memory
        with pytest.raises(XenError, match="enable-dom0-ballooning is False"):
            host.create_domain(domain("big", free))
        assert host.snapshot().host.dom0_memory == 1024


def test_a_key_the_file_leaves_out_takes_xend_s_default_not_the_profile_s(tmp_path: Path, clock: VirtualClock) -> None:
    # xend without (dom0-min-mem): 0, and so no ballooning, whatever the host profile said.
    with _host(tmp_path, clock, "(dom0-cpus 2)\n") as host:
        info = host.snapshot().host
        assert (info.dom0_min_mem, info.ballooning) == (0, False)
        assert host.domain("0").vcpus == 2


def test_without_the_file_the_host_profile_decides(tmp_path: Path, clock: VirtualClock) -> None:
    with _host(tmp_path, clock, None) as host:
        assert host.xend is None
        assert (host.profile.dom0_min_mem, host.profile.ballooning) == (196, True)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("(dom0-min-mem 196)\n(dom0-cpus 2\n", 2, "this '(' is never closed"),
        ("(dom0-min-mem 196))\n", 1, "a ')' without its '('"),
        ("\n\n(dom0-min-mem lots)\n", 3, "(dom0-min-mem lots): 'lots' is not a whole number of MB"),
        ("(enable-dom0-ballooning maybe)\n", 1, "'maybe' is not yes or no"),
        ("(xend-relocation-port 99999)\n", 1, "is not a port number"),
        ("(xend-relocation-hosts-allow '^[a-z')\n", 1, "is not a regular expression"),
        ("dom0-min-mem 196\n", 1, "'dom0-min-mem' is outside any (key value)"),
        ("(vncpasswd 'secret)\n", 1, "this quoted string is never closed"),
        ("(dom0-cpus 64)\n", 1, "(dom0-cpus 64): the host has 8 CPUs"),
        ("(dom0-min-mem 4096)\n", 1, "more than Domain-0's 1024 MB"),
    ],
)
def test_a_malformed_file_is_one_error_naming_the_file_and_line(
    tmp_path: Path, clock: VirtualClock, text: str, line: int, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _host(tmp_path, clock, text)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'xen' / 'xend-config.sxp'}:{line}: ")
    assert problem in message and "\n" not in message


def test_nothing_in_it_runs(tmp_path: Path, clock: VirtualClock) -> None:
    marker = tmp_path / "ran"
    text = f"(dom0-min-mem 196)\n(network-script '`touch {marker}`')\n(xend-tcp-xmlrpc-server $(touch {marker}))\n"
    with _host(tmp_path, clock, text) as host:
        assert host.profile.dom0_min_mem == 196
    assert not marker.exists()


# -- on the command line ---------------------------------------------------------------------


def test_host_show_says_where_each_setting_comes_from(tmp_path: Path, xen_root: Path) -> None:
    home = tmp_path / "home"
    before = run_xenctl(home, "host", "show")
    assert before.returncode == 0, before.stderr
    assert "dom0-min-mem                 196" in before.stdout and "host profile" in before.stdout
    xen_root.mkdir(parents=True, exist_ok=True)
    (xen_root / "xend-config.sxp").write_text(SHIPPED.replace("(dom0-min-mem 196)", "(dom0-min-mem 256)"))
    after = run_xenctl(home, "host", "show")
    assert after.returncode == 0, after.stderr
    sxp = xen_root / "xend-config.sxp"
    assert f"dom0-min-mem                 256                       {sxp}:8" in after.stdout
    assert f"xend-relocation-port         8002                      {sxp}:4" in after.stdout
    assert "Domain-0 1G (min 256M, ballooning on)" in after.stdout


def test_a_malformed_file_stops_every_command_with_one_line(tmp_path: Path, xen_root: Path) -> None:
    xen_root.mkdir(parents=True, exist_ok=True)
    (xen_root / "xend-config.sxp").write_text("(dom0-min-mem 196\n")
    listed = run_xenctl(tmp_path / "home", "list")
    assert listed.returncode == 1
    assert listed.stderr == f"Error: {xen_root / 'xend-config.sxp'}:1: this '(' is never closed\n"


def test_host_init_given_an_sxp_file_says_what_it_is_in_one_line(tmp_path: Path) -> None:
    sxp = tmp_path / "xend-config.sxp"
    sxp.write_text(SHIPPED)
    result = run_xenctl(tmp_path / "home", "host", "init", "--profile", str(sxp))
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {sxp}: this is xend's configuration (an xend-config.sxp), not a host profile; "
        "xenctl reads it from <xen root>/xend-config.sxp\n"
    )
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\n`make` first, then:\n\n    xenctl list\n")
    other = run_xenctl(tmp_path / "home", "host", "init", "--profile", str(notes))
    assert other.returncode == 1
    assert other.stderr == f"Error: {notes}:3:1: not a host profile (a YAML mapping of host settings, such as " \
        "'memory: 16G'): this line is not YAML\n"  # fmt: skip


def test_a_plan_made_before_the_file_changed_is_not_the_answer_after(tmp_path: Path, xen_root: Path) -> None:
    """The file is edited outside any operation; the plan it changes is made again, not taken from
    the plans kept for the host as it was (nor from the last plan's basis)."""
    home, specs = tmp_path / "home", tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text("domains:\n  - {name: web1, memory: 15500M, kernel: /boot/vmlinuz-2.6.18-xen}\n")
    first = run_xenctl(home, "plan", str(specs))
    assert first.returncode == 0 and "1 to create" in first.stdout, first.stderr  # Domain-0 balloons to make room
    xen_root.mkdir(parents=True, exist_ok=True)
    (xen_root / "xend-config.sxp").write_text("(dom0-min-mem 1024)\n(enable-dom0-ballooning no)\n")
    again = run_xenctl(home, "plan", str(specs))
    assert again.returncode == 1
    assert "memory 15500M is more than host xen1 can ever give a guest" in again.stderr
