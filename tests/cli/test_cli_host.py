"""The first command line, run as a user runs it: a real process on a temporary home."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import domain, run_xenctl
from xenctl.engine.sim import SystemClock, open_host
from xenctl.errors import XenError

HEADER = "Name                                        ID   Mem VCPUs      State   Time(s)"


def test_list_on_a_fresh_home_prints_the_xm_list_header_and_domain0(tmp_path: Path) -> None:
    result = run_xenctl(tmp_path / "fresh", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    assert re.fullmatch(r"Domain-0 {37}0  1024     8     r----- +\d+\.\d", lines[1])
    assert len(lines) == 2


def test_list_sorts_by_name_in_ascii_order_with_xm_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    host = open_host(str(home), clock=SystemClock(0))
    for name, memory in (("web2", 256), ("Zeta", 128), ("alpha", 512)):
        host.create_domain(domain(name, memory, vcpus=2, maxvcpus=2))
    host.pause_domain("alpha")
    host.close()
    result = run_xenctl(home, "list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == ["Domain-0", "Zeta", "alpha", "web2"]  # ASCII: upper case first
    alpha = result.stdout.splitlines()[3]
    assert alpha.startswith("alpha" + " " * 35)
    fields = alpha.split()
    assert fields[1:5] == ["3", "512", "2", "--p---"]


def test_list_names_domains_by_name_or_id_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    host = open_host(str(home), clock=SystemClock(0))
    host.create_domain(domain("web1"))
    host.close()
    by_id = run_xenctl(home, "list", "1")
    assert by_id.stdout.splitlines()[1].split()[:2] == ["web1", "1"]
    missing = run_xenctl(home, "list", "web9")
    assert missing.returncode == 1
    assert missing.stderr == "Error: Domain 'web9' does not exist.\n"
    assert missing.stdout == ""


def test_host_init_from_a_profile_and_show_it(tmp_path: Path) -> None:
    profile = tmp_path / "small.yaml"
    profile.write_text(
        "name: lab\nmemory: 4G\ncpus: 2\ndom0: {memory: 512M, min_mem: 128M}\n"
        "disks:\n  hda:\n    size: 20G\n    partitions:\n      hda1: {size: 10G, filesystem: ext3, mount: /}\n"
        "      hda3: {size: 5G}\n"
    )
    home = tmp_path / "home"
    made = run_xenctl(home, "host", "init", "--profile", str(profile))
    assert made.returncode == 0, made.stderr
    assert "Host lab made from" in made.stdout
    shown = run_xenctl(home, "host", "show")
    assert "Host lab, runlevel 3" in shown.stdout
    assert "Domain-0 512M (min 128M, ballooning on)" in shown.stdout
    assert "/dev/hda1" in shown.stdout and "mounted rw on /" in shown.stdout
    as_json = json.loads(run_xenctl(home, "host", "show", "--json").stdout)
    assert as_json["profile"]["cpus"] == 2
    assert as_json["live"]["memory"]["dom0"] == 512
    listed = run_xenctl(home, "list").stdout.splitlines()[1].split()
    assert listed[:4] == ["Domain-0", "0", "512", "2"]


def test_host_init_refuses_to_replace_a_host_without_force(tmp_path: Path) -> None:
    home = tmp_path / "home"
    host = open_host(str(home), clock=SystemClock(0))
    host.create_domain(domain("keepme"))
    host.close()
    again = run_xenctl(home, "host", "init")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert "keepme" in run_xenctl(home, "list").stdout
    forced = run_xenctl(home, "host", "init", "--force")
    assert forced.returncode == 0
    assert "keepme" not in run_xenctl(home, "list").stdout


def test_a_bad_profile_is_one_error_line_naming_the_file_and_field(tmp_path: Path) -> None:
    profile = tmp_path / "bad.yaml"
    profile.write_text("memory: 16 GB\n")
    result = run_xenctl(tmp_path / "home", "host", "init", "--profile", str(profile))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert str(profile) in result.stderr and "memory" in result.stderr and "not a size" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "host.db").exists()


def test_a_missing_profile_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_xenctl(tmp_path / "home", "host", "init", "--profile", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr and "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_events_show_every_mutation_with_its_outcome(tmp_path: Path) -> None:
    home = tmp_path / "home"
    host = open_host(str(home), clock=SystemClock(0))
    host.create_domain(domain("web1"))
    with pytest.raises(XenError):
        host.create_domain(domain("web1"))
    host.destroy_domain("web1")
    host.close()
    text = run_xenctl(home, "events").stdout.splitlines()
    assert len(text) == 3
    assert text[0].split()[3:6] == ["create", "web1", "ok"]
    assert "error" in text[1] and "VM name 'web1' already exists as domain 1" in text[1]
    assert text[2].split()[3:6] == ["destroy", "web1", "ok"]
    last = [json.loads(line) for line in run_xenctl(home, "events", "--json", "-n", "1").stdout.splitlines()]
    assert [(e["op"], e["object"], e["outcome"]) for e in last] == [("destroy", "web1", "ok")]


def test_fault_commands_make_an_operation_fail_then_clear(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = run_xenctl(home, "host", "fault", "add", "create", "web*", "--message", "disk on fire", "--times", "1")
    assert added.returncode == 0 and "Fault 1 added." in added.stdout
    assert "disk on fire" in run_xenctl(home, "host", "fault", "list").stdout
    host = open_host(str(home), clock=SystemClock(0))
    try:
        try:
            host.create_domain(domain("web1"))
            raised = ""
        except Exception as exc:  # the injected fault
            raised = str(exc)
        assert raised == "disk on fire"
        host.create_domain(domain("web1"))  # the fault fired once and is gone
    finally:
        host.close()
    assert run_xenctl(home, "host", "fault", "list").stdout.strip() == "No faults."
    missing = run_xenctl(home, "host", "fault", "clear", "7")
    assert missing.returncode == 1 and "no fault 7" in missing.stderr


def test_a_bad_time_scale_is_refused_clearly(tmp_path: Path) -> None:
    result = run_xenctl(tmp_path / "home", "list", env={"XENCTL_TIME_SCALE": "fast"})
    assert result.returncode == 1
    assert "XENCTL_TIME_SCALE" in result.stderr and "Traceback" not in result.stderr


def test_a_home_that_is_not_a_host_file_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "host.db").write_text("this is not sqlite" * 100)
    result = run_xenctl(home, "list")
    assert result.returncode == 1
    assert "not a xenctl host file" in result.stderr and "Traceback" not in result.stderr


def test_python_dash_m_and_help_work(tmp_path: Path) -> None:
    result = run_xenctl(tmp_path / "home", "--help")
    assert result.returncode == 0
    for command in ("list", "events", "host"):
        assert command in result.stdout
