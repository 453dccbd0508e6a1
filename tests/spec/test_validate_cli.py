"""``xenctl validate`` and ``xenctl schema``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import ROOT, run_xenctl
from xenctl.spec import yamlfile
from xenctl.spec.load import load_specs

EXAMPLES = ROOT / "specs" / "examples"
KERNEL = "/boot/vmlinuz-2.6.18-xen"


def _run_in(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real command from ``cwd`` (run_xenctl alone runs it from wherever pytest is)."""
    return run_xenctl(home, *args, cwd=cwd)


def _domain(name: str, memory: str = "256M") -> str:
    return f"  - name: {name}\n    memory: {memory}\n    kernel: {KERNEL}\n"


# --- validate ---


def test_validate_with_no_path_and_no_specs_directory_is_a_usage_error(tmp_path: Path) -> None:
    """Exit 1, as every error since the one exit-code rule (2 is kept for plan's "changes present")."""
    result = _run_in(tmp_path, tmp_path / "home", "validate")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "Error: name the spec files or directories to read (there is no ./specs directory)"


def test_validate_with_no_path_reads_the_specs_directory_here(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "web.yaml").write_text("domains:\n" + _domain("web1"), encoding="utf-8")
    result = _run_in(tmp_path, tmp_path / "home", "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 1 file: 1 domain, ")


