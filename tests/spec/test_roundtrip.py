"""A property: any spec the schema accepts loads into the model, and dumps back to YAML that loads the same.

The strategies build spec *data* (what a person writes in YAML) from the schema's own patterns, with
references kept consistent so that the semantic checks pass: disks on declared volumes, each device
held by one domain, snapshots in their origin's group, dependencies on earlier domains only. Free
text is full of words YAML 1.1 would misread (``no``, ``0755``, ``1:30``, ``true``), which must come
back exactly as written.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from xenctl.errors import SpecError
from xenctl.filenames import temporary_file_name
from xenctl.spec import yamlfile
from xenctl.spec.dump import dump_spec
from xenctl.spec.load import load_specs
from xenctl.spec.model import DesiredState
from xenctl.spec.schema import schema

VALIDATOR = jsonschema.Draft202012Validator(schema())
# No "explain" phase: it re-runs a failing case many times to annotate it, and a failure here is plain.
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)

# Strings a YAML 1.1 reader (or a careless writer) would turn into something else.
TRICKY = [
    "no", "off", "yes", "on", "y", "n", "NO", "Off", "true", "True", "false", "null", "~", "",
    "0755", "010", "-07", "1:30", "52:54:00:12:34:56", "0o17", "0x1F", "1e3", "1_000", ".inf", "-.inf", ".nan",
    "+1", "-0", "12.50", "0.", ".5", "<<", "=", "2001-12-14", "# not a comment", "a: b", "- item", "[x]", "{y}",
    "*alias", "&anchor", "!tag", "%x", "@x", "`x", "'quoted'", '"double"', " leading", "trailing ", "multi\nline",
    "tab\there", "café", "4 VMID=1 usr=/dev/sda6", "/dev/sda1 ro",
]  # fmt: skip


class _QuotingDumper(yaml.SafeDumper):
    """Writes every string double-quoted, so the test data reads back as written whatever the reader."""


_QuotingDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
)


DEFS = schema()["$defs"]


def _from_schema(definition: dict[str, Any]) -> st.SearchStrategy[str]:
    """Strings matching a schema definition's own pattern, less what its ``not`` refuses."""
    strategy = st.from_regex(definition["pattern"], fullmatch=True)
    refused = definition.get("not", {}).get("pattern")
    if refused is not None:
        strategy = strategy.filter(lambda s: not re.search(refused, s))
    return strategy


_DOMAIN = DEFS["domain"]["properties"]
NAME = _from_schema(DEFS["name"])
LVM_NAME = _from_schema(DEFS["lvm_name"])
DEVICE = _from_schema(DEFS["device_path"])
ABS_PATH = _from_schema(DEFS["abs_path"])
IMAGE_PATH = _from_schema(DEFS["file_path"])
VDEV = _from_schema(DEFS["vdev"])
MAC = _from_schema(DEFS["mac"])
HOST = _from_schema(DEFS["host"])
BRIDGE = _from_schema(DEFS["vif"]["properties"]["bridge"])
LOCATION = _from_schema(_DOMAIN["install"]["properties"]["location"])
AUTO_FILE = _from_schema(DEFS["autostart"]["properties"]["file"])
TEXT = st.sampled_from(TRICKY) | st.text(max_size=30)
NONEMPTY_TEXT = st.sampled_from([t for t in TRICKY if t]) | st.text(min_size=1, max_size=30)
ON_EVENT = st.sampled_from(DEFS["on_event"]["enum"])
ON_CRASH = st.sampled_from(_DOMAIN["on_crash"]["enum"])
UNIT_CASE = st.sampled_from([str.upper, str.lower])

# --- sizes and durations: the spellings whose value is exact, and every spelling the schema allows ---


HVM = st.fixed_dictionaries(
    {},
    optional={
        "loader": ABS_PATH,
        "device_model": ABS_PATH,
        "boot": st.sampled_from(["c", "cda", "dc", "n"]),
        "acpi": st.booleans(),
        "pae": st.booleans(),
        "vnc": st.booleans(),
        "vncdisplay": st.integers(0, 99),
        "vncpasswd": TEXT,
        "serial": st.sampled_from(["pty", "/dev/ttyS0", "null"]),
        "usbdevice": st.sampled_from(["tablet", "mouse"]),
        "keymap": st.sampled_from(["en-us", "de", "ja"]),
        "soundhw": st.sampled_from(["sb16", "es1370,sb16", "all"]),
    },
)


