"""A plan after an edit, made from the last plan's basis, is exactly the plan made in full.

Each test builds a host from three spec files (LVM volumes, a snapshot, an image file, a domain
declared stopped, one paused, autostart entries) with ``xenctl apply``, adds two guests made by
hand (byhand on a partition, loner on an image file made by hand) and an autostart entry placed
by hand, and plans once: that plan leaves its basis under ``cache/plans``. Then the specs are
edited and planned again (the incremental plan), and planned once more with ``cache/plans`` out
of the way (the full plan): exit code, stdout and stderr must be the same, as text and as JSON.
The reads of the whole host (``SimHost.snapshot``) and of parts of it (``snapshot_of``) are
counted, to know which way the plan was made.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import disk, domain
from xenctl.cli.main import main
from xenctl.engine.api import Selection
from xenctl.engine.sim import SystemClock, open_host
from xenctl.engine.sim.host import SimHost

KERNEL = "/boot/vmlinuz-2.6.18-xen"
HAND_MADE = 'name = "byhand"\nmemory = 192\nkernel = "/boot/vmlinuz-2.6.18-xen"\ndisk = ["phy:hda3,sda1,w"]\n'

LONER_IMAGE = "/var/lib/xen/images/loner.img"
LEFT_ALONE = "autostart.byhand, domain.byhand, domain.loner, volume.loner.img"

Model = dict[str, Any]  # file name -> the YAML document of that spec file
Choose = Callable[[list[Any]], Any]


class NotApplicable(Exception):
    """The edit has nothing to work on in these specs (all domains of that kind are gone)."""


def guest(name: str, memory: int, **more: Any) -> dict[str, Any]:
    return {"name": name, "memory": memory, "kernel": KERNEL, "vifs": [{"bridge": "xenbr0"}], **more}


def initial_specs() -> Model:
    return {
        "storage.yaml": {
            "storage": {
                "volume_groups": [{"name": "data", "pvs": ["/dev/sda10"]}],
                "volumes": [
                    {
                        "name": "app-root",
                        "lvm": {"vg": "data", "size": "2G"},
                        "filesystem": "ext3",
                        "populate": "debian-etch root filesystem",
                    },
                    {"name": "app-snap", "lvm": {"vg": "data", "snapshot_of": "app-root", "size": "256M"}},
                    {"name": "db-root", "lvm": {"vg": "data", "size": "2G"}, "filesystem": "ext3"},
                    {"name": "db-data", "lvm": {"vg": "data", "size": "4G"}, "filesystem": "ext3"},
                    {"name": "img1", "file": {"path": "img1.img", "size": "1G", "sparse": True}, "filesystem": "ext3"},
                ],
            }
        },
        "front.yaml": {
            "domains": [
                guest(
                    "app1",
                    256,
                    maxmem=512,
                    vcpus=1,
                    maxvcpus=2,
                    root="/dev/sda1 ro",
                    disks=[{"volume": "app-root", "vdev": "sda1"}],
                    depends_on=["db"],
                ),
                guest("app2", 128, disks=[{"volume": "app-snap", "vdev": "sda1"}]),
                guest("imgvm", 128, disks=[{"volume": "img1", "vdev": "sda1"}]),
            ],
            "autostart": [
                {"domain": "app1", "order": 20, "after": ["db"]},
                {"domain": "imgvm", "file": "50-imgvm"},
            ],
        },
        "back.yaml": {
            "domains": [
                guest(
                    "db",
                    512,
                    maxmem=1024,
                    vcpus=2,
                    disks=[{"volume": "db-root", "vdev": "sda1"}, {"volume": "db-data", "vdev": "sda2"}],
                ),
                guest("parked", 128, state="stopped"),
                guest("frozen", 128, state="paused"),
            ],
            "autostart": [{"domain": "db", "order": 10, "up": "5s", "stop": "save"}],
        },
    }


# -- running xenctl -------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    snapshots: int  # how many times the whole host was read
    parts: int  # how many times a part of it was read (an incremental plan: once)

    @property
    def output(self) -> tuple[int, str, str]:
        return (self.code, self.stdout, self.stderr)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def counting_reads() -> Iterator[list[int]]:
    """Count the reads of the whole host (``SimHost.snapshot``) and of parts of it
    (``SimHost.snapshot_of``) while the block runs."""
    calls = [0, 0]
    whole, part = SimHost.snapshot, SimHost.snapshot_of

    def snapshot(self: SimHost) -> Any:
        calls[0] += 1
        return whole(self)

    def snapshot_of(self: SimHost, selection: Selection) -> Any:
        calls[1] += 1
        return part(self, selection)

    with mock.patch.object(SimHost, "snapshot", snapshot), mock.patch.object(SimHost, "snapshot_of", snapshot_of):
        yield calls


@dataclass
class World:
    """One host, its xen root and its spec files, all under ``base``."""

    base: Path
    specs: Model = field(default_factory=initial_specs)

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def xen(self) -> Path:
        return self.base / "xen"

    @property
    def spec_dir(self) -> Path:
        return self.base / "specs"

    @property
    def plans(self) -> Path:
        return self.home / "cache" / "plans"

    def xenctl(self, *args: str) -> Run:
        """The ``xenctl`` command's own code, in this process, on this world's host and xen root."""
        out, err = io.StringIO(), io.StringIO()
        env = {"XENCTL_HOME": str(self.home), "XENCTL_XEN_ROOT": str(self.xen), "XENCTL_TIME_SCALE": "0"}
        with environment(env), counting_reads() as calls, redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
        return Run(code, out.getvalue(), err.getvalue(), *calls)

    def write_specs(self) -> None:
        self.spec_dir.mkdir(parents=True, exist_ok=True)
        for name in list(os.listdir(self.spec_dir)):
            if name not in self.specs:
                (self.spec_dir / name).unlink()
        for name, document in self.specs.items():
            if isinstance(document, str):
                text = document
            elif not document:
                text = "# nothing declared here for now\n"
            else:
                text = yaml.safe_dump(document, sort_keys=False)
            path = self.spec_dir / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)

    def build(self) -> None:
        """Apply the specs, add a guest and an autostart entry by hand, and plan once (the basis)."""
        self.write_specs()
        applied = self.xenctl("apply", "--auto-approve", str(self.spec_dir))
        assert applied.code == 0 and "Apply complete: 14 done, 0 failed" in applied.stdout, applied
        with open_host(str(self.home), clock=SystemClock(0.0)) as host:
            host.create_domain(domain("byhand", 192, disks=[disk("/dev/hda3", "sda1")]))
            # one that holds no partition: only read because no one manages it
            host.create_image(LONER_IMAGE, 64 * 1024 * 1024)
            host.create_domain(domain("loner", 128, disks=[disk(LONER_IMAGE, "xvda", "r", "file")]))
        (self.xen / "auto" / "byhand").write_text(HAND_MADE)
        first = self.plan()
        assert first.code == 0, first
        assert "No changes" in first.stdout
        assert f"Not made by xenctl, left alone: {LEFT_ALONE}\n" in first.stdout
        assert list(self.plans.glob("basis-*.pickle")), "the first plan left no basis"

    def plan(self, *options: str) -> Run:
        return self.xenctl("plan", *options, str(self.spec_dir))

    def full_plan(self, *options: str) -> Run:
        """The plan made in full, with the incremental plan's caches put back afterwards (so the
        next plan still starts from the basis the incremental plan left)."""
        aside = self.base / "plans-aside"
        if self.plans.exists():
            shutil.move(self.plans, aside)
        try:
            return self.plan(*options)
        finally:
            shutil.rmtree(self.plans, ignore_errors=True)
            if aside.exists():
                shutil.move(aside, self.plans)

    def checkpoint(self) -> Path:
        """A copy of the plan caches as they are (the bases the next plans start from)."""
        kept = Path(tempfile.mkdtemp(dir=self.base, prefix="checkpoint-")) / "plans"
        shutil.copytree(self.plans, kept)
        return kept

    def restore(self, kept: Path) -> None:
        shutil.rmtree(self.plans)
        shutil.copytree(kept, self.plans)

    def compare(self, *options: str) -> tuple[Run, Run]:
        """Plan incrementally, then in full; the two must say exactly the same."""
        incremental = self.plan(*options)
        full = self.full_plan(*options)
        assert full.snapshots >= 1  # the full plan did read the whole host
        assert incremental.output == full.output, (
            f"incremental plan differs from the full plan\n--- incremental ---\n{incremental}\n--- full ---\n{full}"
        )
        return incremental, full


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("XENCTL_TIME_SCALE", "0")
    monkeypatch.setenv("XENCTL_HOME", str(tmp_path / "home"))
    built = World(tmp_path)
    built.build()
    return built


# -- edits ----------------------------------------------------------------------------------


def domains_of(specs: Model) -> list[tuple[str, dict[str, Any]]]:
    return [(name, d) for name, doc in specs.items() if isinstance(doc, dict) for d in doc.get("domains", [])]


def entries_of(specs: Model) -> list[tuple[str, dict[str, Any]]]:
    return [(name, a) for name, doc in specs.items() if isinstance(doc, dict) for a in doc.get("autostart", [])]


def domain_files(specs: Model) -> list[str]:
    """The spec files that may declare domains (all but storage.yaml), as documents to edit."""
    return [name for name, doc in specs.items() if name != "storage.yaml" and isinstance(doc, dict)]


def pick(choose: Choose, candidates: list[Any]) -> Any:
    if not candidates:
        raise NotApplicable
    return choose(candidates)


def fresh_name(specs: Model, stem: str) -> str:
    taken = {d["name"] for _f, d in domains_of(specs)} | {a.get("file", a["domain"]) for _f, a in entries_of(specs)}
    return next(f"{stem}{n}" for n in range(1, 1000) if f"{stem}{n}" not in taken)


def running(specs: Model) -> list[tuple[str, dict[str, Any]]]:
    return [(f, d) for f, d in domains_of(specs) if d.get("state", "running") == "running"]


def memory_within(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d.get("maxmem", 0) > d["memory"]])
    d["memory"] = min(d["maxmem"], d["memory"] + 64)


def memory_beyond(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in running(specs) if d["name"] != "app1"] or domains_of(specs))
    d["memory"] = d.get("maxmem", d["memory"]) + 64
    if "maxmem" in d:
        d["maxmem"] = d["memory"]


def vcpus(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, domains_of(specs))
    d["vcpus"] = 2 if d.get("vcpus", 1) == 1 else 1
    if "maxvcpus" in d:
        d["maxvcpus"] = max(d["maxvcpus"], d["vcpus"])


def kernel(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in running(specs) if d["name"] == "db"] or running(specs))
    d["kernel"] = "/boot/vmlinuz-2.6.24-xen" if d["kernel"] == KERNEL else KERNEL


def pause(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in running(specs) if d["name"] != "app1"] or running(specs))
    d["state"] = "paused"


def stop(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in running(specs) if d["name"] == "imgvm"] or running(specs))
    d["state"] = "stopped"


def start_stopped(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d.get("state") == "stopped"])
    d.pop("state")


def resume_paused(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d.get("state") == "paused"])
    d["state"] = "running"


def add_domain(specs: Model, choose: Choose) -> None:
    file = pick(choose, domain_files(specs))
    disks = [{"phy": "/dev/hda4", "vdev": "sda1", "mode": "r"}]
    specs[file].setdefault("domains", []).append(guest(fresh_name(specs, "new"), 64, disks=disks))


def forget(specs: Model, name: str) -> None:
    """Every mention of domain ``name`` out of the specs: its autostart entries, and as a dependency."""
    for doc in specs.values():
        if not isinstance(doc, dict):
            continue
        doc["autostart"] = [a for a in doc.get("autostart", []) if a["domain"] != name]
        mentions = [(d, "depends_on") for d in doc.get("domains", [])] + [(a, "after") for a in doc["autostart"]]
        for thing, key in mentions:
            if name in thing.get(key, []):
                thing[key].remove(name)
                if not thing[key]:
                    del thing[key]
        for key in ("domains", "autostart"):
            if key in doc and not doc[key]:
                del doc[key]


def remove_domain(specs: Model, choose: Choose) -> None:
    file, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d["name"] == "imgvm"] or domains_of(specs))
    specs[file]["domains"].remove(d)
    forget(specs, d["name"])


def rename_domain(specs: Model, choose: Choose) -> None:
    """A domain under another name; its entries and the domains that depend on it follow."""
    _f, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d["name"] == "imgvm"] or domains_of(specs))
    old, new = d["name"], fresh_name(specs, "renamed")
    d["name"] = new
    for _g, other in domains_of(specs):
        if "depends_on" in other:
            other["depends_on"] = [new if n == old else n for n in other["depends_on"]]
    for _g, entry in entries_of(specs):
        if entry["domain"] == old:
            entry["domain"] = new
        if "after" in entry:
            entry["after"] = [new if n == old else n for n in entry["after"]]


def add_entry(specs: Model, choose: Choose) -> None:
    started = {a["domain"] for _f, a in entries_of(specs)}
    file, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d["name"] not in started])
    specs[file].setdefault("autostart", []).append({"domain": d["name"], "order": 30, "stop": "shutdown"})


def remove_entry(specs: Model, choose: Choose) -> None:
    file, entry = pick(choose, [(f, a) for f, a in entries_of(specs) if a["domain"] == "imgvm"] or entries_of(specs))
    specs[file]["autostart"].remove(entry)
    if not specs[file]["autostart"]:
        del specs[file]["autostart"]


def change_entry(specs: Model, choose: Choose) -> None:
    _f, entry = pick(choose, [(f, a) for f, a in entries_of(specs) if a["domain"] == "db"] or entries_of(specs))
    entry["order"] = entry.get("order", 0) + 5
    entry["stop"] = "shutdown" if entry.get("stop") == "save" else "save"


def rename_entry_file(specs: Model, choose: Choose) -> None:
    _f, entry = pick(choose, [(f, a) for f, a in entries_of(specs) if "file" in a] or entries_of(specs))
    entry["file"] = fresh_name(specs, "60-entry")


def domain_and_entry(specs: Model, choose: Choose) -> None:
    started = {a["domain"]: a for _f, a in entries_of(specs)}
    _f, d = pick(choose, [(f, d) for f, d in running(specs) if d["name"] in started])
    d["memory"] = d.get("maxmem", d["memory"]) + 64
    d.pop("maxmem", None)
    started[d["name"]]["up"] = "7s"


def move_domain(specs: Model, choose: Choose) -> None:
    """A domain, and its autostart entries, from one file to another: two files edited."""
    file, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d["name"] == "imgvm"] or domains_of(specs))
    other = pick(choose, [f for f in domain_files(specs) if f != file])
    specs[file]["domains"].remove(d)
    specs[other].setdefault("domains", []).append(d)
    for entry in [a for a in specs[file].get("autostart", []) if a["domain"] == d["name"]]:
        specs[file]["autostart"].remove(entry)
        specs[other].setdefault("autostart", []).append(entry)
    for key in ("domains", "autostart"):
        if key in specs[file] and not specs[file][key]:
            del specs[file][key]


def reorder(specs: Model, choose: Choose) -> None:
    """The same domains in another order: the text changes, the model does not."""
    file = pick(choose, [f for f, doc in specs.items() if isinstance(doc, dict) and len(doc.get("domains", [])) > 1])
    specs[file]["domains"].reverse()


def mib(size: str) -> int:
    return int(size[:-1]) * (1024 if size.endswith("G") else 1)


def grow_volume(specs: Model, choose: Choose) -> None:
    volumes = specs["storage.yaml"]["storage"]["volumes"]
    volume = pick(choose, [v for v in volumes if v["name"] == "db-data"])
    volume["lvm"]["size"] = f"{mib(volume['lvm']['size']) + 1024}M"


def shrink_volume(specs: Model, choose: Choose) -> None:
    volumes = specs["storage.yaml"]["storage"]["volumes"]
    volume = pick(choose, [v for v in volumes if v["name"] == "db-data"])
    volume["lvm"]["size"] = f"{mib(volume['lvm']['size']) - 256}M"  # 4G: 3840M, and 256M less each time


def grow_image(specs: Model, choose: Choose) -> None:
    volumes = specs["storage.yaml"]["storage"]["volumes"]
    image = pick(choose, [v for v in volumes if "file" in v])
    image["file"]["size"] = f"{mib(image['file']['size']) + 1024}M"


def name_the_hand_made_guest(specs: Model, choose: Choose) -> None:
    file = pick(choose, domain_files(specs))
    specs[file].setdefault("domains", []).append(guest("byhand", 192))


def take_the_hand_made_disk(specs: Model, choose: Choose) -> None:
    file = pick(choose, domain_files(specs))
    disks = [{"phy": "/dev/hda3", "vdev": "sda1", "mode": "w"}]
    specs[file].setdefault("domains", []).append(guest(fresh_name(specs, "thief"), 64, disks=disks))


def too_much_memory_beside_the_hand_made_guest(specs: Model, choose: Choose) -> None:
    """Within what the specs may ask of the host, but not beside the 320M the guests made by hand hold
    (though beside byhand's 192M alone, it would be)."""
    _f, d = pick(choose, [(f, d) for f, d in running(specs) if d["name"] == "app1"] or running(specs))
    declared = sum(x["memory"] + 2 for _g, x in domains_of(specs) if x.get("state", "running") != "stopped")
    d["memory"] = d["memory"] + (16124 - declared) - 250
    d["maxmem"] = d["memory"]


def too_many_file_disks(specs: Model, choose: Choose) -> None:
    """Eight more file: disks beside imgvm's: more than the host's eight loop devices."""
    file = pick(choose, domain_files(specs))
    disks = [{"file": f"/var/lib/xen/images/loop{n}.img", "vdev": f"sd{n}", "mode": "r"} for n in "abcdefgh"]
    specs[file].setdefault("domains", []).append(guest(fresh_name(specs, "loopy"), 64, disks=disks))


def memory_tight(specs: Model, choose: Choose) -> None:
    """A guest bigger than the host's free memory (13824M, and 828M Domain-0 can give up), and
    frozen stopped in the same file: the stop must come first (an edge only JSON shows)."""
    needed = {n for _f, d in domains_of(specs) for n in d.get("depends_on", [])}
    candidates = [(f, d) for f, d in domains_of(specs) if d.get("state") != "stopped" and d["name"] not in needed]
    file, d = pick(choose, [(f, d) for f, d in candidates if d["name"] == "frozen"] or candidates)
    d["state"] = "stopped"
    specs[file]["domains"].append(guest(fresh_name(specs, "big"), 14700))


def hand_over_image(specs: Model, choose: Choose) -> None:
    """imgvm stopped, and a new guest in its file given imgvm's image by its path."""
    file, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d["name"] == "imgvm"])
    d["state"] = "stopped"
    disks = [{"file": "/var/lib/xen/images/img1.img", "vdev": "xvda", "mode": "w"}]
    specs[file]["domains"].append(guest(fresh_name(specs, "heir"), 64, disks=disks))


