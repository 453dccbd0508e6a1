"""``xenctl import --from-host`` on a libvirt host: the spec it writes validates and plans to no
changes with no extra flag, checked on libvirt's own example host (tests data/testnode, written
by the libvirt project) and on a host with storage made by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.engine.libvirt.libvirt_specs import DATA
from tests.helpers import run_xenctl


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def xenctl(tmp_path: Path, url: str, *args: str) -> tuple[int, str, str]:
    done = run_xenctl(tmp_path / "home", "-c", url, *args)
    return done.returncode, done.stdout, done.stderr


def libvirts_host(tmp_path: Path) -> str:
    """libvirt's own example host, copied whole (its files name each other)."""
    shutil.copytree(DATA / "testnode", tmp_path / "testnode")
    return f"test://{tmp_path / 'testnode' / 'testnode.xml'}"


def test_libvirts_own_example_host_lists_its_domains(tmp_path: Path) -> None:
    code, out, err = xenctl(tmp_path, libvirts_host(tmp_path), "list")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["Domain-0", "fc4", "fv0"]


def test_libvirts_own_example_host_imports_to_a_spec_that_plans_to_no_changes(tmp_path: Path) -> None:
    url = libvirts_host(tmp_path)
    spec = tmp_path / "specs" / "host.yaml"
    code, _out, err = xenctl(tmp_path, url, "import", "--from-host", "-o", str(spec))
    assert code == 0, err
    assert "2 objects of the host recorded as xenctl's" in err
    domains = {d["name"]: d for d in yaml.safe_load(spec.read_text())["domains"]}
    assert sorted(domains) == ["fc4", "fv0"]
    assert domains["fc4"]["disks"] == [{"file": "/u/fc4.img", "vdev": "sda1"}]
    assert domains["fv0"]["hvm"]["boot"] == "c"
    code, out, err = xenctl(tmp_path, url, "validate", str(spec))
    assert code == 0, err
    code, out, err = xenctl(tmp_path, url, "plan", "--detailed-exitcode", str(spec))
    assert code == 0, out + err
    assert "No changes." in out and "Not made by xenctl" not in out


def test_a_domain_made_again_by_hand_under_an_imported_name_is_not_taken(tmp_path: Path) -> None:
    url = libvirts_host(tmp_path)
    spec = tmp_path / "host.yaml"
    assert xenctl(tmp_path, url, "import", "--from-host", "-o", str(spec))[0] == 0
    domain = tmp_path / "testnode" / "testdomfc4.xml"
    uuid = "EF86180145B911CB88E3AFBFE5370493"
    domain.write_text(domain.read_text().replace(uuid, uuid[:-1] + "4"))
    code, _out, err = xenctl(tmp_path, url, "plan", str(spec))
    assert code == 1
    assert "the specs name objects xenctl did not make (give --adopt to take them over): domain.fc4" in err


def test_without_an_import_a_spec_naming_hand_made_domains_needs_adopt(tmp_path: Path) -> None:
    url = libvirts_host(tmp_path)
    spec = tmp_path / "host.yaml"
    code, out, err = xenctl(tmp_path, url, "import", "--from-host")
    assert code == 0, err
    other = tmp_path / "other-cache"
    spec.write_text(out)
    done = run_xenctl(tmp_path / "home", "-c", url, "plan", str(spec), env={"XDG_CACHE_HOME": str(other)})
    assert done.returncode == 1 and "--adopt" in done.stderr


def test_a_host_with_pools_imports_its_groups_volumes_and_snapshots_and_plans_to_no_changes(tmp_path: Path) -> None:
    url = f"test://{DATA / 'storage-node.xml'}"
    spec = tmp_path / "host.yaml"
    code, _out, err = xenctl(tmp_path, url, "import", "--from-host", "-o", str(spec))
    assert code == 0, err
    storage = yaml.safe_load(spec.read_text())["storage"]
    assert storage["volume_groups"] == [{"name": "vg", "pvs": ["/dev/sdb1", "/dev/sdc1"]}]
    volumes = {v["name"]: v for v in storage["volumes"]}
    assert volumes["web1-root"] == {"name": "web1-root", "lvm": {"vg": "vg", "size": "512M", "snapshot_of": "gold"}}
    assert volumes["spare"]["file"] == {"path": "/var/lib/libvirt/images/spare.img", "size": "1G", "sparse": False}
    code, out, err = xenctl(tmp_path, url, "plan", "--detailed-exitcode", str(spec))
    assert code == 0, out + err
    assert "No changes." in out
