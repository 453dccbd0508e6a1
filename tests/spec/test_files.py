"""Which files are spec files, and the real path each is known by (what every cache keys on)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xenctl.spec.files import real_paths, spec_files


def test_real_paths_are_what_realpath_gives_through_linked_files_and_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text("domains: []\n")
    (tmp_path / "elsewhere" / "b.yaml").write_text("domains: []\n")
    (tmp_path / "specs" / "b.yaml").symlink_to(tmp_path / "elsewhere" / "b.yaml")
    (tmp_path / "linked").symlink_to(tmp_path / "specs")
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "linked").symlink_to(Path("..") / "specs")  # its parent is not the link's
    monkeypatch.chdir(tmp_path)
    given = [
        "specs/a.yaml",
        "specs/b.yaml",
        "linked/a.yaml",
        str(tmp_path / "linked" / "b.yaml"),
        "linked/../elsewhere/b.yaml",  # .. of the directory the link leads to
        "deep/linked/../a.yaml",  # tmp/a.yaml, not tmp/deep/a.yaml
        "a.yaml",
    ]
    (tmp_path / "a.yaml").write_text("domains: []\n")
    assert real_paths(given) == [os.path.realpath(path) for path in given]
    assert real_paths(given)[2] == str(tmp_path.resolve() / "specs" / "a.yaml")
    assert real_paths(given)[1] == str(tmp_path.resolve() / "elsewhere" / "b.yaml")
    assert real_paths(given)[5] == str(tmp_path.resolve() / "a.yaml")


def test_a_directory_gives_its_yaml_files_by_name_and_no_hidden_or_other_files(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", ".hidden.yaml", "notes.txt"):
        (tmp_path / name).write_text("domains: []\n")
    (tmp_path / "dir.yaml").mkdir()  # a directory named like a spec file is none
    (tmp_path / "link.yaml").symlink_to(tmp_path / "b.yaml")  # a link to a file is one
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "gone.yaml")
    found, issues = spec_files([str(tmp_path)])
    assert [os.path.basename(f) for f in found] == ["a.yml", "b.yaml", "link.yaml"]
    assert issues == []