@st.composite
def memory_spelling(draw: st.DrawFn, mib: int) -> int | str:
    """``mib`` MiB as a person might write it: 512, 512M, 524288K, 0.5G, 1G."""
    forms: list[int | str] = [mib, f"{mib}M", f"{mib * 1024}K"]
    if mib % 512 == 0:
        forms.append(f"{mib / 1024:g}G")
    if mib % (1024 * 1024) == 0:
        forms.append(f"{mib // (1024 * 1024)}T")
    form = draw(st.sampled_from(forms))
    return draw(UNIT_CASE)(form) if isinstance(form, str) else form


@st.composite
def exact_size(draw: st.DrawFn) -> str:
    """A size that is a whole number of KiB: 4G, 512m, 2048k, 1.5G, 0.25M."""
    unit = draw(st.sampled_from("KMGT"))
    whole = draw(st.integers(0 if unit != "K" else 1, 4096))
    fraction = draw(st.sampled_from(["", ".5", ".25"])) if unit != "K" else ""
    assume(whole or fraction)
    return f"{whole}{fraction}{draw(UNIT_CASE)(unit)}"


@st.composite
def exact_duration(draw: st.DrawFn) -> str:
    """A duration whose seconds are exact in binary: 30s, 5m, 1h, 250ms, 1.5s, 2.25m."""
    kind = draw(st.sampled_from(["ms", "s", "frac-s", "m", "h"]))
    if kind == "ms":
        return f"{draw(st.integers(0, 999))}ms"
    if kind == "frac-s":
        return f"{draw(st.integers(1, 10_000))}.{draw(st.sampled_from(['5', '25', '125', '75']))}s"
    whole = draw(st.integers(0, 2000))  # 2000h is inside the 10,000,000 s xenctl allows
    fraction = draw(st.sampled_from(["", "", ".5", ".25"])) if kind in ("m", "h") else ""
    return f"{whole}{fraction}{kind}"


ANY_SIZE = _from_schema(DEFS["size"])
ANY_DURATION = _from_schema(DEFS["duration"])


# --- whole spec files ---


def _one_file(path: str) -> str:
    return "/" + os.path.normpath(path).lstrip("/")


def _device(path: str) -> str:
    return path if path.startswith("/") else f"/dev/{path}"


