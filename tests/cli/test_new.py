"""``xenctl new``: virt-install's questions, their reasons, and the spec they write, asked or flagged."""

from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import run_xenctl
from xenctl.cli.wizard import (
    QUESTIONS,
    Answers,
    BadAnswer,
    Limits,
    answers_to_desired,
    ask_questions,
    gigabytes,
    parse_disk,
    parse_disk_size,
    parse_extra_args,
    parse_flags,
    parse_graphics,
    parse_location,
    parse_name,
    parse_ram,
    render_spec,
    volume_name,
)
from xenctl.engine.sim import SimHost
from xenctl.errors import UsageError, XenctlError
from xenctl.spec.load import load_specs
from xenctl.spec.model import (
    DesiredState,
    DiskSpec,
    DomainSpec,
    HvmSpec,
    InstallSpec,
    VifSpec,
    VolumeKind,
    VolumeSpec,
)
from xenctl.units import GIB, MIB

LIMITS = Limits(storage_root="/var/lib/xen/images", guest_memory=15104, source="the built-in host profile")
ROOT = "/var/lib/xen/images"

PROMPTS = {
    "name": "What is the name of your virtual machine?",
    "ram": "How much RAM should be allocated (in megabytes)?",
    "hvm": "Would you like a fully virtualized guest (yes or no)?  "
    "This will allow you to run unmodified operating systems.",
    "disk": "What would you like to use as the disk (file path)?",
    "disk_size": "How large would you like the disk to be (in gigabytes)?",
    "graphics": "Would you like to enable graphics support? (yes or no)",
    "location": "What is the install location?",
}

# The right answers, and for each question one wrong answer and the reason the user is shown.
RIGHT = {
    "name": "web1",
    "ram": "512",
    "hvm": "no",
    "disk": f"{ROOT}/web1.img",
    "disk_size": "8",
    "graphics": "no",
    "location": "nfs:my.nfs.server.com:/path/to/test/web1",
}
WRONG = {
    "name": ("web 1", "'web 1' has ' '; a name is letters, digits and _ - . : +"),
    "ram": ("128", "128 megabytes is too little; a guest needs at least 256"),
    "hvm": ("full", "'full' is not yes or no"),
    "disk": (
        "/tmp/web1.img",
        f"'/tmp/web1.img' is outside the storage root {ROOT}; give a path in it, or just a file name",
    ),
    "disk_size": ("0", "0 gigabytes is no disk; give more than 0"),
    "graphics": ("maybe", "'maybe' is not yes or no"),
    "location": (
        "cdrom",
        "'cdrom' is not an install location; write nfs:server:/path, ftp://server/path or http://server/path",
    ),
}
FLAGS = {q.key: q.flag for q in QUESTIONS}


def flags_for(answers: dict[str, str]) -> list[str]:
    return [word for key, value in answers.items() for word in (FLAGS[key], value)]


def reason(parse: Callable[[str, Limits], Any], text: str, limits: Limits = LIMITS) -> str:
    with pytest.raises(BadAnswer) as caught:
        parse(text, limits)
    return str(caught.value)


# --- the validators -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["web1", "a.b:c+d_e-f", "x" * 64, "1web", "  gtes11vm  ", "Domain-1"])
def test_a_name_as_the_schema_allows_it_is_taken_stripped(text: str) -> None:
    assert parse_name(text, LIMITS) == text.strip()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "a name is needed"),
        ("   ", "a name is needed"),
        ("web 1", "'web 1' has ' '; a name is letters, digits and _ - . : +"),
        ("web/1!", "'web/1!' has '!' '/'; a name is letters, digits and _ - . : +"),
        ("x" * 65, f"'{'x' * 65}' is 65 characters long; a name has at most 64"),
        ("123", "'123' is only digits, which xm would take for a domain id; add a letter"),
        ("..", "'..' is not a name; use letters and digits"),
        ("Domain-0", "Domain-0 is the host's own domain; choose another name"),
    ],
)
def test_a_bad_name_is_refused_with_its_reason(text: str, why: str) -> None:
    assert reason(parse_name, text) == why


