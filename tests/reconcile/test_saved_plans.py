"""Promise 4: a saved plan is applied exactly as it was made, and refused when the host has changed since."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import domain
from tests.reconcile.support import EXAMPLES, WEBFARM, connect, converge, host_state, ok, plan_for, xenctl

# An example, and the domain whose memory the edited spec raises, from its memory to 320M.
HOSTS = {
    "a small host": (EXAMPLES / "nfs-root", "nfsvm", "memory: 256M"),
    "a host with a dozen objects": (WEBFARM, "web2", "memory: 512M"),
}


def _edited(host: str, tmp_path: Path) -> tuple[Path, Path, str]:
    """A home with the example applied, and a copy of its specs that changes one domain's memory."""
    example, name, old = HOSTS[host]
    home = tmp_path / "home"
    converge(home, [example])
    specs = tmp_path / "specs"
    shutil.copytree(example, specs)
    for path in specs.glob("*.yaml"):
        text = path.read_text()
        if old in text and f"name: {name}" in text:
            head, _sep, tail = text.partition(f"name: {name}\n")
            path.write_text(head + f"name: {name}\n" + tail.replace(old, "memory: 320M", 1))
    return home, specs, name


@pytest.mark.parametrize("host", list(HOSTS))
def test_a_fresh_saved_plan_applies_and_the_host_then_matches(host: str, tmp_path: Path) -> None:
    home, specs, name = _edited(host, tmp_path)
    planfile = tmp_path / "p.json"
    made = ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    assert f"domain.{name}" in made.stdout

    applied = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"domain.{name}" in applied.stdout and "Apply complete" in applied.stdout
    assert xenctl(home, "plan", "--detailed-exitcode", str(specs)).returncode == 0

    twice = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert twice.returncode == 1  # the plan was for the host as it was before
    assert "stale" in twice.stderr and f"domain.{name}" in twice.stderr


