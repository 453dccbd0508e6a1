"""Promise 5: a plan the host could not carry out is refused at plan time, with the numbers, and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import disk, domain
from tests.reconcile.support import KERNEL, connect, host_state, write_spec, xenctl

MEMORY = f"""
domains:
  - {{name: big1, memory: 9G, kernel: {KERNEL}}}
  - {{name: big2, memory: 9G, kernel: {KERNEL}}}
"""
MEMORY_BESIDE_A_HAND_MADE_DOMAIN = f"""
domains:
  - {{name: small, memory: 128M, kernel: {KERNEL}}}
  - {{name: big1, memory: 9G, kernel: {KERNEL}}}
"""
SHARED = f"""
domains:
  - {{name: small, memory: 128M, kernel: {KERNEL}}}
  - name: web1
    memory: 128M
    kernel: {KERNEL}
    disks: [{{phy: /dev/hda3, vdev: sda1, mode: w}}]
"""


def _loops(count: int, memory: str = "64M") -> str:
    lines = ["storage:", "  volumes:"]
    lines += [f"    - {{name: img{i}, file: {{path: img{i}.img, size: 64M}}}}" for i in range(count)]
    lines.append("domains:")
    lines += [
        f"  - {{name: loop{i}, memory: {memory}, kernel: {KERNEL}, disks: [{{volume: img{i}, vdev: sda1}}]}}"
        for i in range(count)
    ]
    return "\n".join(lines) + "\n"


def _byhand(home: Path, memory: int = 128) -> None:
    """A domain made by hand, holding /dev/hda3 read-write (xm create with disk = ['phy:hda3,sda1,w'])."""
    with connect(home) as host:
        host.create_domain(domain("byhand", memory, disks=[disk("/dev/hda3", "sda1")]))


CASES = {
    # spec, memory of the hand-made domain (None: no such domain), what the refusal must say
    "memory beyond the host": (MEMORY, None, ["18436M", "16124M"]),
    "memory beside a hand-made domain": (
        MEMORY_BESIDE_A_HAND_MADE_DOMAIN,
        8000,
        ["memory", "9348M", "8000M", "16124M"],
    ),
    "more file disks than loop devices": (_loops(9), None, ["loop devices", "9", "8", "max_loop"]),
    "a device a hand-made domain holds read-write": (SHARED, 128, ["/dev/hda3", "byhand", "web1"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_infeasible_spec_is_refused_with_the_numbers_and_nothing_changes(case: str, tmp_path: Path) -> None:
    text, byhand_memory, words = CASES[case]
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", text)
    if byhand_memory is not None:
        _byhand(home, byhand_memory)
    else:
        connect(home).close()
    before = host_state(home)

    for command in (["plan"], ["apply", "--auto-approve"]):
        result = xenctl(home, *command, str(spec))
        assert result.returncode == 1, (command, result.stdout)
        assert "Traceback" not in result.stderr
        for word in words:
            assert word in result.stderr, (command, word, result.stderr)
        assert "Apply" not in result.stdout
    assert host_state(home) == before


def test_a_refused_plan_does_not_even_make_the_storage_that_comes_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", _loops(9))
    result = xenctl(home, "apply", "--auto-approve", str(spec))
    assert result.returncode == 1
    with connect(home) as host:
        live = host.snapshot()
    assert live.images == ()
    assert [d.name for d in live.domains] == ["Domain-0"]


def test_eight_file_disks_fit_the_eight_loop_devices(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", _loops(8))
    result = xenctl(home, "apply", "--auto-approve", str(spec))
    assert result.returncode == 0, result.stderr
    assert xenctl(home, "plan", "--detailed-exitcode", str(spec)).returncode == 0


def _many(count: int, domain: str, storage: str = "", volume: str = "") -> str:
    """``count`` domains (and volumes) from one template line each; ``{i}`` is the number."""
    lines = ["storage:", "  volume_groups: [{name: vg, pvs: [/dev/sda10]}]", "  volumes:"] if storage else []
    lines += [f"    - {storage.format(i=i)}" for i in range(count)] if storage else []
    lines.append("domains:")
    lines += [f"  - {{name: d{i}, kernel: {KERNEL}, {domain.format(i=i)}}}" for i in range(count)]
    return "\n".join(lines).replace("VOLUME", volume) + "\n"


MANY = {
    # spec of 2,000 domains, what the refusal must say
    "loop devices": (
        _loops(2000, memory="4M"),
        ["2,000 file-backed disks", "of 2,000 domains: loop0, loop1, loop2", "1,995 others", "8 loop devices"],
    ),
    # 2,000 x (6M + 2M) fit the host's 16124M alone, not beside the hand-made domain's 128M
    "memory": (
        _many(2000, "memory: 6M"),
        ["2,000 declared domains (the largest d0 6M, d1 6M, d2 6M and 1,997 others)", "16124M"],
    ),
    "device sharing": (
        _many(2000, "memory: 4M, disks: [{{phy: /dev/hda3, vdev: sda1, mode: r}}]"),
        ["/dev/hda3 is held by byhand (w)", "d0 (r), d1 (r)", "1,995 others", "2,000 domains"],
    ),
    "volume group space": (
        _many(2000, "memory: 4M", "{{name: v{i}, lvm: {{vg: vg, size: 64M}}}}"),
        ["2,000 volumes (v0, v1, v2, v3, v4 and 1,995 others)", "volume group vg"],
    ),
    "bridges": (
        _many(2000, "memory: 4M, vifs: [{{bridge: xenbr7}}]"),
        ["2,000 domains (d0, d1, d2, d3, d4 and 1,995 others) want bridge xenbr7"],
    ),
    "a missing device each": (
        _many(2000, "memory: 4M, disks: [{{phy: /dev/sdz{i}, vdev: sda1}}]"),
        ["devices: d0 wants /dev/sdz0, which is not on this host", "devices: 1,995 more problems of this kind"],
    ),
}


@pytest.mark.parametrize("case", list(MANY))
def test_a_refusal_over_thousands_of_domains_names_a_few_and_counts_the_rest(case: str, tmp_path: Path) -> None:
    text, words = MANY[case]
    home = tmp_path / "home"
    _byhand(home, 128)
    result = xenctl(home, "plan", str(write_spec(tmp_path / "specs", text)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert len(result.stderr) < 1200, result.stderr
    assert "d1999" not in result.stderr and "loop1999" not in result.stderr and "v1999" not in result.stderr


CLONES = f"""
storage:
  volume_groups: [{{name: vg, pvs: [/dev/sda10]}}]
  volumes:
    - {{name: base, lvm: {{vg: vg, size: 1G}}}}
    - {{name: clone1, lvm: {{vg: vg, snapshot_of: base, size: 64M}}}}
    - {{name: clone2, lvm: {{vg: vg, snapshot_of: base, size: 64M}}}}
domains:
  - {{name: big1, memory: 15600M, kernel: {KERNEL}}}
"""


@pytest.mark.parametrize("cost", ["512M", "0"])
def test_the_snapshots_a_plan_makes_count_against_the_memory_domain0_can_give(cost: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    profile = write_spec(tmp_path, f"snapshot_memory: {cost}\n", "profile.yaml")
    assert xenctl(home, "host", "init", "--profile", str(profile)).returncode == 0
    spec = write_spec(tmp_path / "specs", CLONES)
    before = host_state(home)

    result = xenctl(home, "apply", "--auto-approve", str(spec))
    if cost == "0":  # 15600M + 2M fit the 16124M guests may have when snapshots cost nothing
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "memory: 1 declared domain (big1 15600M) need 15602M" in result.stderr
    assert "at most 15100M (Domain-0 at its minimum of 196M, and 1024M for 2 LVM snapshots)" in result.stderr
    assert host_state(home) == before
