"""The spec cache: a plan over unchanged specs reuses their checked models, and never serves a
stale answer: an edited file, a new file, or a host with less memory is checked again."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xenctl.errors import SpecError
from xenctl.spec.cache import SpecCache
from xenctl.spec.checks import Capacity
from xenctl.spec.load import _halfway, load_specs
from xenctl.spec.model import DesiredState

BIG = Capacity(16124, "the test host")
SMALL = Capacity(1000, "a small host")


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def _guest(name: str, memory: str = "256M") -> str:
    return f"domains:\n  - name: {name}\n    memory: {memory}\n    kernel: /boot/vmlinuz-2.6.18-xen\n"


def _entries(cache: Path) -> set[str]:
    return set(os.listdir(cache)) if cache.exists() else set()


def test_a_second_load_of_unchanged_specs_gives_the_same_state_and_writes_nothing_new(tmp_path: Path) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("web1"))
    _write(specs, "b.yaml", _guest("web2", "512M"))
    first = load_specs([str(specs)], BIG, cache_dir=str(cache))
    written = _entries(cache)
    assert written  # the models and the checked whole are kept
    second = load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert _entries(cache) == written
    assert [(d.name, d.memory, d.origin.file) for d in second.domains] == [
        (d.name, d.memory, d.origin.file) for d in first.domains
    ]


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    path = _write(specs, "a.yaml", _guest("web1"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    path.write_text(_guest("web1", "768M"))
    again = load_specs([str(specs)], BIG, cache_dir=str(cache))
    web1 = again.domain("web1")
    assert web1 is not None and web1.memory == 768


def test_a_new_file_that_clashes_with_a_cached_one_is_refused_naming_both_places(tmp_path: Path) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("web1"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    _write(specs, "b.yaml", _guest("web1"))
    with pytest.raises(SpecError) as caught:
        load_specs([str(specs)], BIG, cache_dir=str(cache))
    message = caught.value.message
    assert "b.yaml:2" in message and "declared twice" in message and "a.yaml:2" in message


def test_unchanged_specs_are_checked_again_against_a_host_with_less_memory(tmp_path: Path) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("big", "2G"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    with pytest.raises(SpecError, match="a small host"):
        load_specs([str(specs)], SMALL, cache_dir=str(cache))


def test_a_corrupt_cache_entry_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("web1"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    for name in _entries(cache):
        (cache / name).write_bytes(b"not a pickle")
    again = load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert again.domain("web1") is not None


def test_the_same_files_named_another_way_share_their_entries_and_keep_the_names_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("web1"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    written = _entries(cache)
    monkeypatch.chdir(tmp_path)
    os.symlink("specs", "linked")
    for name in ("specs", "./specs", "linked"):
        again = load_specs([name], BIG, cache_dir=str(cache))
        assert again.files == (os.path.normpath(os.path.join(name, "a.yaml")),)
        assert again.domains[0].origin.file == again.files[0]
    assert _entries(cache) == written  # one real file, one entry: no spelling parsed it again


def test_a_problem_across_files_names_a_cached_file_as_it_was_given_this_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("web1"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))  # a.yaml cached under its absolute name
    monkeypatch.chdir(tmp_path)
    _write(specs, "b.yaml", _guest("web1", "512M"))
    with pytest.raises(SpecError) as refused:
        load_specs(["specs"], BIG, cache_dir=str(cache))
    message = str(refused.value)
    assert "specs/a.yaml:" in message and "specs/b.yaml:" in message
    assert str(tmp_path) not in message


def _many(specs: Path, count: int) -> None:
    for i in range(count):
        _write(specs, f"part{i:02d}.yaml", _guest(f"dom{i:02d}", f"{64 + i}M"))


def _forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the helper processes a load starts (each one still runs)."""
    started: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            started.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return started


