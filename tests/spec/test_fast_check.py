"""The compiled fast check leaves "exactly one of these keys" to plain code; it must refuse what
the schema refuses, wherever in a file the mistake is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xenctl.errors import SpecError
from xenctl.spec import devices, validate
from xenctl.spec.load import load_specs
from xenctl.spec.schema import schema


def _choice_groups(node: Any) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        found = [tuple(node["x-choices"])] if "x-choices" in node else []
        return found + [g for v in node.values() for g in _choice_groups(v)]
    if isinstance(node, list):
        return [g for v in node for g in _choice_groups(v)]
    return []


def test_every_exactly_one_of_rule_in_the_schema_is_checked_by_the_fast_path() -> None:
    assert sorted(_choice_groups(schema())) == sorted([devices.DISK_CHOICES, validate._VOLUME_CHOICES])


DISKS = """
domains:
  - name: web1
    memory: 64M
    kernel: /boot/vmlinuz
    disks:
      - {phy: /dev/hda1, vdev: xvda}
      - {phy: /dev/hdb1, file: /srv/x.img, vdev: xvdb}
"""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (DISKS, "exactly one of volume, phy, file or nbd"),
        (DISKS.replace("file: /srv/x.img", "cdrom: true, nbd: {host: nbd1, port: 20004}"), "exactly one of volume"),
        (DISKS.replace("phy: /dev/hdb1, file: /srv/x.img", "cdrom: false"), "only an empty cdrom names none"),
        (
            "storage:\n  volumes:\n    - {name: a, lvm: {vg: vg, size: 4M}}\n"
            "    - {name: b, lvm: {vg: vg, size: 4M}, partition: /dev/hda3}\n",
            "exactly one of lvm, file or partition",
        ),
    ],
)
def test_a_second_item_naming_two_kinds_is_refused(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=words):
        load_specs([str(path)])


def test_the_compiled_code_names_list_items_with_f_strings_not_with_all_its_locals() -> None:
    named = validate._without_locals('p + ".disks[{data__disks_x}]".format(**locals())')
    assert named == 'p + f".disks[{data__disks_x}]"'
    for kept in ('"{a.b}".format(**locals())', '"\\n{x}".format(**locals())', '"{x}".format(x=1)'):
        assert validate._without_locals(kept) == kept  # anything but plain names is left as it is