def share_the_hand_made_image(specs: Model, choose: Choose) -> None:
    """A new guest reading the image loner (made by hand) reads: a device no spec declares."""
    file = pick(choose, domain_files(specs))
    disks = [{"file": LONER_IMAGE, "vdev": "xvdb", "mode": "r"}]
    specs[file].setdefault("domains", []).append(guest(fresh_name(specs, "reader"), 64, disks=disks))


def empty_a_file(specs: Model, choose: Choose) -> None:
    """A file of domains left with a comment only: the same files, one of them declaring nothing."""
    files = domain_files(specs)
    file = pick(choose, [f for f in files if f == "front.yaml"] or files)
    for name in [d["name"] for d in specs[file].get("domains", [])]:
        forget(specs, name)
    specs[file] = {}  # written as a comment


def new_spec_file(specs: Model, choose: Choose) -> None:
    name = pick(choose, [f"extra{n}.yaml" for n in range(1, 10) if f"extra{n}.yaml" not in specs])
    specs[name] = {"domains": [guest(fresh_name(specs, "extra"), 64)]}


def remove_spec_file(specs: Model, choose: Choose) -> None:
    """front.yaml (or another file of domains) gone: its domains and entries are deleted."""
    files = domain_files(specs)
    file = pick(choose, [f for f in files if f == "front.yaml"] or files)
    names = [d["name"] for d in specs[file].get("domains", [])]
    del specs[file]
    for name in names:
        forget(specs, name)