@st.composite
def spec_data(draw: st.DrawFn, sizes: st.SearchStrategy[str], durations: st.SearchStrategy[str]) -> dict[str, Any]:
    """One spec file's data that the schema accepts and whose references all hold."""
    devices = iter(draw(st.lists(DEVICE, unique_by=_device, max_size=10)))
    claimed: list[str] = []  # every Domain-0 device a volume group, volume or disk holds

    groups: list[dict[str, Any]] = []
    for name in draw(st.lists(LVM_NAME, unique=True, max_size=3)):
        pvs = [pv for pv in (next(devices, None) for _ in range(draw(st.integers(1, 2)))) if pv]
        if not pvs:
            break
        claimed.extend(_device(pv) for pv in pvs)
        groups.append({"name": name, "pvs": pvs})

    volumes: list[dict[str, Any]] = []
    lvs: list[dict[str, Any]] = []
    for name in draw(st.lists(LVM_NAME, unique=True, max_size=6)):
        kind = draw(st.sampled_from(["lvm", "snapshot", "file", "partition"]))
        volume: dict[str, Any] = {"name": name}
        if kind == "lvm" and groups:
            group = draw(st.sampled_from(groups))["name"]
            volume["lvm"] = {"vg": group, "size": draw(sizes)}
            lvs.append(volume)
            claimed.append(f"/dev/{group}/{name}")
        elif kind == "snapshot" and lvs:
            origin = draw(st.sampled_from(lvs))
            group = origin["lvm"]["vg"]
            volume["lvm"] = {"vg": group, "snapshot_of": origin["name"], "size": draw(sizes)}
            claimed.append(f"/dev/{group}/{name}")
        elif kind == "partition" and (device := next(devices, None)):
            volume["partition"] = device
            claimed.append(_device(device))
        else:
            # a directory of its own: two volumes on one file is a mistake the checks refuse
            volume["file"] = {"path": f"{name}.d/{draw(IMAGE_PATH).lstrip('/')}", "size": draw(sizes)}
            if draw(st.booleans()):
                volume["file"]["sparse"] = draw(st.booleans())
        if draw(st.booleans()):
            volume["filesystem"] = draw(st.sampled_from(["ext2", "ext3", "ext4", "xfs", "reiserfs", "swap"]))
        if draw(st.booleans()):
            volume["populate"] = draw(NONEMPTY_TEXT)
        volumes.append(volume)

    exports = [
        {"name": name, "server": draw(HOST), "path": draw(ABS_PATH)}
        for name in draw(st.lists(LVM_NAME, unique=True, max_size=2))
    ]

    unused_volumes = [v["name"] for v in volumes]
    image_files: set[str] = set()
    domains: list[dict[str, Any]] = []
    for name in draw(st.lists(NAME, unique=True, min_size=1, max_size=4)):
        domain: dict[str, Any] = {"name": name}
        memory = draw(st.integers(1, 64 * 1024))
        if draw(st.booleans()):
            domain["memory"] = draw(memory_spelling(memory))
        else:
            memory = 128
        if draw(st.booleans()):
            domain["maxmem"] = draw(memory_spelling(memory + draw(st.integers(0, 4096))))
        vcpus = draw(st.integers(1, 32))
        if draw(st.booleans()):
            domain["vcpus"] = vcpus
        else:
            vcpus = 1
        if draw(st.booleans()):
            domain["maxvcpus"] = draw(st.integers(vcpus, 32))
        hvm = draw(st.booleans())
        if hvm:
            domain["hvm"] = draw(HVM)
        elif draw(st.booleans()):
            domain["kernel"] = draw(ABS_PATH)
            if draw(st.booleans()):
                domain["ramdisk"] = draw(ABS_PATH)
        else:
            domain["bootloader"] = draw(NONEMPTY_TEXT)
        for key in ("extra",) if hvm else ("root", "extra"):
            if draw(st.booleans()):
                domain[key] = draw(TEXT)
        disks = []
        for vdev in draw(st.lists(VDEV, unique=True, max_size=3)):
            disk: dict[str, Any] = {"vdev": vdev}
            target = draw(st.sampled_from(["volume", "phy", "file", "nbd", "empty"]))
            if target == "nbd":
                disk["nbd"] = {"host": draw(HOST), "port": draw(st.integers(1, 65535))}
            elif target == "empty":
                disk["cdrom"] = True
            elif target == "volume" and unused_volumes:
                disk["volume"] = unused_volumes.pop(draw(st.integers(0, len(unused_volumes) - 1)))
            elif target == "phy" and (device := next(devices, None)):
                disk["phy"] = device
                claimed.append(_device(device))
            else:
                # one file however it is spelt (/x and //x): the checks see them as one device
                image = draw(ABS_PATH.filter(lambda p: _one_file(p) not in image_files))
                image_files.add(_one_file(image))
                disk["file"] = image
            if target != "empty" and draw(st.booleans()):
                disk["cdrom"] = draw(st.booleans())
            if draw(st.booleans()):
                disk["mode"] = "r" if disk.get("cdrom") else draw(st.sampled_from(["r", "w", "w!"]))
            disks.append(disk)
        if disks:
            domain["disks"] = disks
        if exports and not hvm and draw(st.booleans()):
            domain["nfs_root"] = draw(st.sampled_from(exports))["name"]
        if draw(st.booleans()):
            cards = {"type": st.just("ioemu"), "model": st.sampled_from(["rtl8139", "e1000"])} if hvm else {}
            domain["vifs"] = draw(
                st.lists(st.fixed_dictionaries({}, optional={"bridge": BRIDGE, "mac": MAC, **cards}), max_size=2)
            )
            for vif in domain["vifs"]:
                if "model" in vif:
                    vif["type"] = "ioemu"
        optional = {
            "ip": HOST,
            "on_poweroff": ON_EVENT,
            "on_reboot": ON_EVENT,
            "on_crash": ON_CRASH,
            "state": st.sampled_from(["running", "paused", "stopped"]),
            "graphics": st.booleans(),
            "install": st.fixed_dictionaries({"location": LOCATION}, optional={"kickstart": NONEMPTY_TEXT}),
        }
        for key, strategy in optional.items():
            if draw(st.booleans()):
                domain[key] = draw(strategy)
        # what a running domain depends on must run too: the checks refuse a stopped dependency
        stopped = domain.get("state") == "stopped"
        earlier = [d["name"] for d in domains if stopped or d.get("state") != "stopped"]
        if earlier and draw(st.booleans()):
            domain["depends_on"] = draw(st.lists(st.sampled_from(earlier), unique=True, min_size=1))
        domains.append(domain)

    autostart: list[dict[str, Any]] = []
    entry_names: set[str] = set()
    for name in draw(st.lists(st.sampled_from([d["name"] for d in domains]), unique=True)):
        entry: dict[str, Any] = {"domain": name}
        if draw(st.booleans()):
            entry["file"] = draw(AUTO_FILE.filter(lambda f: f not in entry_names))
        entry_name = entry.get("file", name)
        if entry_name in entry_names or temporary_file_name(entry_name):  # the auto directory passes over it
            continue
        entry_names.add(entry_name)
        if draw(st.booleans()):
            entry["order"] = draw(st.integers(0, 9999))
        # after: only domains declared before it, so boot order and depends_on never cross
        order = [d["name"] for d in domains]
        earlier = [e["domain"] for e in autostart if order.index(e["domain"]) < order.index(name)]
        if earlier and draw(st.booleans()):
            entry["after"] = draw(st.lists(st.sampled_from(earlier), unique=True, min_size=1))
        for key in ("up", "stop_timeout"):
            if draw(st.booleans()):
                entry[key] = draw(durations)
        if draw(st.booleans()):
            entry["stop"] = draw(st.sampled_from(["save", "shutdown"]))
        if draw(st.booleans()):
            entry["on_timeout"] = draw(st.sampled_from(["destroy", "leave"]))
        autostart.append(entry)

    # What the generator cannot rule out by construction: two spellings of one device, and an NFS
    # server that is also a domain (an NFS dependency the depends_on order does not know about).
    assume(len(claimed) == len(set(claimed)))
    hosts = {d["name"] for d in domains} | {d["ip"] for d in domains if "ip" in d}
    assume(not any(e["server"] in hosts for e in exports))

    data: dict[str, Any] = {"domains": domains}
    storage = {k: v for k, v in (("volume_groups", groups), ("volumes", volumes), ("nfs_exports", exports)) if v}
    if storage:
        data["storage"] = storage
    if autostart:
        data["autostart"] = autostart
    return data


