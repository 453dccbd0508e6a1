"""Specs loaded against the last plan's records: the files nobody edited are read only when a plan
asks for one of their objects, and every answer is the one the specs read whole would give."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

from xenctl.errors import SpecError
from xenctl.reconcile.incremental import records
from xenctl.spec.cache import SpecCache
from xenctl.spec.checks import Capacity
from xenctl.spec.load import Loaded, load_specs
from xenctl.spec.model import DesiredState
from xenctl.spec.parted import FileRecord, PartedDesired

BIG = Capacity(16124, "the test host")
ROOT = BIG.storage_root

GROUPS = """\
storage:
  volume_groups:
    - {name: data, pvs: [/dev/sda10]}
  volumes:
    - {name: shared-img, file: {path: shared.img, size: 64M}}
    - {name: spare, partition: /dev/hda3}
domains:
  - {name: aux, memory: 64M, kernel: /boot/vmlinuz, disks: [{volume: spare, vdev: xvda}, {phy: /dev/hda4, vdev: xvdb}]}
"""


def web(first: int, count: int, memory: str = "128M") -> str:
    """Domains web<first>.. with a volume each, an address, an autostart entry; one stopped."""
    numbers = range(first, first + count)
    volumes = "".join(f"    - {{name: web{i}-root, lvm: {{vg: data, size: 8M}}}}\n" for i in numbers)
    domains = "".join(
        f"  - {{name: web{i}, memory: {memory}, kernel: /boot/vmlinuz, ip: 10.0.0.{i},"
        f" state: {'stopped' if i == first else 'running'},"
        f" disks: [{{volume: web{i}-root, vdev: xvda}}, {{file: /srv/xen/web{i}.img, vdev: xvdb}},"
        f" {{volume: shared-img, vdev: xvdc, mode: r}}]}}\n"
        for i in range(first, first + count)
    )
    entries = "".join(f"  - {{domain: web{i}, file: 20-web{i}}}\n" for i in range(first, first + count))
    return f"storage:\n  volumes:\n{volumes}domains:\n{domains}autostart:\n{entries}"


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "specs"
    directory.mkdir()
    (directory / "groups.yaml").write_text(GROUPS)
    for n in range(4):
        (directory / f"web{n}.yaml").write_text(web(n * 10 + 1, 5))
    return directory


def load(
    specs: Path, cache: Path, known: dict[str, FileRecord] | None = None
) -> tuple[DesiredState, dict[str, Loaded]]:
    models: dict[str, Loaded] = {}
    return load_specs([str(specs)], BIG, cache_dir=str(cache), models=models, known=known), models


def known_from(models: dict[str, Loaded]) -> dict[str, FileRecord]:
    kept = records(models)
    assert kept is not None
    return {record.entry: record for record in kept}


def test_after_one_edit_only_the_edited_file_is_read_and_the_others_when_asked_for(specs: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _whole, models = load(specs, cache)
    (specs / "web2.yaml").write_text(web(21, 5, memory="96M"))
    with mock.patch.object(SpecCache, "kept_at", wraps=SpecCache(str(cache)).kept_at) as reads:
        parted, found = load(specs, cache, known_from(models))
        assert isinstance(parted, PartedDesired)
        edited, other = str(specs / "web2.yaml"), str(specs / "web3.yaml")
        assert [c.args[1] for c in reads.call_args_list] == [edited]  # looked for, not found: built
        assert [path for path, f in found.items() if f.model is not None] == [edited]
        web32 = parted.domain("web32")  # in web3.yaml: that file alone is read
        assert web32 is not None and web32.origin.file == other
        assert [c.args[1] for c in reads.call_args_list] == [edited, other]


def test_a_parted_state_answers_every_question_as_the_whole_one(specs: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _first, models = load(specs, cache)
    (specs / "web1.yaml").write_text(web(11, 5, memory="64M"))
    parted, _found = load(specs, cache, known_from(models))
    whole = load_specs([str(specs)], BIG)  # no cache: read and merged whole
    assert isinstance(parted, PartedDesired) and not isinstance(whole, PartedDesired)
    # what a plan after an edit asks without reading the files
    assert set(parted.domain_names()) == set(whole.domain_names())
    assert parted.domain_count() == whole.domain_count() == 21
    assert parted.entry_names() == whole.entry_names()
    assert parted.entry_names({"web12", "web33"}) == whole.entry_names({"web12", "web33"}) == {"20-web12", "20-web33"}
    assert parted.running_memory() == whole.running_memory() == (17, 4 * 64 + 12 * 128 + 64)
    # each running domain's own image file, and the image volume all share
    assert parted.file_disk_count() == whole.file_disk_count() == 32
    assert parted.declares_snapshots() is whole.declares_snapshots() is False
    # the domains on devices a guest made by hand holds (each kind of volume, a device, an image file)
    for held in (
        {"/dev/data/web24-root"},
        {"/srv/xen/web31.img", "/dev/hda3"},
        {"/dev/hda4"},
        {f"{ROOT}/shared.img"},
        {"/dev/data/nosuch", "/dev/sdz"},
    ):
        assert parted.disks_on(held, ROOT) == whole.disks_on(held, ROOT), held
    for name in ("web1", "web24", "web35", "nosuch"):
        assert parted.domain(name) == whole.domain(name)
    assert parted.volume("web24-root") == whole.volume("web24-root")
    assert parted.volume("shared-img") == whole.volume("shared-img")
    assert parted.entry("20-web13") == whole.entry("20-web13")
    assert parted.domain_with_ip("10.0.0.34") == whole.domain_with_ip("10.0.0.34") == "web34"
    # and whole, kind by kind, merged as the files are
    assert parted.volume_groups == whole.volume_groups
    assert parted.domains == whole.domains
    assert parted.volumes == whole.volumes
    assert parted.autostart == whole.autostart
    assert parted.disk_targets(ROOT) == whole.disk_targets(ROOT)
    assert parted.files == whole.files


def test_an_address_two_domains_share_names_the_first_by_name_as_the_whole_state_does(tmp_path: Path) -> None:
    """The checks allow two domains one address; an NFS root served there names the first."""
    specs, cache = tmp_path / "specs", tmp_path / "cache"
    specs.mkdir()
    guest = "  - {{name: {}, memory: 64M, kernel: /boot/vmlinuz, ip: 10.0.0.5}}\n"
    (specs / "a.yaml").write_text("domains:\n" + guest.format("srvz") + guest.format("srvy"))
    (specs / "b.yaml").write_text("domains:\n" + guest.format("srvb"))
    (specs / "c.yaml").write_text("domains:\n  - {name: client, memory: 64M, kernel: /boot/vmlinuz}\n")
    _first, models = load(specs, cache)
    (specs / "c.yaml").write_text("domains:\n  - {name: client, memory: 96M, kernel: /boot/vmlinuz}\n")
    parted, _found = load(specs, cache, known_from(models))
    whole = load_specs([str(specs)], BIG)
    assert isinstance(parted, PartedDesired)
    assert parted.domain_with_ip("10.0.0.5") == whole.domain_with_ip("10.0.0.5") == "srvb"


def test_a_file_whose_cached_model_is_gone_is_built_again_from_its_text(specs: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _whole, models = load(specs, cache)
    known = known_from(models)
    (specs / "web0.yaml").write_text(web(1, 5, memory="96M"))
    for pickled in cache.iterdir():  # the spec cache pruned: only the records of the basis are left
        os.unlink(pickled)
    parted, _found = load(specs, cache, known)
    web23 = parted.domain("web23")
    assert web23 is not None and web23.memory == 128 and web23.origin.file == str(specs / "web2.yaml")


def test_an_edit_a_check_across_files_refuses_names_both_files(specs: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _whole, models = load(specs, cache)
    known = known_from(models)
    # web0.yaml now declares web33, which web3.yaml declares too: the files are read whole and checked
    (specs / "web0.yaml").write_text(web(1, 5).replace("name: web3,", "name: web33,"))
    with pytest.raises(SpecError) as refused:
        load(specs, cache, known)
    message = str(refused.value)
    assert "domain web33 is declared twice" in message
    assert "web0.yaml" in message and "web3.yaml" in message


def test_specs_past_the_hosts_memory_after_an_edit_are_refused(specs: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _whole, models = load(specs, cache)
    (specs / "web3.yaml").write_text(web(31, 5, memory="4000M"))
    with pytest.raises(SpecError) as refused:
        load(specs, cache, known_from(models))
    assert "17634M together" in str(refused.value) and "at most 16124M" in str(refused.value)