@pytest.mark.parametrize(("text", "mib"), [("256", 256), (" 512 ", 512), ("15104", 15104), ("0768", 768)])
def test_ram_is_a_whole_number_of_megabytes_from_256(text: str, mib: int) -> None:
    assert parse_ram(text, LIMITS) == mib


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "a number of megabytes is needed, such as 512"),
        ("lots", "'lots' is not a whole number of megabytes; write 512 or 1024"),
        ("512M", "'512M' is not a whole number of megabytes; write 512 or 1024"),
        ("512.5", "'512.5' is not a whole number of megabytes; write 512 or 1024"),
        ("-512", "'-512' is not a whole number of megabytes; write 512 or 1024"),
        ("255", "255 megabytes is too little; a guest needs at least 256"),
        ("15105", "15105 megabytes is more than the built-in host profile can ever give a guest (15104)"),
        ("9" * 5000, f"{'9' * 37}... megabytes is more than the built-in host profile can ever give a guest (15104)"),
    ],
)
def test_bad_ram_is_refused_with_its_reason(text: str, why: str) -> None:
    assert reason(parse_ram, text) == why


@pytest.mark.parametrize(
    "text", ["web1.img", "guests/web1.img", "./web1.img", f"{ROOT}/web1.img", f"{ROOT}/vm/disk 1.img", "  a.img "]
)
def test_a_disk_is_a_file_name_or_a_path_under_the_storage_root(text: str) -> None:
    assert parse_disk(text, LIMITS) == text.strip()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", f"a file path is needed, such as {ROOT}/guest.img"),
        ("../web1.img", "'../web1.img' has '..'; give the path without it"),
        (f"{ROOT}/../web1.img", f"'{ROOT}/../web1.img' has '..'; give the path without it"),
        ("web\x001.img", "'web\\x001.img' has a control or unprintable character; a file path cannot"),
        ("web\n1.img", "'web\\n1.img' has a control or unprintable character; a file path cannot"),
        ("images/", f"'images/' is a directory; give a file's path, such as {ROOT}/guest.img"),
        (".", f"'.' is a directory; give a file's path, such as {ROOT}/guest.img"),
        (f"{ROOT}/", f"'{ROOT}/' is a directory; give a file's path, such as {ROOT}/guest.img"),
        (ROOT, f"'{ROOT}' is the storage root, a directory; name a file in it, such as {ROOT}/guest.img"),
        (
            "/tmp/web1.img",
            f"'/tmp/web1.img' is outside the storage root {ROOT}; give a path in it, or just a file name",
        ),
        (
            f"{ROOT}x/a.img",
            f"'{ROOT}x/a.img' is outside the storage root {ROOT}; give a path in it, or just a file name",
        ),
    ],
)
def test_a_bad_disk_path_is_refused_with_its_reason(text: str, why: str) -> None:
    assert reason(parse_disk, text) == why


def test_the_storage_root_is_the_hosts() -> None:
    srv = Limits(storage_root="/srv/xen")
    assert parse_disk("/srv/xen/web1.img", srv) == "/srv/xen/web1.img"
    assert reason(parse_disk, f"{ROOT}/web1.img", srv).endswith(
        "is outside the storage root /srv/xen; give a path in it, or just a file name"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("8", 8 * GIB),
        ("0008.000", 8 * GIB),
        ("0.0009765625", MIB),
        ("0.5", 512 * MIB),
        (".5", 512 * MIB),
        ("1.25", 1280 * MIB),
        ("2048", 2048 * GIB),
        ("3.", 3 * GIB),
    ],
)
def test_a_disk_size_is_gigabytes_in_whole_megabytes_up_to_2048(text: str, size: int) -> None:
    assert parse_disk_size(text, LIMITS) == size


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "a number of gigabytes is needed, such as 8"),
        ("big", "'big' is not a number of gigabytes; write 8 or 0.5"),
        ("8G", "'8G' is not a number of gigabytes; write 8 or 0.5"),
        ("-1", "'-1' is not a number of gigabytes; write 8 or 0.5"),
        ("0", "0 gigabytes is no disk; give more than 0"),
        ("0.0", "0.0 gigabytes is no disk; give more than 0"),
        ("0.1", "0.1 gigabytes is not a whole number of megabytes; write 0.5, 1.25 or a whole number"),
        ("2048.5", "2048.5 gigabytes is more than 2048, the largest disk xenctl new makes"),
        ("9" * 5000, f"{'9' * 37}... gigabytes is more than 2048, the largest disk xenctl new makes"),
        (
            "0." + "5" * 60,
            f"0.{'5' * 35}... gigabytes is not a whole number of megabytes; write 0.5, 1.25 or a whole number",
        ),
    ],
)
def test_a_bad_disk_size_is_refused_with_its_reason(text: str, why: str) -> None:
    assert reason(parse_disk_size, text) == why