# --- loading through files ---


def _load_text(text: str) -> DesiredState:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.yaml")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return load_specs([path])


def _load_data(data: dict[str, Any]) -> DesiredState:
    return _load_text(yaml.dump(data, Dumper=_QuotingDumper, sort_keys=False, allow_unicode=True))


def _content(desired: DesiredState) -> tuple[Any, ...]:
    return desired.domains, desired.volumes, desired.volume_groups, desired.nfs_exports, desired.autostart


def _schema_errors(data: object) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in VALIDATOR.iter_errors(data)]


def _assert_round_trips(data: dict[str, Any]) -> DesiredState:
    """Load ``data`` (which the schema accepts), dump the model, load that: the same model."""
    assert _schema_errors(data) == []
    try:
        first = _load_data(data)
    except SpecError as exc:
        raise AssertionError(f"the schema accepts it but loading refuses it:\n{exc}") from None
    text = dump_spec(first)
    assert _schema_errors(yamlfile.parse(text)) == [], text
    try:
        second = _load_text(text)
    except SpecError as exc:
        raise AssertionError(f"dump_spec wrote YAML that does not load:\n{text}\n{exc}") from None
    assert _content(second) == _content(first), text
    return first


@SETTINGS
@given(spec_data(exact_size(), exact_duration()))
def test_any_spec_the_schema_accepts_loads_and_dumps_back_to_the_same_model(data: dict[str, Any]) -> None:
    assume(not _schema_errors(data))
    desired = _assert_round_trips(data)
    assert [d.name for d in desired.domains] == sorted(d["name"] for d in data["domains"])
    written = {d["name"]: d for d in data["domains"]}
    for domain in desired.domains:  # free text comes through exactly as written, however YAML 1.1 reads it
        for key in ("root", "extra", "bootloader"):
            assert getattr(domain, key) == written[domain.name].get(key)