def maxmem_below_memory(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, domains_of(specs))
    d["maxmem"] = 64
    d["memory"] = 128


def not_a_memory_size(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, domains_of(specs))
    d["memory"] = "lots"


def unknown_dependency(specs: Model, choose: Choose) -> None:
    _f, d = pick(choose, domains_of(specs))
    d["depends_on"] = [*d.get("depends_on", []), "nowhere"]


def remove_a_needed_domain(specs: Model, choose: Choose) -> None:
    """db (and its entry) out of back.yaml, while app1 in front.yaml still depends on it."""
    needed = {n for _f, d in domains_of(specs) for n in d.get("depends_on", [])}
    file, d = pick(choose, [(f, d) for f, d in domains_of(specs) if d["name"] in needed])
    specs[file]["domains"].remove(d)
    specs[file]["autostart"] = [a for a in specs[file].get("autostart", []) if a["domain"] != d["name"]]


def broken_yaml(specs: Model, choose: Choose) -> None:
    file = pick(choose, domain_files(specs))
    specs[file] = yaml.safe_dump(specs[file], sort_keys=False) + "domains: [unclosed\n"


Edit = Callable[[Model, Choose], None]


def first(candidates: list[Any]) -> Any:
    return candidates[0]


# Each edit: what it does, a line its plan must show (so that it is an edit that matters), and
# whether the plan after it must read the whole host (True) or may only read a part (False).
EDITS: dict[str, tuple[Edit, str, bool]] = {
    "memory-within-maxmem": (memory_within, "memory: 256M -> 320M (live)", False),
    "memory-beyond-maxmem": (memory_beyond, "restart (memory forces it)", False),
    "vcpus": (vcpus, "vcpus: 1 -> 2 (live)", False),
    "kernel": (kernel, "kernel forces it", False),
    "running-to-paused": (pause, "~ domain.app2                        pause", False),
    "running-to-stopped": (stop, "~ domain.imgvm                       stop", False),
    "stopped-to-running": (start_stopped, "+ domain.parked", False),
    "paused-to-running": (resume_paused, "~ domain.frozen                      resume", False),
    "add-domain": (add_domain, "+ domain.new1", False),
    "remove-domain": (remove_domain, "- domain.imgvm", False),
    "rename-domain": (rename_domain, "+ domain.renamed1", False),
    "add-entry": (add_entry, "+ autostart.app2", False),
    "remove-entry": (remove_entry, "- autostart.50-imgvm", False),
    "change-entry": (change_entry, 'stop: "save" -> "shutdown"', False),
    "rename-entry-file": (rename_entry_file, "+ autostart.60-entry1", False),
    "domain-and-its-entry": (domain_and_entry, "up: 0.0 -> 7.0", False),
    "move-domain-to-another-file": (move_domain, "Plan: ", False),
    "reorder-domains": (reorder, "No changes", False),
    "memory-tight": (memory_tight, "+ domain.big1", False),
    "hand-over-image": (hand_over_image, "+ domain.heir1", False),
    "share-the-hand-made-image": (share_the_hand_made_image, "+ domain.reader1", False),
    "grow-volume": (grow_volume, "size: 4G -> 5G", True),
    "shrink-volume": (shrink_volume, "! volume.db-data", True),
    "grow-image": (grow_image, "size: 1G -> 2G", True),
    "empty-a-file": (empty_a_file, "- autostart.app1", False),
    "new-spec-file": (new_spec_file, "+ domain.extra1", True),
    "remove-spec-file": (remove_spec_file, "- domain.app1", True),
    "domain-named-like-the-hand-made-one": (name_the_hand_made_guest, "(give --adopt to take them over)", False),
    "disk-held-by-the-hand-made-guest": (take_the_hand_made_disk, "device sharing: /dev/hda3", False),
    "memory-beside-the-hand-made-guest": (too_much_memory_beside_the_hand_made_guest, "beside 320M", False),
    "more-file-disks-than-loops": (too_many_file_disks, "loop devices", False),
    "maxmem-below-memory": (maxmem_below_memory, "maxmem 64M is less than memory 128M", False),
    "not-a-memory-size": (not_a_memory_size, "is not a memory size", False),
    "unknown-dependency": (unknown_dependency, "domain nowhere is not declared", False),
    "remove-a-needed-domain": (remove_a_needed_domain, "domain db is not declared", False),
    "broken-yaml": (broken_yaml, "did not find expected", False),
}