@pytest.mark.parametrize(
    ("text", "on"), [("yes", True), ("Y", True), (" YES ", True), ("no", False), ("n", False), ("No", False)]
)
def test_graphics_is_yes_or_no_in_any_case(text: str, on: bool) -> None:
    assert parse_graphics(text, LIMITS) is on


@pytest.mark.parametrize(("text", "why"), [("maybe", "'maybe' is not yes or no"), ("", "answer yes or no")])
def test_graphics_refuses_anything_but_yes_or_no(text: str, why: str) -> None:
    assert reason(parse_graphics, text) == why


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("nfs:my.nfs.server.com:/path/to/test/gtes11vm", "nfs:my.nfs.server.com:/path/to/test/gtes11vm"),
        ("ftp://my.ftp.server.com/path/to/test/gtes11vm", "ftp://my.ftp.server.com/path/to/test/gtes11vm"),
        ("http://mirror.example.com/debian/", "http://mirror.example.com/debian/"),
        ("https://mirror:8443", "https://mirror:8443"),
        ("HTTP://Mirror/debian", "http://Mirror/debian"),
    ],
)
def test_an_install_location_is_nfs_ftp_or_http(text: str, location: str) -> None:
    assert parse_location(text, LIMITS) == location


@pytest.mark.parametrize(
    "text", ["cdrom", "nfs:server", "nfs:server:relative/path", "http://", "http:///debian", "file:///srv/tree",
             "http://mirror/deb ian", "http://mirror/\u200bdebian"]
)  # fmt: skip
def test_a_bad_install_location_is_refused_with_how_to_write_one(text: str) -> None:
    assert reason(parse_location, text) == (
        f"{text!r} is not an install location; write nfs:server:/path, ftp://server/path or http://server/path"
    )


def test_an_empty_install_location_asks_for_one() -> None:
    assert (
        reason(parse_location, " ") == "an install location is needed, such as nfs:server:/path or http://server/path"
    )


@pytest.mark.parametrize(
    ("name", "volume"),
    [("web1", "web1-disk"), ("web:1", "web_1-disk"), ("-web", "_-web-disk"), ("a+b.c", "a+b.c-disk")],
)
def test_the_volume_is_named_after_the_domain_as_lvm_names_allow(name: str, volume: str) -> None:
    assert volume_name(name) == volume


@pytest.mark.parametrize(
    ("size", "text"), [(8 * GIB, "8"), (512 * MIB, "0.5"), (1280 * MIB, "1.25"), (MIB, "0.0009765625")]
)
def test_a_disk_size_is_shown_again_in_exact_gigabytes(size: int, text: str) -> None:
    assert gigabytes(size) == text
    assert parse_disk_size(text, LIMITS) == size


# --- the answers as a spec ------------------------------------------------------------------------

WEB1 = Answers(
    name="web1",
    ram=512,
    disk=f"{ROOT}/web1.img",
    disk_size=8 * GIB,
    graphics=True,
    location="http://mirror.example.com/debian",
)


def test_the_answers_make_one_pygrub_domain_on_one_image_file() -> None:
    assert answers_to_desired(WEB1) == DesiredState(
        domains=(
            DomainSpec(
                name="web1",
                memory=512,
                bootloader="pygrub",
                disks=(DiskSpec(vdev="xvda", mode="w", volume="web1-disk"),),
                vifs=(VifSpec(bridge="xenbr0"),),
                install=InstallSpec(location="http://mirror.example.com/debian"),
                graphics=True,
            ),
        ),
        volumes=(VolumeSpec(name="web1-disk", kind=VolumeKind.FILE, size=8 * GIB, path=f"{ROOT}/web1.img"),),
    )


