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
