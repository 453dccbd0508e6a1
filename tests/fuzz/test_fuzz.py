"""Hostile and malformed input: every reader gives a result or one clear error, never a traceback.

Generated inputs for the spec loader (and ``xenctl validate``), the xm config reader, the disk
and vif grammar, the plan-file reader and the autostart entry reader. ``make test`` runs a few
hundred of each; the benchmark run sets ``XENCTL_FUZZ_EXAMPLES=10000``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import ROOT
from xenctl.cli.main import main
from xenctl.errors import ConfigError, PlanError, SpecError
from xenctl.reconcile.planfile import read_planfile
from xenctl.spec.load import load_specs
from xenctl.xmconfig.auto import AutoDir, Broken, Entry
from xenctl.xmconfig.disks import DiskSpecError, parse_disk, parse_vif
from xenctl.xmconfig.domain import to_domain_config
from xenctl.xmconfig.reader import parse_config

EXAMPLES = int(os.environ.get("XENCTL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    derandomize=EXAMPLES < 1000,  # make test: the same inputs every run; the bench run explores
)

# -- generated material --------------------------------------------------------------------------

SPEC_WORDS = [
    "domains", "storage", "autostart", "volumes", "volume_groups", "nfs_exports", "name", "memory",
    "maxmem", "vcpus", "kernel", "root", "disks", "volume", "vdev", "mode", "phy", "file", "lvm", "vg",
    "size", "snapshot_of", "pvs", "state", "depends_on", "after", "order", "up", "stop", "server",
    "path", "vifs", "bridge", "mac", "web1", "db", "/dev/sda10", "512M", "4G", "w", "r", "w!", "<<",
    "x-t", "~", "no", "0755", "1:30", "../../etc/passwd", "\x00", "*a", "&a",
]  # fmt: skip
scalars = st.one_of(
    st.sampled_from(SPEC_WORDS),
    st.text(max_size=20),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(SPEC_WORDS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)
yaml_texts = st.one_of(
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.text(max_size=300),
    st.lists(
        st.sampled_from([*SPEC_WORDS, ":", " ", "\n", "- ", "  ", "{", "}", "[", "]", ",", "'", '"', "#"]), max_size=80
    ).map("".join),
)

XM_WORDS = [
    "name", "memory", "maxmem", "vcpus", "kernel", "disk", "vif", "root", "extra", "on_crash", "nfs_server",
    "nfs_root", "=", "'phy:hda3,sda1,w'", '"file:/x.img,xvda,r"', "[", "]", "(", ")", ",", "%", "+", "*", "\n",
    "import os", "os.system('x')", "xm_vars.var('vmid')", "vmid", "def f(x):", "    return x", "lambda: 1",
    "__import__('os')", "open('/etc/passwd')", "9" * 30, "'a' * 10**9", "[1] * 10**9", "True", "None",
]  # fmt: skip
xm_texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from([*XM_WORDS, " "]), max_size=60).map(" ".join),
    st.dictionaries(
        st.sampled_from(XM_WORDS[:11]) | st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=10),
        max_size=8,
    ).map(lambda d: "".join(f"{k} = {v!r}\n" for k, v in d.items())),
)

DISK_PARTS = [
    "phy:", "file:", "tap:aio:", "tap:qcow:", "/dev/hda3", "hda3", "/x.img", "sda1", "xvda", "hdc:cdrom", ",", "w",
    "r", "w!", "rw", "ro", "=", "target=", "vdev=", "access=", "format=raw", "devtype=cdrom", "backendtype=phy",
    "script=block", "mac=00:16:3e:00:00:01", "bridge=xenbr0", "ip=1.2.3.4", " ", "\x00", "::", "..",
]  # fmt: skip
disk_texts = st.one_of(st.text(max_size=60), st.lists(st.sampled_from(DISK_PARTS), max_size=12).map("".join))

plan_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
PLAN_KEYS = ["format", "options", "sources", "plan", "fingerprints"]
plan_texts = st.one_of(
    st.fixed_dictionaries({}, optional={k: plan_values | st.just("xenctl-plan/1") for k in PLAN_KEYS}).map(
        lambda d: json.dumps(d, default=str)
    ),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


def _one_error_line(stderr: str) -> bool:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return bool(lines) and "Traceback" not in stderr


# -- the properties ------------------------------------------------------------------------------


@FUZZ
@given(yaml_texts)
def test_the_spec_loader_gives_a_model_or_spec_errors(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_specs([str(path)])
        except SpecError as exc:
            assert exc.issues, "a SpecError names at least one problem"
            assert all(issue.file == str(path) for issue in exc.issues)


@FUZZ
@given(yaml_texts)
def test_validate_exits_0_or_1_with_file_line_errors_and_no_traceback(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(Path(scratch) / "home"), "validate", str(path)])
        assert code in (0, 1)
        if code == 1:
            assert _one_error_line(err.getvalue())
            assert all(line.startswith(str(path)) for line in err.getvalue().splitlines()[:-1] if line.strip())


@FUZZ
@given(xm_texts)
def test_the_xm_config_reader_gives_a_domain_or_a_config_error_and_runs_nothing(text: str) -> None:
    marker = Path(tempfile.gettempdir()) / "xenctl-fuzz-ran"
    text = text.replace("x')", f"touch {marker}')")
    try:
        parsed = parse_config(text, "fuzz.cfg", {"vmid": "1"})
        to_domain_config(parsed)
    except ConfigError as exc:
        assert exc.message and "\n" not in exc.message.strip()
    assert not marker.exists()


@FUZZ
@given(disk_texts)
def test_the_disk_and_vif_grammar_gives_a_device_or_an_error(text: str) -> None:
    for parse in (parse_disk, parse_vif):
        try:
            parse(text)
        except DiskSpecError as exc:
            assert exc.reason


@FUZZ
@given(plan_texts)
def test_the_plan_file_reader_gives_a_plan_or_a_plan_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "plan.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            read_planfile(str(path))
        except PlanError as exc:
            assert str(path) in exc.message


@FUZZ
@given(st.data())
def test_a_damaged_saved_plan_is_refused_or_read_never_a_traceback(data: st.DataObject) -> None:
    original = (ROOT / "tests" / "fuzz" / "plan-sample.json").read_bytes()
    cut = data.draw(st.integers(0, len(original)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), max_size=3))
    damaged = bytearray(original[:cut] + original[cut:] if data.draw(st.booleans()) else original[:cut])
    for at, value in flips:
        if at < len(damaged):
            damaged[at] = value
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "plan.json"
        path.write_bytes(bytes(damaged))
        with contextlib.suppress(PlanError):
            read_planfile(str(path))


@FUZZ
@given(xm_texts, st.sampled_from(["entry", "web1", "db"]))
def test_an_autostart_entry_reads_as_an_entry_or_as_broken(text: str, name: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        auto = AutoDir(scratch)
        os.makedirs(auto.path)
        meta = "# xenctl-autostart: " + text.splitlines()[0] if text and text.splitlines() else ""
        Path(auto.path, name).write_text(meta + "\n" + text, encoding="utf-8", errors="surrogatepass")
        found = auto.read_one(name)
        assert isinstance(found, (Entry, Broken))
        if isinstance(found, Broken):
            assert found.reason


@FUZZ
@given(st.data())
def test_apply_of_a_saved_plan_with_any_part_changed_refuses_it_without_a_traceback(data: st.DataObject) -> None:
    saved = json.loads((ROOT / "tests" / "fuzz" / "plan-sample.json").read_text())
    # What apply reads of a plan file; its specs' text is kept for the record only.
    part = data.draw(st.sampled_from(["options", "plan", "fingerprints", "values"]))
    saved[part] = data.draw(
        plan_values
        | st.fixed_dictionaries({}, optional={k: plan_values for k in ("adopt", "target", "resource_changes")})
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "plan.json"
        path.write_text(json.dumps(saved, default=str))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(Path(scratch) / "home"), "apply", str(path)])
        assert code == 1
        assert _one_error_line(err.getvalue())
