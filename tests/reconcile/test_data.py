"""Promise 3: no data is lost without --destroy-data; the plan says what it keeps, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reconcile.support import (
    actions,
    apply_in_process,
    by_address,
    connect,
    converge,
    ok,
    plan_for,
    plan_json,
    volumes,
    write_spec,
    xenctl,
)

BASE = """
storage:
  volume_groups:
    - {name: vg, pvs: [/dev/sda10]}
    - {name: vg2, pvs: [/dev/sda11]}
  volumes:
    - name: data
      lvm: {vg: vg, size: 2G}
      filesystem: ext3
      populate: web root filesystem
    - name: other
      lvm: {vg: vg, size: 1G}
      filesystem: ext3
      populate: debian-etch root filesystem
    - name: img
      file: {path: img.img, size: 256M}
      filesystem: ext3
      populate: debian-etch root filesystem
"""

OTHER = """    - name: other
      lvm: {vg: vg, size: 1G}
      filesystem: ext3
      populate: debian-etch root filesystem
"""

# How the spec is edited, which volume that puts at risk, and what --destroy-data then does to it.
EDITS = {
    "removed": (lambda text: text.replace(OTHER, ""), "other", "delete"),
    "shrunk": (lambda text: text.replace("size: 2G", "size: 1G"), "data", "replace"),
    "moved to another vg": (lambda text: text.replace("{vg: vg, size: 2G}", "{vg: vg2, size: 2G}"), "data", "replace"),
    "image removed": (lambda text: text[: text.index("    - name: img")], "img", "delete"),
    "image shrunk": (lambda text: text.replace("size: 256M", "size: 128M"), "img", "replace"),
}
PATHS = {"data": "/dev/vg/data", "other": "/dev/vg/other", "img": "/var/lib/xen/images/img.img"}


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    spec = write_spec(tmp_path / "specs", BASE)
    converge(home, [spec])
    return home, spec


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_change_that_would_lose_data_is_retained_with_the_reason_and_the_volume_kept(
    edit: str, made: tuple[Path, Path]
) -> None:
    home, spec = made
    change_text, name, _forced = EDITS[edit]
    spec.write_text(change_text(BASE))
    before = volumes(home)

    plan = plan_for(home, [spec])
    (retained,) = plan.changes
    assert retained.address in (f"volume.{name}", f"volume.{PATHS[name].rsplit('/', 1)[-1]}")
    assert retained.action.value == "retain"
    assert "--destroy-data" in retained.reason
    assert plan.actionable == ()

    result = apply_in_process(plan, home)
    assert result.ok
    assert volumes(home) == before  # every volume still there, same size, same content


@pytest.mark.parametrize("edit", list(EDITS))
def test_with_destroy_data_the_volume_goes_or_is_made_again(edit: str, made: tuple[Path, Path]) -> None:
    home, spec = made
    change_text, name, forced = EDITS[edit]
    spec.write_text(change_text(BASE))
    before = volumes(home)

    plan = plan_for(home, [spec], destroy_data=True)
    (change,) = plan.changes
    assert change.address in (f"volume.{name}", f"volume.{PATHS[name].rsplit('/', 1)[-1]}")
    assert change.action.value == forced
    assert apply_in_process(plan, home).ok
    after = volumes(home)
    others = {p: v for p, v in before.items() if p != PATHS[name]}
    assert {p: v for p, v in after.items() if p in others} == others  # nothing else touched
    if forced == "delete":
        assert PATHS[name] not in after
    elif edit == "moved to another vg":
        assert "/dev/vg/data" not in after and "/dev/vg2/data" in after
    else:
        size, _digest = after[PATHS[name]]
        assert size < before[PATHS[name]][0]
        with connect(home) as host:  # made again: removed, then created (with the same content)
            ops = [e.op.rsplit("-", 1)[-1] for e in host.events() if e.obj in (PATHS[name], "vg/data")]
        assert "remove" in ops and "create" in ops[ops.index("remove") :]
    assert plan_for(home, [spec], destroy_data=True).changes == ()


@pytest.mark.parametrize("edit", ["removed", "shrunk", "moved to another vg"])
def test_plan_text_marks_a_retained_volume_with_a_bang_and_says_why(edit: str, made: tuple[Path, Path]) -> None:
    home, spec = made
    change_text, name, _forced = EDITS[edit]
    spec.write_text(change_text(BASE))
    before = volumes(home)

    text = ok(xenctl(home, "plan", str(spec))).stdout
    (line,) = [line for line in text.splitlines() if f"volume.{name}" in line]
    assert line.lstrip().startswith("!")
    assert "retained" in line and "--destroy-data" in line
    assert "1 retained" in text

    applied = ok(xenctl(home, "apply", "--auto-approve", str(spec)))
    assert "retained" in applied.stdout
    assert volumes(home) == before


@pytest.mark.parametrize(
    ("edit", "field"), [("shrunk", "size"), ("moved to another vg", "vg"), ("image shrunk", "size")]
)
def test_a_replacement_names_the_field_that_forces_it(edit: str, field: str, made: tuple[Path, Path]) -> None:
    home, spec = made
    change_text, _name, _forced = EDITS[edit]
    spec.write_text(change_text(BASE))
    (change,) = by_address(plan_json(home, "--destroy-data", str(spec))).values()
    assert change["change"]["actions"] == ["delete", "create"]
    assert change["change"]["replace_paths"] == [[field]]
    text = xenctl(home, "plan", "--destroy-data", str(spec)).stdout
    assert f"({field} forces it)" in text


def test_growing_a_volume_keeps_its_content(made: tuple[Path, Path]) -> None:
    home, spec = made
    spec.write_text(BASE.replace("size: 2G", "size: 3G"))
    before = volumes(home)
    plan = plan_for(home, [spec])
    assert actions(plan) == {"volume.data": "update"}
    assert apply_in_process(plan, home).ok
    size, digest = volumes(home)["/dev/vg/data"]
    assert size == 3 * 1024**3
    assert digest == before["/dev/vg/data"][1]


AS_IMAGE = BASE.replace("      lvm: {vg: vg, size: 1G}\n", "      file: {path: other.img, size: 1G}\n")


def test_a_volume_that_becomes_an_image_file_is_one_retained_replacement(made: tuple[Path, Path]) -> None:
    home, spec = made
    spec.write_text(AS_IMAGE)
    before = volumes(home)

    text = ok(xenctl(home, "plan", str(spec))).stdout
    (line,) = [line for line in text.splitlines() if "volume.other" in line]
    assert line.lstrip().startswith("!") and "(kind forces it)" in line
    assert "/dev/vg/other" in line and "/var/lib/xen/images/other.img" in line and "--destroy-data" in line
    assert "Plan: 0 to create, 0 to update, 0 to restart, 0 to replace, 0 to delete, 1 retained" in text
    ok(xenctl(home, "apply", "--auto-approve", str(spec)))
    assert volumes(home) == before
    assert actions(plan_for(home, [spec])) == {"volume.other": "retain"}


def test_with_destroy_data_a_volume_that_changes_kind_is_made_as_declared_and_converges(
    made: tuple[Path, Path],
) -> None:
    home, spec = made
    spec.write_text(AS_IMAGE)
    (change,) = by_address(plan_json(home, "--destroy-data", str(spec))).values()
    assert change["address"] == "volume.other"
    assert change["change"]["actions"] == ["delete", "create"]
    assert change["change"]["replace_paths"] == [["kind"]]

    ok(xenctl(home, "apply", "--auto-approve", "--destroy-data", str(spec)))
    after = volumes(home)
    assert "/dev/vg/other" not in after and "/var/lib/xen/images/other.img" in after
    with connect(home) as host:
        (image,) = [i for i in host.snapshot().images if i.path.endswith("/other.img")]
    assert (image.filesystem, image.written) == ("ext3", True)  # formatted and filled, as declared
    assert "No changes" in ok(xenctl(home, "plan", str(spec))).stdout
    assert "No changes" in ok(xenctl(home, "plan", "--destroy-data", str(spec))).stdout

    # and back: the image, named as the volume, becomes a logical volume again
    spec.write_text(AS_IMAGE.replace("path: other.img", "path: other"))
    ok(xenctl(home, "apply", "--auto-approve", "--destroy-data", str(spec)))
    spec.write_text(BASE)
    assert actions(plan_for(home, [spec])) == {"volume.other": "retain"}
    ok(xenctl(home, "apply", "--auto-approve", "--destroy-data", str(spec)))
    assert "/dev/vg/other" in volumes(home) and "/var/lib/xen/images/other" not in volumes(home)
    assert "No changes" in ok(xenctl(home, "plan", str(spec))).stdout


def test_a_guest_on_a_volume_that_changes_kind_is_never_planned_onto_a_volume_that_will_not_exist(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    used = BASE + (
        "domains:\n  - {name: web1, memory: 128M, kernel: /boot/vmlinuz-2.6.18-xen, "
        "disks: [{volume: other, vdev: sda1}]}\n"
    )
    spec = write_spec(tmp_path / "specs", used)
    converge(home, [spec])
    spec.write_text(used.replace("      lvm: {vg: vg, size: 1G}\n", "      file: {path: other.img, size: 1G}\n"))

    kept = xenctl(home, "plan", str(spec))
    assert kept.returncode == 1 and "Traceback" not in kept.stderr
    assert "web1 wants /var/lib/xen/images/other.img, which the plan does not make" in kept.stderr
    assert "volume.other is retained" in kept.stderr
    held = xenctl(home, "plan", "--destroy-data", str(spec))
    assert held.returncode == 1 and "volume other is held by web1; stop it first" in held.stderr

    spec.write_text(spec.read_text().replace("disks: [{volume: other", "state: stopped, disks: [{volume: other"))
    ok(xenctl(home, "apply", "--auto-approve", "--destroy-data", str(spec)))
    spec.write_text(spec.read_text().replace("state: stopped, ", ""))
    ok(xenctl(home, "apply", "--auto-approve", str(spec)))
    with connect(home) as host:
        web1 = host.snapshot().domain("web1")
    assert web1 is not None and web1.config.disks[0].target == "/var/lib/xen/images/other.img"
    assert "No changes" in ok(xenctl(home, "plan", str(spec))).stdout