def test_validate_with_several_files_prints_what_they_declare_together(tmp_path: Path) -> None:
    (tmp_path / "domains.yaml").write_text("domains:\n" + _domain("web1") + _domain("db", "1G"), encoding="utf-8")
    (tmp_path / "storage.yaml").write_text(
        "storage:\n"
        "  volume_groups: [{name: vg, pvs: [/dev/sda10]}]\n"
        "  volumes:\n"
        "    - {name: db-data, lvm: {vg: vg, size: 20G}}\n"
        "    - {name: web1-img, file: {path: web1.img, size: 2G}}\n"
        "  nfs_exports: [{name: webroot, server: 2.3.4.5, path: /export/web}]\n",
        encoding="utf-8",
    )
    (tmp_path / "autostart.yml").write_text("autostart:\n  - {domain: db}\n  - {domain: web1, after: [db]}\n")
    result = run_xenctl(
        tmp_path / "home",
        "validate",
        str(tmp_path / "domains.yaml"),
        str(tmp_path / "storage.yaml"),
        str(tmp_path / "autostart.yml"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: 3 files: 2 domains, 1 volume group, 2 volumes, 1 NFS export, 2 autostart entries\n"
    again = run_xenctl(tmp_path / "home", "validate", str(tmp_path))
    assert again.stdout == result.stdout


def test_validate_reads_a_directory_s_yaml_files_but_not_its_subdirectories_or_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text("domains:\n" + _domain("web1"), encoding="utf-8")
    (tmp_path / ".web.yaml.swp").write_text("not: [yaml", encoding="utf-8")
    (tmp_path / ".hidden.yaml").write_text("domains:\n" + _domain("web1"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("- not a spec\n", encoding="utf-8")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "web.yaml").write_text("domains:\n" + _domain("web1"), encoding="utf-8")
    result = run_xenctl(tmp_path / "home", "validate", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 1 file: 1 domain, ")


def test_validate_lists_every_problem_of_every_file_in_file_and_line_order_then_counts_them(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("domains:\n" + _domain("web1", "512 MB") + "    graphics: no\n")
    (tmp_path / "b.yaml").write_text("domains:\n" + _domain("db") + "    vcpus: 0\n")
    result = run_xenctl(tmp_path / "home", "validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"{tmp_path}/a.yaml:3:13: domains[web1].memory: '512 MB' is not a memory size; "
        "write 512M, 1G or a number of MiB (at most 16T)",
        f"{tmp_path}/a.yaml:5:15: domains[web1].graphics: 'no' is not true or false",
        f"{tmp_path}/b.yaml:5:12: domains[db].vcpus: 0 is less than 1, the least allowed",
        "3 problems in the specs.",
    ]


def test_validate_names_a_missing_path_and_a_directory_without_specs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_xenctl(tmp_path / "home", "validate", str(tmp_path / "nope.yaml"), str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'nope.yaml'}: no such file or directory" in result.stderr
    assert f"{tmp_path / 'empty'}: no *.yaml spec files in this directory" in result.stderr


def test_validate_checks_memory_against_the_host_in_xenctl_home(tmp_path: Path) -> None:
    profile = tmp_path / "small.yaml"
    profile.write_text("name: small1\nmemory: 2G\ndom0: {memory: 512M, min_mem: 196M}\n", encoding="utf-8")
    home = tmp_path / "home"
    made = run_xenctl(home, "host", "init", "--profile", str(profile))
    assert made.returncode == 0, made.stderr
    spec = tmp_path / "specs" / "big.yaml"
    spec.parent.mkdir()
    spec.write_text("domains:\n" + _domain("big", "3G"), encoding="utf-8")
    result = run_xenctl(home, "validate", str(spec))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{spec}:3:13: domains[big].memory: memory 3072M is more than host small1 ")
    fits = run_xenctl(tmp_path / "fresh-home", "validate", str(spec))
    assert fits.returncode == 0, fits.stderr  # the built-in 16 GiB host has room


def test_validate_rounds_a_size_up_to_a_whole_kib_as_dd_counts(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        "storage:\n"
        "  volume_groups: [{name: vg, pvs: [sda10]}]\n"
        "  volumes:\n"
        "    - {name: v, lvm: {vg: vg, size: 0.1K}}\n",
        encoding="utf-8",
    )
    result = run_xenctl(tmp_path / "home", "validate", str(spec))
    assert "Traceback" not in result.stderr
    assert result.returncode == 0
    assert load_specs([str(spec)]).volumes[0].size == 1024


def test_validate_does_not_create_a_host_in_an_empty_home(tmp_path: Path) -> None:
    spec = tmp_path / "web.yaml"
    spec.write_text("domains:\n" + _domain("web1"), encoding="utf-8")
    home = tmp_path / "home"
    result = run_xenctl(home, "validate", str(spec))
    assert result.returncode == 0, result.stderr
    assert not home.exists() or not any(home.iterdir())


# --- schema ---


@pytest.fixture(scope="module")
def printed_schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    result = run_xenctl(tmp_path_factory.mktemp("home"), "schema")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_schema_prints_a_valid_draft_2020_12_json_schema(printed_schema: dict[str, object]) -> None:
    assert printed_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed_schema)
    assert set(printed_schema["properties"]) == {"domains", "storage", "autostart", "hosts"}  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", sorted(EXAMPLES.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_printed_schema_accepts_every_example_file(printed_schema: dict[str, object], spec: Path) -> None:
    data = yamlfile.parse(spec.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(printed_schema).iter_errors(data))
    assert errors == []


@pytest.mark.parametrize(
    "data",
    [
        {"domains": [{"name": "web1", "memory": "512 MB"}]},
        {"domains": [{"name": "web1", "graphics": "no"}]},
        {"domains": [{"name": "web/1"}]},
        {"domains": [{"name": "web1", "vifs": [{"mac": 41135085296}]}]},
        {"domains": [{"memory": "512M"}]},
        {"storage": {"volumes": [{"name": "v", "lvm": {"vg": "vg", "size": "4G"}, "partition": "/dev/hda3"}]}},
        {"autostart": [{"domain": "web1", "up": "5 seconds"}]},
        {"domian": []},
    ],
    ids=[
        "memory-with-space",
        "no-for-boolean",
        "name-with-slash",
        "mac-as-number",
        "no-name",
        "two-kinds",
        "bad-up",
        "typo",
    ],
)
def test_the_printed_schema_refuses_common_mistakes(printed_schema: dict[str, object], data: object) -> None:
    assert list(jsonschema.Draft202012Validator(printed_schema).iter_errors(data)) != []


def test_the_printed_schema_describes_every_top_level_section_for_an_editor(printed_schema: dict[str, object]) -> None:
    properties = printed_schema["properties"]
    assert isinstance(properties, dict)
    assert all(section.get("description") for section in properties.values())