def edit(world: World, name: str, choose: Choose = first) -> None:
    EDITS[name][0](world.specs, choose)
    world.write_specs()


def assert_from_basis(run: Run) -> None:
    assert run.snapshots == 0, "an edit of domains and entries only must not read the whole host"
    assert run.parts == 1, "a plan from the basis reads the part of the host it looks at, once"


def check_path(run: Run, name: str) -> None:
    """The plan after edit ``name`` read the whole host if it must, and else only parts of it
    (the plan was made, not taken from the cache of rendered plans)."""
    if EDITS[name][2]:
        assert run.snapshots >= 1, f"{name}: the plan must read the whole host"
    else:
        assert_from_basis(run)


def order(run: Run) -> list[list[str]]:
    edges: list[list[str]] = json.loads(run.stdout)["order"]
    return edges


# -- 1. one edit ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EDITS))
def test_a_plan_after_one_edit_is_the_full_plan(world: World, name: str) -> None:
    before = world.checkpoint()
    edit(world, name)
    text, _ = world.compare()
    check_path(text, name)
    assert EDITS[name][1] in text.stdout + text.stderr, text
    world.restore(before)  # JSON from the same basis, not from the one the text plan left
    as_json, _ = world.compare("--json")
    check_path(as_json, name)
    assert as_json.code == text.code and as_json.stderr == text.stderr