@pytest.mark.parametrize("word", TRICKY, ids=repr)
def test_a_word_yaml_1_1_misreads_survives_loading_and_dumping_in_every_free_text_field(word: str) -> None:
    domain: dict[str, Any] = {"name": "web1", "root": word, "extra": word}
    volume: dict[str, Any] = {"name": "v", "partition": "hda3"}
    if word:  # these may not be empty
        domain["bootloader"] = word
        domain["install"] = {"location": "http://mirror/debian", "kickstart": word}
        volume["populate"] = word
    else:
        domain["kernel"] = "/boot/vmlinuz-2.6.18-xen"
    desired = _assert_round_trips({"domains": [domain], "storage": {"volumes": [volume]}})
    loaded = desired.domains[0]
    assert (loaded.root, loaded.extra) == (word, word)
    if word:
        assert loaded.bootloader == word
        assert loaded.install is not None and loaded.install.kickstart == word
        assert desired.volumes[0].populate == word


@settings(SETTINGS, report_multiple_bugs=False)
@given(ANY_SIZE)
def test_any_size_the_schema_accepts_round_trips_through_the_model(size: str) -> None:
    data = {"storage": {"volumes": [{"name": "img", "file": {"path": "img.img", "size": size}}]}}
    _assert_round_trips(data)


@settings(SETTINGS, report_multiple_bugs=False)
@given(ANY_DURATION, st.sampled_from(["up", "stop_timeout"]))
def test_any_duration_the_schema_accepts_round_trips_through_the_model(duration: str, key: str) -> None:
    data = {
        "domains": [{"name": "web1", "kernel": "/boot/vmlinuz-2.6.18-xen"}],
        "autostart": [{"domain": "web1", key: duration}],
    }
    _assert_round_trips(data)


@pytest.mark.parametrize("size", ["0.5K", "1.5K", "100.25K"])
def test_a_size_that_is_not_a_whole_kib_is_dumped_in_a_form_the_schema_accepts(size: str) -> None:
    _assert_round_trips({"storage": {"volumes": [{"name": "img", "file": {"path": "img.img", "size": size}}]}})


@pytest.mark.parametrize("duration", ["0.7s", "0.001s", "1.001s", "0.3m"])
def test_a_fractional_duration_keeps_its_value_through_a_dump(duration: str) -> None:
    data = {
        "domains": [{"name": "web1", "kernel": "/boot/vmlinuz-2.6.18-xen"}],
        "autostart": [{"domain": "web1", "up": duration}],
    }
    _assert_round_trips(data)


@pytest.mark.parametrize("word", TRICKY, ids=repr)
def test_the_dumped_yaml_reads_back_the_same_even_with_a_yaml_1_1_reader(word: str) -> None:
    desired = _load_data({"domains": [{"name": "web1", "kernel": "/boot/vmlinuz-2.6.18-xen", "extra": word}]})
    reread = yaml.load(dump_spec(desired), Loader=yaml.SafeLoader)  # PyYAML's own YAML 1.1 reading
    assert reread["domains"][0]["extra"] == word


def test_a_memory_the_loader_accepts_as_a_number_dumps_to_a_memory_it_accepts() -> None:
    _assert_round_trips({"domains": [{"name": "web1", "kernel": "/boot/k", "memory": 16 * 1024 * 1024}]})


def test_a_memory_beyond_16t_is_refused_by_the_schema_itself(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("domains:\n  - name: web1\n    kernel: /boot/k\n    memory: 10000000000000\n")
    with pytest.raises(SpecError, match="at most 16T"):
        load_specs([str(path)])