@pytest.mark.parametrize("host", list(HOSTS))
def test_a_saved_plan_is_refused_once_the_host_has_changed_naming_what_changed(host: str, tmp_path: Path) -> None:
    home, specs, name = _edited(host, tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    ok(xenctl(home, "mem-set", name, "200"))
    before = host_state(home)

    refused = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert refused.returncode == 1
    assert "stale" in refused.stderr
    assert f"domain.{name}" in refused.stderr and "memory" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert host_state(home) == before


def test_a_saved_plan_is_refused_when_a_domain_has_appeared_by_hand(tmp_path: Path) -> None:
    home, specs, _domain = _edited("a small host", tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    with connect(home) as live:
        live.create_domain(domain("intruder", 64))

    refused = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert refused.returncode == 1
    assert "domain.intruder" in refused.stderr


def test_a_saved_plan_runs_the_specs_it_was_made_from_not_the_files_as_they_are_now(tmp_path: Path) -> None:
    home, specs, name = _edited("a small host", tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    for path in specs.glob("*.yaml"):
        path.write_text(path.read_text().replace("320M", "384M"))

    ok(xenctl(home, "apply", "--auto-approve", str(planfile)))
    with connect(home) as host:
        live = host.snapshot().domain(name)
    assert live is not None and live.target == 320
    assert [c.address for c in plan_for(home, [specs]).changes] == [f"domain.{name}"]


DATA_VOLUME = """\
storage:
  volume_groups:
    - {name: vg, pvs: [/dev/sda10]}
  volumes:
    - name: data
      lvm: {vg: vg, size: 64M}
"""


def test_a_saved_destroy_data_plan_is_refused_after_a_guest_wrote_to_the_volume_it_would_delete(
    tmp_path: Path,
) -> None:
    import time

    from tests.helpers import disk
    from xenctl.engine.sim import SystemClock, open_host

    home, specs = tmp_path / "home", tmp_path / "specs"
    specs.mkdir()
    (specs / "data.yaml").write_text(DATA_VOLUME)
    converge(home, [specs])
    (specs / "data.yaml").write_text(DATA_VOLUME.split("  volumes:")[0])  # the volume leaves the specs
    planfile = tmp_path / "p.json"
    made = ok(xenctl(home, "plan", "--destroy-data", "--out", str(planfile), str(specs)))
    assert "volume.data" in made.stdout and "delete" in made.stdout

    # A guest made by hand writes to the volume, and is gone again: only the data changed.
    with open_host(str(home), clock=SystemClock(1.0)) as writer:
        writer.create_domain(domain("scribe", 64, disks=[disk("/dev/vg/data", "sda1", "w")]))
        time.sleep(0.5)
        writer.destroy_domain("scribe")

    refused = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert refused.returncode == 1
    assert "stale" in refused.stderr and "lv./dev/vg/data changed: content" in refused.stderr
    with connect(home) as host:
        assert [lv.name for lv in host.snapshot().logical_volumes] == ["data"]


def test_a_saved_destroy_data_plan_still_applies_when_the_data_is_untouched(tmp_path: Path) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    specs.mkdir()
    (specs / "data.yaml").write_text(DATA_VOLUME)
    converge(home, [specs])
    (specs / "data.yaml").write_text(DATA_VOLUME.split("  volumes:")[0])
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--destroy-data", "--out", str(planfile), str(specs)))
    applied = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert applied.returncode == 0, applied.stderr
    with connect(home) as host:
        assert host.snapshot().logical_volumes == ()


def test_a_saved_plan_runs_with_the_values_it_was_made_with_even_when_its_specs_are_gone(tmp_path: Path) -> None:
    home, specs, name = _edited("a small host", tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    shutil.rmtree(specs)  # apply reads no spec: the plan holds what it needs
    applied = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert applied.returncode == 0, applied.stderr
    with connect(home) as host:
        assert host.domain(name).target == 320


def test_a_plan_file_whose_values_were_tampered_with_is_refused_naming_the_field(tmp_path: Path) -> None:
    import json

    home, specs, name = _edited("a small host", tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    data = json.loads(planfile.read_text())
    data["values"][f"domain.{name}"]["values"]["config"]["memory"] = "lots"
    planfile.write_text(json.dumps(data))
    before = host_state(home)
    refused = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert refused.returncode == 1
    assert f"values[domain.{name}].config.memory: not a whole number" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert host_state(home) == before


def test_a_plan_file_of_an_older_format_is_refused_with_a_word_on_what_to_do(tmp_path: Path) -> None:
    home, specs, _name = _edited("a small host", tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    planfile.write_text(planfile.read_text().replace('"xenctl-plan/2"', '"xenctl-plan/1"', 1))
    refused = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert refused.returncode == 1 and "make a new plan" in refused.stderr


# A saved plan is input like any other: each damage, the field the one-line refusal names.
DAMAGES = {
    "a lone surrogate in a spec's text": (("sources", 0, "text"), "domains: []\n# \ud800\n", "sources[0].text"),
    "a lone surrogate in an address": (("fingerprints",), {"domain.\udc00": {}}, "fingerprints.domain.\\udc00"),
    "an option of the wrong type": (("options", "adopt"), "yes", "options.adopt"),
    "an option xenctl never writes": (("options", "force"), True, "options.force"),
    "a spec without its text": (("sources", 0), {"path": "a.yaml"}, "sources[0].text"),
    "a spec path that is a number": (("sources", 0, "path"), 7, "sources[0].path"),
    "a change without an action": (("plan", "resource_changes"), [{"address": "domain.x", "change": {}}],
                                   "plan.resource_changes[0].change.xenctl_action"),
    "a fingerprint that is not an object": (("fingerprints", "domain.web1"), [1], "fingerprints[domain.web1]"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_saved_plan_is_refused_in_one_line_naming_the_file_and_the_field(damage: str, tmp_path: Path) -> None:
    home, specs, _name = _edited("a small host", tmp_path)
    planfile = tmp_path / "p.json"
    ok(xenctl(home, "plan", "--out", str(planfile), str(specs)))
    where, value, field = DAMAGES[damage]
    data = json.loads(planfile.read_text())
    parent = data
    for part in where[:-1]:
        parent = parent[part]
    parent[where[-1]] = value
    planfile.write_text(json.dumps(data))  # JSON escapes a lone surrogate as \ud800, as a hand could
    before = host_state(home)

    refused = xenctl(home, "apply", "--auto-approve", str(planfile))
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"Error: {planfile}: {field}: ")
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert host_state(home) == before