def test_a_plan_after_one_edit_reads_back_only_the_files_holding_what_the_edit_touches(world: World) -> None:
    """app1's memory edited in front.yaml: storage.yaml holds its volume, which its config names;
    back.yaml, where only other domains are, stays unread, even with a guest made by hand holding
    a device (the feasibility checks ask the files' indexes which domains want it: none here)."""
    import xenctl.spec.load as load

    edit(world, "memory-within-maxmem")
    with mock.patch.object(load, "_read", wraps=load._read) as reads:
        planned = world.plan()
    assert planned.code == 0 and "memory: 256M -> 320M (live)" in planned.stdout, planned
    assert_from_basis(planned)
    assert sorted(Path(call.args[0]).name for call in reads.call_args_list) == ["storage.yaml"]


def test_the_order_that_frees_memory_first_is_the_full_plans(world: World) -> None:
    edit(world, "memory-tight")
    planned, _ = world.compare("--json")
    check_path(planned, "memory-tight")
    assert ["domain.frozen", "domain.big1"] in order(planned)  # room for big1 only once frozen stops


def test_a_renamed_domain_gives_its_disks_up_before_the_new_one_takes_them(world: World) -> None:
    edit(world, "rename-domain")
    planned, _ = world.compare("--json")
    check_path(planned, "rename-domain")
    assert ["domain.imgvm", "domain.renamed1"] in order(planned)