def test_the_spec_text_says_how_to_make_it_again_with_flags() -> None:
    text = render_spec(WEB1)
    assert text.splitlines()[:2] == [
        "# web1: made by xenctl new from virt-install's questions.",
        f"# The same answers as flags: xenctl new --name web1 --ram 512 --hvm no --disk {ROOT}/web1.img --disk-size 8 "
        "--graphics yes --location http://mirror.example.com/debian",
    ]
    assert "filesystem" not in text  # the guest's installer makes it


_names = st.from_regex(r"\A[A-Za-z0-9_.:+][A-Za-z0-9_.:+-]{0,63}\Z").filter(
    lambda n: not n.isdigit() and n not in (".", "..", "Domain-0")
)
_file = st.from_regex(r"\A[A-Za-z0-9 _.#:'\"!&*%@-]{1,20}\Z").filter(lambda f: f not in (".", ".."))
_disks = st.builds(
    lambda dirs, name, absolute: (f"{ROOT}/" if absolute else "") + "".join(d + "/" for d in dirs) + name,
    st.lists(_file, max_size=2),
    _file,
    st.booleans(),
).filter(lambda p: p.strip() == p)
_locations = st.builds(
    lambda kind, host, path: f"nfs:{host}:/{path}" if kind == "nfs" else f"{kind}://{host}/{path}",
    st.sampled_from(["nfs", "ftp", "http", "https"]),
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9.-]{0,30}\Z"),
    st.from_regex(r"\A[!-~]{0,30}\Z"),
)
_answers = st.builds(
    Answers,
    name=_names,
    ram=st.integers(256, 15104),
    disk=_disks,
    disk_size=st.integers(1, 2048 * 1024).map(lambda mib: mib * MIB),
    graphics=st.booleans(),
    location=_locations,
    hvm=st.booleans(),
    kickstart=st.none() | st.sampled_from(["http://ks.example.com/web.cfg", "nfs:server:/ks/ks.cfg"]),
    extra=st.none() | st.sampled_from(["console=xvc0", "text noipv6"]),
)


@settings(max_examples=60, deadline=None)
@given(_answers)
def test_any_good_answers_write_a_spec_that_loads_back_the_same(answers: Answers) -> None:
    # Each answer is one the questions take, as written in the header's flag form.
    words = shlex.split(render_spec(answers).splitlines()[1].removeprefix("# The same answers as flags: "))
    flags = dict(zip(words[2::2], words[3::2], strict=True))
    again = parse_flags({q.key: flags[q.flag] for q in QUESTIONS}, LIMITS)
    again["kickstart"], again["extra"] = parse_extra_args(flags["-x"]) if "-x" in flags else (None, None)
    assert Answers(**again) == answers
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "spec.yaml")
        Path(path).write_text(render_spec(answers), encoding="utf-8")
        loaded = load_specs([path])
    wanted = answers_to_desired(answers)
    assert (loaded.domains, loaded.volumes) == (wanted.domains, wanted.volumes)


# --- asking ---------------------------------------------------------------------------------------


def test_each_question_is_asked_again_after_a_bad_answer_with_the_reason() -> None:
    typed = iter(answer for key in PROMPTS for answer in (WRONG[key][0], RIGHT[key]))
    transcript: list[str] = []

    def ask(prompt: str) -> str:
        answer = next(typed)
        transcript.append(prompt + answer)
        return answer

    values = ask_questions(QUESTIONS, LIMITS, ask, transcript.append)
    assert Answers(**values) == Answers("web1", 512, f"{ROOT}/web1.img", 8 * GIB, False, RIGHT["location"])
    expected = []
    for key, prompt in PROMPTS.items():
        expected += [f"{prompt} {WRONG[key][0]}", f"  {WRONG[key][1]}", f"{prompt} {RIGHT[key]}"]
    assert transcript == expected


def test_the_end_of_input_on_a_question_is_an_error_naming_it() -> None:
    answers = iter(["web1"])

    def ask(prompt: str) -> str:
        return next(answers) if prompt.startswith("What is the name") else _eof()

    with pytest.raises(XenctlError) as caught:
        ask_questions(QUESTIONS, LIMITS, ask, lambda _text: None)
    assert caught.value.exit_code == 1
    assert str(caught.value) == (
        "no answer to 'How much RAM should be allocated (in megabytes)?' (end of input); nothing was written"
    )


def _eof() -> str:
    raise EOFError