def test_a_cold_load_of_many_files_shares_the_parsing_with_a_helper_and_gives_the_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "specs"
    _many(specs, 20)
    started = _forks(monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    helped = load_specs([str(specs)], BIG, cache_dir=str(tmp_path / "cache"))
    assert len(started) == 1
    assert helped == load_specs([str(specs)], BIG)  # the same as a load with no cache at all
    assert [d.origin.file for d in helped.domains] == sorted(str(p) for p in specs.iterdir())
    pickles = [e for e in _entries(tmp_path / "cache") if e.endswith(".pickle")]
    assert len(pickles) == 20 + 2  # the whole, and its structure


def test_a_broken_file_in_the_helpers_half_is_reported_as_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "specs"
    _many(specs, 20)
    _write(specs, "part19.yaml", "domains:\n  - name: dom19\n    memory: lots\n    kernel: /boot/vmlinuz\n")
    with pytest.raises(SpecError) as alone:
        load_specs([str(specs)], BIG)
    started = _forks(monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with pytest.raises(SpecError) as helped:
        load_specs([str(specs)], BIG, cache_dir=str(tmp_path / "cache"))
    assert len(started) == 1
    assert str(helped.value) == str(alone.value)
    assert "part19.yaml:3:13: domains[dom19].memory" in str(helped.value)
    # mended, but with a name declared twice across the two halves: the checks across files
    _write(specs, "part19.yaml", _guest("dom00"))
    with pytest.raises(SpecError) as twice:
        load_specs([str(specs)], BIG, cache_dir=str(tmp_path / "cache"))
    assert "domain dom00 is declared twice: first in" in str(twice.value)


def test_a_helper_that_dies_half_way_leaves_the_rest_to_the_load_and_is_reaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "specs"
    _many(specs, 20)
    real = SpecCache.put

    def put(self: SpecCache, path: str, text: str, model: DesiredState) -> str:
        if path.endswith("part17.yaml") and os.getpid() != parent:
            os._exit(1)  # the helper, killed before it caches its last files
        return real(self, path, text, model)

    parent = os.getpid()
    monkeypatch.setattr(SpecCache, "put", put)
    started = _forks(monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    helped = load_specs([str(specs)], BIG, cache_dir=str(tmp_path / "cache"))
    assert len(started) == 1
    assert helped == load_specs([str(specs)], BIG)
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)  # waited for already: no process left behind


def test_the_helpers_share_is_half_the_text_less_what_reading_it_back_costs() -> None:
    short, long = ("a.yaml", "x" * 10), ("b.yaml", "x" * 1000)
    assert _halfway([short] * 10 + [long] * 10) == 15  # the short files count for little
    assert _halfway([long] * 20) == 10  # 9.5 files' worth of text is ours: the tenth is ours too
    assert _halfway([long, short]) == 1  # each side has a file at least


def test_a_one_core_machine_or_a_few_files_start_no_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = tmp_path / "specs"
    _many(specs, 20)
    started = _forks(monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    load_specs([str(specs)], BIG, cache_dir=str(tmp_path / "one-core"))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    _write(tmp_path / "few", "a.yaml", _guest("web1"))
    load_specs([str(tmp_path / "few")], BIG, cache_dir=str(tmp_path / "few-cache"))
    assert started == []


# -- the checks across files cost what changed ------------------------------------------------


def _pair(specs: Path) -> None:
    """Two files that depend on each other: app in one, its database (and its disk) in the other."""
    _write(
        specs,
        "app.yaml",
        "domains:\n  - name: app\n    memory: 256M\n    kernel: /boot/vmlinuz\n    depends_on: [db]\n"
        "    disks: [{phy: /dev/hda5, vdev: xvda}]\n",
    )
    _write(
        specs,
        "db.yaml",
        "domains:\n  - name: db\n    memory: 256M\n    kernel: /boot/vmlinuz\n"
        "    disks: [{phy: /dev/hda6, vdev: xvda}]\n",
    )


def _count_structure_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from xenctl.spec import checks

    calls: list[int] = []
    real = checks._duplicates

    def counted(desired: object) -> object:
        calls.append(1)
        return real(desired)  # type: ignore[arg-type]

    monkeypatch.setattr(checks, "_duplicates", counted)
    return calls


def test_an_edit_no_check_across_files_looks_at_skips_those_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _pair(specs)
    calls = _count_structure_checks(monkeypatch)
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert calls == [1]
    app = specs / "app.yaml"
    app.write_text(app.read_text().replace("memory: 256M", "memory: 300M"))
    again = load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert calls == [1]  # the structure that passed is the same: names, disks and dependencies
    assert again.domain("app").memory == 300  # type: ignore[union-attr]


def test_an_edit_of_one_file_checks_its_objects_alone_and_memory_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a load that passed, an edit of a domain's memory runs the rules of single objects on
    the edited file's domains only, and sums memory by file: a domain of another file is not looked at."""
    from xenctl.spec import checks

    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _many(specs, 12)
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    looked_at: list[str] = []
    real = checks._domain_rules

    def counted(desired: DesiredState) -> object:
        looked_at.extend(d.name for d in desired.domains)
        return real(desired)

    monkeypatch.setattr(checks, "_domain_rules", counted)
    edited = specs / "part03.yaml"
    edited.write_text(edited.read_text().replace("memory: 67M", "memory: 90M"))
    again = load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert again.domain("dom03") is not None and again.domain("dom03").memory == 90  # type: ignore[union-attr]
    assert looked_at == ["dom03"]


def test_an_edit_that_takes_the_running_domains_past_the_host_is_refused_as_a_cold_load_refuses_it(
    tmp_path: Path,
) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _many(specs, 12)  # 64M to 75M each, about 850M together
    small = Capacity(900, "a small host")
    load_specs([str(specs)], small, cache_dir=str(cache))
    edited = specs / "part03.yaml"
    edited.write_text(edited.read_text().replace("memory: 67M", "memory: 117M"))
    with pytest.raises(SpecError) as warm:
        load_specs([str(specs)], small, cache_dir=str(cache))
    with pytest.raises(SpecError) as cold:
        load_specs([str(specs)], small)
    assert "the running domains need" in str(warm.value) and str(warm.value) == str(cold.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("memory: 256M", "memory: 17000M"), "the test host"),  # memory: checked on every edit
        (("name: app", "name: db"), "domain db is declared twice"),
        (("depends_on: [db]", "depends_on: [nowhere]"), "domain nowhere is not declared"),
        (("/dev/hda5", "/dev/hda6"), "/dev/hda6"),  # the other file's guest holds it read-write
        (
            (
                "kernel: /boot/vmlinuz\n    depends",
                "bootloader: /usr/bin/pygrub\n    kernel: /boot/vmlinuz\n    depends",
            ),
            "not both",
        ),
    ],
)
def test_an_edit_after_a_load_that_passed_is_still_refused_when_it_breaks_a_rule(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _pair(specs)
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    app = specs / "app.yaml"
    app.write_text(app.read_text().replace(*edit))
    with pytest.raises(SpecError) as refused:
        load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert message in str(refused.value)


def test_a_dependency_cycle_made_by_editing_the_other_file_is_refused(tmp_path: Path) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _pair(specs)
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    db = specs / "db.yaml"
    db.write_text(db.read_text().replace("    disks:", "    depends_on: [app]\n    disks:"))
    with pytest.raises(SpecError) as refused:
        load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert "dependency cycle" in str(refused.value)


def _every_field(value: object) -> object:
    """A spec object as nested tuples of every field, those left out of ``==`` (origins) too."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            *((f.name, _every_field(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, tuple):
        return tuple(_every_field(item) for item in value)
    return value


def test_a_model_read_back_from_the_cache_has_every_field_of_the_one_built(tmp_path: Path) -> None:
    """Kept without the fields at their defaults, a model reads back whole: every field, the
    defaults too, and every origin."""
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(
        specs,
        "a.yaml",
        "storage:\n  volume_groups:\n    - {name: vg0, pvs: [/dev/sdb1]}\n"
        "  volumes:\n    - {name: root, lvm: {vg: vg0, size: 1G}, filesystem: ext3}\n"
        "    - {name: img, file: {path: img.img, size: 1G, sparse: false}}\n"
        "domains:\n"
        "  - {name: web1, memory: 256M, maxmem: 512M, vcpus: 2, kernel: /boot/vmlinuz-2.6.18-xen,\n"
        "     disks: [{volume: root, vdev: xvda}, {volume: img, vdev: xvdb, mode: r}],\n"
        "     vifs: [{bridge: xenbr0, mac: '00:16:3e:00:00:01'}], depends_on: [db], on_crash: preserve}\n"
        "  - {name: db, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen}\n"
        "  - {name: spare, memory: 64M, kernel: /boot/vmlinuz-2.6.18-xen, state: stopped}\n"
        "autostart:\n  - {domain: db, stop: save}\n  - {domain: web1, order: 20, after: [db], up: 5s}\n",
    )
    built = load_specs([str(specs)], BIG, cache_dir=str(cache))
    kept = load_specs([str(specs)], BIG, cache_dir=str(cache))
    assert kept == built
    assert _every_field(kept) == _every_field(built)
    db = kept.domain("db")
    assert db is not None and db.maxmem is None and "maxmem" not in vars(db)  # a default, read from the class


def test_a_load_whose_files_all_come_from_the_cache_does_not_import_pyyaml(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    _many(specs, 3)
    load_specs([str(specs)], BIG, cache_dir=str(tmp_path / "cache"))
    script = (
        "import sys\n"
        "from xenctl.spec.load import load_specs\n"
        f"load_specs([{str(specs)!r}], cache_dir={str(tmp_path / 'cache')!r})\n"
        "print('yaml' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