def test_an_image_passes_from_the_guest_that_stops_to_the_one_that_comes(world: World) -> None:
    edit(world, "hand-over-image")
    planned, _ = world.compare("--json")
    check_path(planned, "hand-over-image")
    assert ["domain.imgvm", "domain.heir1"] in order(planned)


# -- 2. edits one after another -------------------------------------------------------------

CHAINS = [
    ("memory-within-maxmem", "kernel"),
    ("rename-domain", "add-entry"),
    ("remove-domain", "add-domain"),
    ("domain-and-its-entry", "move-domain-to-another-file"),
    ("running-to-stopped", "hand-over-image"),  # imgvm stopped in the basis already
    ("grow-volume", "memory-within-maxmem"),  # the second from the basis of a full plan with a volume change
    ("shrink-volume", "kernel", "remove-domain"),  # a volume retained in the basis
    ("new-spec-file", "vcpus", "remove-entry"),
    ("add-entry", "change-entry", "remove-entry", "reorder-domains"),
]


@pytest.mark.parametrize("names", CHAINS, ids=lambda names: "+".join(names))
def test_edits_one_after_another_each_give_the_full_plan(world: World, names: tuple[str, ...]) -> None:
    for name in names:
        edit(world, name)
        before = world.checkpoint()
        planned, _ = world.compare()  # from the basis the plan before left
        check_path(planned, name)
        if EDITS[name][1] != "No changes":  # the edits before may have left changes
            assert EDITS[name][1] in planned.stdout, (name, planned)
        world.restore(before)
        as_json, _ = world.compare("--json")  # the order too; its basis is the next edit's
        check_path(as_json, name)


def test_an_edit_undone_gives_the_first_plan_again(world: World) -> None:
    first = world.plan()
    original = copy.deepcopy(world.specs)
    edit(world, "kernel")
    world.compare()
    world.specs = original
    world.write_specs()
    again, _ = world.compare()
    assert again.output == first.output


@pytest.mark.parametrize("error", ["domain-named-like-the-hand-made-one", "memory-beside-the-hand-made-guest"])
def test_after_a_plan_that_failed_the_next_edit_still_gives_the_full_plan(world: World, error: str) -> None:
    edit(world, "memory-within-maxmem")
    world.compare()
    good = copy.deepcopy(world.specs)
    edit(world, error)
    failed, _ = world.compare()
    assert failed.code == 1 and EDITS[error][1] in failed.stderr
    world.specs = good  # the error put right, and something else edited: from the basis before the error
    edit(world, "change-entry")
    planned, _ = world.compare()
    check_path(planned, "change-entry")
    assert "memory: 256M -> 320M" in planned.stdout and "~ autostart.db" in planned.stdout


# -- 3. the host changes between plans --------------------------------------------------------


def by_hand_entry_edited(world: World) -> None:
    entry = world.xen / "auto" / "byhand"
    entry.write_text(entry.read_text().replace("memory = 192", "memory = 200"))


def another_guest_by_hand(world: World) -> None:
    with open_host(str(world.home), clock=SystemClock(0.0)) as host:
        taken = {d.name for d in host.snapshot().domains}
        name = next(f"byhand{n}" for n in range(2, 100) if f"byhand{n}" not in taken)
        host.create_domain(domain(name, 64, disks=[disk("/dev/hda4", "sda1", "r")]))


def token(world: World) -> str | None:
    with open_host(str(world.home), clock=SystemClock(0.0)) as host:
        return host.change_token()


HOST_CHANGES: dict[str, Callable[[World], object]] = {
    "mem-set": lambda w: w.xenctl("mem-set", "app1", "300"),
    "vcpu-set": lambda w: w.xenctl("vcpu-set", "db", "1"),
    "destroy": lambda w: w.xenctl("destroy", "app2"),
    "pause": lambda w: w.xenctl("pause", "imgvm"),
    "pause-and-unpause": lambda w: (w.xenctl("pause", "imgvm"), w.xenctl("unpause", "imgvm"))[1],
    "shutdown": lambda w: w.xenctl("shutdown", "imgvm"),
    "another-guest-by-hand": another_guest_by_hand,
    "autostart-entry-edited-by-hand": by_hand_entry_edited,
}
# What the host's change journal names: the guests whose own state changed. Anything that
# touches disks or storage (a guest that goes or comes lets go of or takes its disks), or an
# entry placed by hand, sends the plan back to reading the host whole.
GUESTS_ONLY = {"mem-set", "vcpu-set", "pause", "pause-and-unpause"}