def test_a_bad_flag_is_a_usage_error_with_the_questions_reason() -> None:
    with pytest.raises(UsageError) as caught:
        parse_flags({"name": "web1", "ram": "128"}, LIMITS)
    assert caught.value.exit_code == 1
    assert str(caught.value) == "--ram: 128 megabytes is too little; a guest needs at least 256"


# --- the real command -----------------------------------------------------------------------------


def run_new(home: Path, *args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``xenctl --home HOME new ARGS`` in ``cwd``, stdin a pipe (not a terminal)."""
    return run_xenctl(home, "--home", str(home), "new", *args, cwd=cwd, stdin=stdin)


class Terminal:
    """A command run on a pseudo-terminal: read until a text appears, type lines, wait for the exit."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        env = {**os.environ, "XENCTL_TIME_SCALE": "0"}
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its stdin, stdout, stderr and controlling terminal
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = b""
        self.seen = 0
        self.status: int | None = None

    @property
    def screen(self) -> str:
        return self.output.decode(errors="replace").replace("\r\n", "\n")

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False at the end of output."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child has gone and closed the terminal
            chunk = b""
        self.output += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` appears after what was expected last; return the terminal's text up to it."""
        wanted = text.replace("\n", "\r\n").encode()
        deadline = time.monotonic() + timeout
        while wanted not in self.output[self.seen :]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} within {timeout}s; the terminal shows:\n{self.screen}")
            if not self._read(min(left, 1.0)):
                raise AssertionError(f"the command ended before {text!r}; the terminal shows:\n{self.screen}")
        end = self.output.index(wanted, self.seen) + len(wanted)
        shown = self.output[self.seen : end].decode(errors="replace").replace("\r\n", "\n")
        self.seen = end
        return shown

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def answer(self, prompt: str, text: str) -> None:
        self.expect(prompt + " ")
        self.type(text + "\n")

    def wait(self, timeout: float = 30) -> int:
        """Read to the end, and return the exit code."""
        deadline = time.monotonic() + timeout
        while self._read(max(0.0, min(deadline - time.monotonic(), 1.0))) and time.monotonic() < deadline:
            pass
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        raise AssertionError(f"the command did not end within {timeout}s; the terminal shows:\n{self.screen}")

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Start ``xenctl --home HOME new ARGS`` on a pseudo-terminal, in tmp_path."""
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        argv = [sys.executable, "-m", "xenctl", "--home", str(tmp_path / "home"), "new", *args]
        started.append(Terminal(argv, tmp_path))
        return started[-1]

    yield start
    for term in started:
        term.close()


def test_the_flag_form_writes_a_spec_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "specs" / "web1.yaml"
    answers = {
        **RIGHT,
        "disk": "web1.img",
        "disk_size": "0.5",
        "graphics": "YES",
        "location": "ftp://ftp.example.com/etch",
    }
    result = run_new(tmp_path / "home", *flags_for(answers), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Wrote {out}. Check it with: xenctl validate {out}\n"
    assert result.stderr == ""
    desired = load_specs([str(out)])
    (domain,) = desired.domains
    (volume,) = desired.volumes
    assert (domain.name, domain.memory, domain.graphics) == ("web1", 512, True)
    assert domain.install == InstallSpec("ftp://ftp.example.com/etch")
    assert (volume.name, volume.path, volume.size) == ("web1-disk", "web1.img", 512 * MIB)
    assert "size: 512M" in out.read_text()
    assert not (tmp_path / "home").exists()  # writing a spec makes no host


def test_the_flag_form_writes_specs_name_yaml_by_default_and_validate_accepts_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_new(home, *flags_for(RIGHT), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Wrote specs/web1.yaml. Check it with: xenctl validate specs/web1.yaml\n"
    checked = subprocess.run(
        [sys.executable, "-m", "xenctl", "--home", str(home), "validate", "specs/web1.yaml"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: 1 file: 1 domain, 0 volume groups, 1 volume")


def test_a_wrong_answer_to_each_question_then_the_right_one_writes_what_the_flags_write(
    tmp_path: Path, terminal: Callable[..., Terminal]
) -> None:
    asked = tmp_path / "asked.yaml"
    term = terminal("--out", str(asked))
    for key, prompt in PROMPTS.items():
        wrong, why = WRONG[key]
        term.answer(prompt, wrong)
        shown = term.expect(prompt + " ")
        assert shown == f"{wrong}\n  {why}\n{prompt} "  # the echo, the reason, and the question again
        term.type(RIGHT[key] + "\n")
    assert term.wait() == 0, term.screen
    assert term.screen.endswith(f"Wrote {asked}. Check it with: xenctl validate {asked}\n")

    flagged = tmp_path / "flagged.yaml"
    result = run_new(tmp_path / "home", *flags_for(RIGHT), "--out", str(flagged), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert asked.read_bytes() == flagged.read_bytes()
    assert load_specs([str(asked)]).domains[0].memory == 512


def test_only_the_answers_missing_from_the_flags_are_asked(tmp_path: Path, terminal: Callable[..., Terminal]) -> None:
    given = {key: RIGHT[key] for key in ("name", "ram", "disk", "disk_size")}
    term = terminal(*flags_for(given))
    term.answer(PROMPTS["hvm"], "n")
    term.answer(PROMPTS["graphics"], "y")
    term.answer(PROMPTS["location"], RIGHT["location"])
    assert term.wait() == 0, term.screen
    for key in given:
        assert PROMPTS[key] not in term.screen
    assert load_specs([str(tmp_path / "specs" / "web1.yaml")]).domains[0].graphics is True


def test_the_end_of_input_mid_wizard_is_an_error_and_writes_nothing(
    tmp_path: Path, terminal: Callable[..., Terminal]
) -> None:
    term = terminal()
    term.answer(PROMPTS["name"], "web1")
    term.answer(PROMPTS["ram"], "1024")
    term.answer(PROMPTS["hvm"], "no")
    term.expect(PROMPTS["disk"] + " ")
    term.type("\x04")  # Ctrl-D at the start of a line: the end of input
    assert term.wait() == 1
    assert term.screen.endswith(
        "\nError: no answer to 'What would you like to use as the disk (file path)?' (end of input); "
        "nothing was written\n"
    )
    assert not (tmp_path / "specs").exists()


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path: Path, terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    term.answer(PROMPTS["name"], "web1")
    term.expect(PROMPTS["ram"] + " ")
    term.type("\x03")
    assert term.wait() == 130
    assert "Interrupted." in term.screen
    assert "Traceback" not in term.screen
    assert not (tmp_path / "specs").exists()


def test_an_existing_spec_is_not_replaced_without_force(tmp_path: Path) -> None:
    out = tmp_path / "specs" / "web1.yaml"
    out.parent.mkdir()
    out.write_text("# mine\n")
    refused = run_new(tmp_path / "home", *flags_for(RIGHT), cwd=tmp_path)
    assert refused.returncode == 1
    assert (
        refused.stderr == "Error: specs/web1.yaml already exists; give --force to replace it, or --out another file\n"
    )
    assert refused.stdout == ""
    assert out.read_text() == "# mine\n"
    forced = run_new(tmp_path / "home", *flags_for(RIGHT), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert load_specs([str(out)]).domains[0].name == "web1"


def test_an_existing_out_file_is_refused_before_any_question(tmp_path: Path, terminal: Callable[..., Terminal]) -> None:
    out = tmp_path / "taken.yaml"
    out.write_text("# mine\n")
    term = terminal("--out", str(out))
    assert term.wait() == 1
    assert term.screen == f"Error: {out} already exists; give --force to replace it, or --out another file\n"
    assert out.read_text() == "# mine\n"


def test_missing_answers_without_a_terminal_name_the_flags_to_give(tmp_path: Path) -> None:
    result = run_new(tmp_path / "home", "--name", "web1", "--graphics", "no", cwd=tmp_path, stdin="512\n")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: stdin is not a terminal to ask on; give the missing answers as flags: "
        "--ram --hvm --disk --disk-size --location\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "specs").exists()


@pytest.mark.parametrize("key", list(WRONG))
def test_a_bad_flag_exits_1_with_the_reason_the_question_gives(tmp_path: Path, key: str) -> None:
    wrong, why = WRONG[key]
    result = run_new(tmp_path / "home", *flags_for({**RIGHT, key: wrong}), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"Error: {FLAGS[key]}: {why}\n"
    assert not (tmp_path / "specs").exists()


def test_the_hosts_memory_and_storage_root_bound_the_answers(tmp_path: Path, make_host: Callable[..., SimHost]) -> None:
    host = make_host(name="lab", memory="2G", storage_root="/srv/xen")
    home = Path(host.home)
    host.close()
    too_big = run_new(home, *flags_for({**RIGHT, "ram": "4096"}), cwd=tmp_path)
    assert too_big.returncode == 1
    assert too_big.stderr.startswith("Error: --ram: 4096 megabytes is more than host lab can ever give a guest (")
    elsewhere = run_new(home, *flags_for(RIGHT), cwd=tmp_path)
    assert elsewhere.stderr == (
        f"Error: --disk: '{ROOT}/web1.img' is outside the storage root /srv/xen; "
        "give a path in it, or just a file name\n"
    )
    fits = run_new(home, *flags_for({**RIGHT, "disk": "/srv/xen/web1.img"}), cwd=tmp_path)
    assert fits.returncode == 0, fits.stderr


# --- fully virtualized guests, and the installer's arguments ----------------------------------------


def test_a_fully_virtualized_guest_is_an_hvm_domain_with_an_emulated_disk_and_card() -> None:
    answers = Answers("win1", 1024, "win1.img", 8 * GIB, True, "http://mirror/centos", hvm=True)
    (domain,) = answers_to_desired(answers).domains
    assert domain == DomainSpec(
        name="win1",
        memory=1024,
        hvm=HvmSpec(vnc=True, serial="pty"),  # graphics on the device model's VNC server
        disks=(DiskSpec(vdev="hda", mode="w", volume="win1-disk"),),
        vifs=(VifSpec(bridge="xenbr0", type="ioemu"),),
        install=InstallSpec(location="http://mirror/centos"),
    )


def test_hvm_yes_writes_an_hvm_spec_that_validates_and_applies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_new(home, *flags_for({**RIGHT, "hvm": "yes", "disk": "web1.img"}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (domain,) = load_specs([str(tmp_path / "specs" / "web1.yaml")]).domains
    assert domain.hvm is not None and domain.bootloader is None
    applied = run_xenctl(home, "apply", "--auto-approve", "specs", cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "HVM Loader" in run_xenctl(home, "console", "web1").stdout


def test_a_host_without_hvm_support_is_not_asked_and_refuses_a_fully_virtualized_guest(
    tmp_path: Path, make_host: Callable[..., SimHost]
) -> None:
    host = make_host(name="old", hvm=False)
    home = Path(host.home)
    host.close()
    not_asked = {key: value for key, value in RIGHT.items() if key != "hvm"}
    made = run_new(home, *flags_for(not_asked), cwd=tmp_path)  # stdin is no terminal: nothing may be missing
    assert made.returncode == 0, made.stderr
    assert load_specs([str(tmp_path / "specs" / "web1.yaml")]).domains[0].hvm is None
    refused = run_new(home, *flags_for({**RIGHT, "hvm": "yes"}), "--force", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: --hvm: host old cannot run fully virtualized guests (no VT-x or AMD-V); "
        "answer no for a paravirtualized one\n"
    )


def test_x_ks_url_names_the_kickstart_file_and_the_rest_is_the_kernel_command_line(tmp_path: Path) -> None:
    result = run_new(
        tmp_path / "home", *flags_for(RIGHT), "-x", "ks=http://ks.example.com/web1.cfg console=xvc0", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    (domain,) = load_specs([str(tmp_path / "specs" / "web1.yaml")]).domains
    assert domain.install == InstallSpec(RIGHT["location"], kickstart="http://ks.example.com/web1.cfg")
    assert domain.extra == "console=xvc0"
    assert "-x 'ks=http://ks.example.com/web1.cfg console=xvc0'" in (tmp_path / "specs" / "web1.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ("ks=cdrom", "ks=cdrom is not a kickstart URL; write ks=http://server/path/ks.cfg"),
        ("ks=http://a/1.cfg ks=http://a/2.cfg", "ks= is given twice; give one kickstart file"),
    ],
)
def test_a_bad_kickstart_is_refused_with_the_reason(tmp_path: Path, args: str, why: str) -> None:
    result = run_new(tmp_path / "home", *flags_for(RIGHT), "--extra-args", args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"Error: --extra-args: {why}\n"
    assert not (tmp_path / "specs").exists()
