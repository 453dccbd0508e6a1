"""The spec cache: a plan over unchanged specs reuses their checked models, and never serves a
stale answer: an edited file, a new file, or a host with less memory is checked again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xenctl.errors import SpecError
from xenctl.spec.checks import Capacity
from xenctl.spec.load import load_specs

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


def test_the_same_files_named_another_way_keep_the_names_they_were_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    _write(specs, "a.yaml", _guest("web1"))
    load_specs([str(specs)], BIG, cache_dir=str(cache))
    monkeypatch.chdir(tmp_path)
    relative = load_specs(["specs"], BIG, cache_dir=str(cache))
    assert relative.domains[0].origin.file == os.path.join("specs", "a.yaml")