@pytest.mark.parametrize("change", list(HOST_CHANGES))
def test_a_host_changed_since_the_last_plan_gives_the_full_plan(world: World, change: str) -> None:
    done = HOST_CHANGES[change](world)
    if isinstance(done, Run):
        assert done.code == 0, done
    edit(world, "kernel")
    planned, _ = world.compare()
    if change in GUESTS_ONLY:
        assert_from_basis(planned)  # the journal named the guests that changed: only they are read again
    else:
        assert planned.snapshots >= 1, "more than guests changed since the last plan's basis: read the host whole"
    assert "kernel forces it" in planned.stdout
    edit(world, "change-entry")  # the host as the plan before read it: from that plan's basis again
    again, _ = world.compare()
    check_path(again, "change-entry")


@pytest.mark.parametrize("change", sorted(GUESTS_ONLY))
def test_a_plan_after_a_guest_changed_by_hand_reads_only_that_guest(world: World, change: str) -> None:
    """No spec edited: the first plan after the host changed is made from the basis and the journal."""
    done = HOST_CHANGES[change](world)
    assert isinstance(done, Run) and done.code == 0, done
    planned, _ = world.compare()
    if change == "pause-and-unpause":  # the guest is back as the last plan saw it: that plan stands
        assert planned.snapshots == planned.parts == 0 and "No changes" in planned.stdout
    else:
        assert_from_basis(planned)
        assert "No changes" not in planned.stdout  # the drift is planned back
    again, _ = world.compare()  # and the next plan, from the basis that plan left
    assert again.output == planned.output


def test_a_journal_trimmed_past_the_basis_reads_the_host_whole(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from xenctl.engine.sim import transaction

    monkeypatch.setattr(transaction, "JOURNAL_KEPT", 1)
    assert world.xenctl("mem-set", "app1", "300").code == 0
    assert world.xenctl("mem-set", "app1", "310").code == 0
    planned, _ = world.compare()
    assert planned.snapshots >= 1
    assert "memory: 310M -> 256M" in planned.stdout


def test_the_drift_a_change_by_hand_made_is_in_the_plan_after_an_edit(world: World) -> None:
    assert world.xenctl("mem-set", "app1", "300").code == 0
    edit(world, "kernel")
    planned, _ = world.compare()
    assert "memory: 300M -> 256M" in planned.stdout  # not the stale basis, where app1 was in sync


# -- 4. the plan's other forms and options ----------------------------------------------------

FORMS = [
    ("--json",),
    ("--detailed-exitcode",),
    ("--target", "app1"),
    ("--target", "app1", "--json"),
    ("--target", "autostart.db", "--detailed-exitcode"),
    ("--destroy-data",),
]


@pytest.mark.parametrize(
    "name", ["memory-within-maxmem", "kernel", "rename-domain", "remove-entry", "reorder-domains", "grow-volume"]
)
def test_json_target_and_exit_codes_after_an_edit_are_the_full_plans(world: World, name: str) -> None:
    for form in FORMS:  # each leaves a basis of its own options (--json and the exit code share the plain one)
        assert world.plan(*form).code in (0, 2)
    before = world.checkpoint()
    edit(world, name)
    for form in FORMS:
        world.restore(before)  # every form from the basis its options left before the edit
        planned, _ = world.compare(*form)
        check_path(planned, name)
        if "--detailed-exitcode" in form:
            assert planned.code == (0 if "No changes" in planned.stdout else 2)
        if "--json" in form:
            json.loads(planned.stdout)


def test_taking_over_the_hand_made_guest_with_adopt(world: World) -> None:
    """The guest made by hand leaves the unmanaged list as a spec names it, and comes back to it."""
    assert world.plan("--adopt").code == 0  # the basis of --adopt plans
    world.specs["back.yaml"]["domains"].append(guest("byhand", 192, disks=[{"phy": "/dev/hda3", "vdev": "sda1"}]))
    world.write_specs()
    adopted, _ = world.compare("--adopt")
    assert_from_basis(adopted)
    assert "~ domain.byhand" in adopted.stdout
    assert "left alone: autostart.byhand, domain.loner, volume.loner.img\n" in adopted.stdout

    world.specs["back.yaml"]["domains"][-1]["vcpus"] = 2
    world.write_specs()
    changed, _ = world.compare("--adopt")
    assert_from_basis(changed)
    assert "the domain restarts for the fields below" in changed.stdout and "1 to restart" in changed.stdout

    world.specs["back.yaml"]["domains"].pop()  # given up again, and db edited (not the first plan's text)
    edit(world, "kernel")
    given_up, _ = world.compare("--adopt")
    assert_from_basis(given_up)
    assert f"left alone: {LEFT_ALONE}\n" in given_up.stdout and "domain.byhand " not in given_up.stdout


def test_a_volume_the_last_plan_replaces_is_still_checked_after_a_domain_edit(world: World) -> None:
    assert world.plan("--destroy-data").code == 0  # the basis of --destroy-data plans
    front = world.specs["front.yaml"]["domains"]
    app2 = next(d for d in front if d["name"] == "app2")
    snap = next(v for v in world.specs["storage.yaml"]["storage"]["volumes"] if v["name"] == "app-snap")
    front.remove(app2)
    snap["lvm"]["size"] = "128M"
    world.write_specs()
    replaced, _ = world.compare("--destroy-data")
    assert replaced.snapshots >= 1  # a volume edited: in full
    assert "-/+ volume.app-snap" in replaced.stdout and "- domain.app2" in replaced.stdout
    before = world.checkpoint()

    front.append(app2)  # from that basis: app2 kept, holding the volume being replaced
    world.write_specs()
    refused, _ = world.compare("--destroy-data")
    assert_from_basis(refused)
    assert refused.code == 1 and "in use: volume app-snap is held by app2" in refused.stderr

    world.restore(before)
    front.remove(app2)
    edit(world, "kernel")  # another domain: the volume and its holder are read though neither is in the edit
    planned, _ = world.compare("--destroy-data")
    assert_from_basis(planned)
    assert "-/+ volume.app-snap" in planned.stdout and "kernel forces it" in planned.stdout
    world.restore(before)
    as_json, _ = world.compare("--destroy-data", "--json")
    assert_from_basis(as_json)
    assert ["domain.app2", "volume.app-snap"] in order(as_json)  # app2 goes before its volume is replaced


# -- 5. any edits -----------------------------------------------------------------------------


STEPS = sorted(EDITS) + [f"host:{change}" for change in HOST_CHANGES]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), steps=st.lists(st.sampled_from(STEPS), min_size=1, max_size=3))
def test_any_edits_one_after_another_give_the_full_plan(
    monkeypatch: pytest.MonkeyPatch, data: st.DataObject, steps: list[str]
) -> None:
    """Edits of any kind (and now and then a change made by hand to the host), each planned
    incrementally and in full, as text and as JSON; an edit that made the plan fail is undone
    before the next, which then plans from an older basis."""
    monkeypatch.setenv("XENCTL_TIME_SCALE", "0")
    with tempfile.TemporaryDirectory(prefix="xenctl-incremental-") as base:
        world = World(Path(base))
        world.build()

        def choose(candidates: list[Any]) -> Any:
            return candidates[data.draw(st.integers(0, len(candidates) - 1), label="which")]

        for step in steps:
            good = copy.deepcopy(world.specs)
            if step.startswith("host:"):
                was = token(world)
                HOST_CHANGES[step.removeprefix("host:")](world)
                # an entry edited by hand moves no token, but the auto directory's stamp; a change
                # the journal tells by guest is planned from the basis
                moved = token(world) != was and step.removeprefix("host:") not in GUESTS_ONLY
                reads_all = moved or step == "host:autostart-entry-edited-by-hand"
            else:
                try:
                    EDITS[step][0](world.specs, choose)
                except NotApplicable:
                    world.specs = good
                    continue
                world.write_specs()
                reads_all = EDITS[step][2]
            before = world.checkpoint()
            for form in ((), ("--json",)):
                world.restore(before)  # the text and the JSON plan from the same basis
                planned, _ = world.compare(*form)
                if reads_all:
                    assert planned.snapshots >= 1, f"{step}: the plan must read the whole host"
                else:
                    assert planned.snapshots == 0, f"{step}: an edit of domains and entries must not read it all"
            if planned.code != 0:  # put right before the next edit (which then plans from an older basis)
                world.specs = good
                world.write_specs()


@pytest.mark.parametrize("spelling", ["relative", "symlink"])
def test_the_specs_named_another_way_share_the_caches_of_the_last_plan(
    world: World, spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``plan specs``, ``plan /abs/specs`` and a symlink to them plan the same files: the second
    spelling finds the first's plan, basis and models (nothing parsed again), and says the same."""
    from xenctl.spec import locate

    monkeypatch.chdir(world.base)
    other = "specs"
    if spelling == "symlink":
        os.symlink(world.spec_dir, world.base / "linked")
        other = "linked"
    parsed: list[str] = []
    real_parse = locate.parse_file

    def parse_file(path: str, *args: Any) -> Any:
        parsed.append(path)
        return real_parse(path, *args)

    monkeypatch.setattr(locate, "parse_file", parse_file)
    monkeypatch.setattr("xenctl.spec.load.parse_file", parse_file)
    same = world.xenctl("plan", other)
    assert same.output == world.plan().output and "No changes" in same.stdout
    assert same.snapshots == same.parts == 0, "the plan of unchanged specs on an unchanged host is the cached one"
    before = {name: (world.spec_dir / name).read_text() for name in world.specs}
    edit(world, "memory-within-maxmem")
    edited = [name for name in sorted(world.specs) if (world.spec_dir / name).read_text() != before[name]]
    planned = world.xenctl("plan", other)
    assert_from_basis(planned)  # the basis the absolute spelling left
    assert parsed == [os.path.join(other, name) for name in edited] and len(edited) == 1
    assert "memory: 256M -> 320M (live)" in planned.stdout
    assert planned.output == world.full_plan().output


def test_a_host_changed_and_back_keeps_the_last_plan_and_a_real_change_does_not(world: World) -> None:
    """A guest's memory set and set back: the host's token moved, but its journal says all a plan
    sees is as it was, so the last plan is the answer, with nothing read; set once, it is not."""
    assert world.xenctl("mem-set", "app1", "300").code == 0
    assert world.xenctl("mem-set", "app1", "256").code == 0
    kept, _ = world.compare()
    assert kept.snapshots == kept.parts == 0 and "No changes" in kept.stdout
    assert world.xenctl("mem-set", "app1", "300").code == 0
    planned, _ = world.compare()
    assert_from_basis(planned)
    assert "memory: 300M -> 256M" in planned.stdout
