"""An xm config is Python, but xenctl runs none of it: everything beyond literals is refused, by file and line."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import run_xenctl
from xenctl.errors import ConfigError
from xenctl.xmconfig.reader import parse_config, read_config

ROOT = Path(__file__).resolve().parent.parent.parent


def write(tmp_path: Path, text: str, name: str = "evil") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


# Each config tries to create {made}; the line named is where the refusal is; the words name the construct.
ATTEMPTS: list[tuple[str, str, int, str]] = [
    ("os.system", 'import os\nos.system("touch {made}")\n', 2, "os.system"),
    ("os.system bound to a name", 'import os\nname = os.system("touch {made}")\n', 2, "os.system"),
    ("os.system without import, as xm had it in scope", 'os.system("touch {made}")\n', 1, "os.system"),
    ("__import__", '__import__("os").system("touch {made}")\n', 1, "__import__"),
    ("__import__ bound to a name", 'name = __import__("os")\n', 1, "__import__"),
    ("open", 'name = open("{made}", "w")\n', 1, "calling 'open'"),
    ("open as a statement", 'open("{made}", "w")\n', 1, "open("),
    ("eval", "name = eval(\"open('{made}', 'w')\")\n", 1, "calling 'eval'"),
    ("exec", "exec(\"open('{made}', 'w')\")\n", 1, "exec("),
    ("getattr", 'name = getattr(__builtins__, "open")("{made}", "w")\n', 1, "getattr"),
    ("globals", "name = globals()\n", 1, "calling 'globals'"),
    ("attribute access", "name = ().__class__.__bases__\n", 1, "attribute access '().__class__.__bases__'"),
    ("lambda", 'name = lambda: open("{made}", "w")\n', 1, "lambda"),
    ("list comprehension", 'name = [open("{made}", "w") for i in [1]]\n', 1, "list comprehension"),
    ("generator", 'name = list(open("{made}", "w") for i in [1])\n', 1, "calling 'list'"),
    ("subprocess", 'import subprocess\nsubprocess.call(["touch", "{made}"])\n', 2, "subprocess.call"),
    ("subprocess bound", 'import subprocess\nname = subprocess.call(["touch", "{made}"])\n', 2, "subprocess.call"),
    ("subprocess as a value", "import subprocess\nname = subprocess\n", 2, "using subprocess"),
    ("from os import system", 'from os import system\nsystem("touch {made}")\n', 2, "system("),
    ("from os import system bound", 'from os import system\nname = system("touch {made}")\n', 2, "calling 'system'"),
    ("import as", 'import os as o\nname = o.system("touch {made}")\n', 2, "o.system"),
    ("a module outside the standard library", "import xenctl\n", 1, "importing xenctl"),
    ("a relative import", "from . import x\n", 1, "a relative import"),
    ("calling the skipped def", 'def make(p):\n    open(p, "w")\nname = make("{made}")\n', 3, "calling 'make'"),
    ("class", 'name = "x"\nclass C:\n    x = open("{made}", "w")\n', 2, "class statement"),
    ("for", 'for i in [1]:\n    open("{made}", "w")\n', 1, "for statement"),
    ("while", 'while True:\n    open("{made}", "w")\n', 1, "while statement"),
    ("if", 'if True:\n    open("{made}", "w")\n', 1, "if statement"),
    ("try", 'try:\n    open("{made}", "w")\nexcept Exception:\n    pass\n', 1, "try statement"),
    ("with", 'with open("{made}", "w") as f:\n    pass\n', 1, "with statement"),
    ("f-string", "name = f\"{{open('{made}', 'w')}}\"\n", 1, "f-string"),
    ("% with a call", 'name = "%s" % open("{made}", "w")\n', 1, "calling 'open'"),
    ("% with a lambda", 'name = "%s" % (lambda: open("{made}", "w"))\n', 1, "lambda"),
    ("a huge format width", 'name = "%99999999d" % 1\n', 1, "format width"),
    ("a huge format precision", 'name = "%.99999999f" % 1.0\n', 1, "format width"),
    ("a format width from the arguments", 'name = "%*d" % (99999999, 1)\n', 1, "format width"),
    ("string multiplication", 'name = "a" * 100000000\n', 1, "'*' between a string and a number"),
    ("string multiplication reversed", 'name = 100000000 * "a"\n', 1, "'*' between a number and a string"),
    ("list multiplication", "disk = [1] * 100000000\n", 1, "'*' between a list and a number"),
    ("a subscript", 'name = ["a"][0]\n', 1, "subscript"),
    ("a walrus", 'name = (x := open("{made}", "w"))\n', 1, "walrus"),
    ("a conditional", 'name = 1 if open("{made}", "w") else 2\n', 1, "conditional expression"),
    ("a boolean operator", 'name = open("{made}", "w") or 1\n', 1, "boolean operator"),
    ("a comparison", 'name = 1 < open("{made}", "w")\n', 1, "comparison"),
    ("a set", 'name = {{open("{made}", "w")}}\n', 1, "set"),
    ("print", 'print("{made}")\n', 1, "print("),
    ("assert", 'assert open("{made}", "w")\n', 1, "assert statement"),
    ("raise", 'raise SystemExit(open("{made}", "w"))\n', 1, "raise statement"),
    ("del", 'name = "x"\ndel name\n', 2, "del statement"),
    ("global", "global name\n", 1, "global statement"),
    ("async def", "async def f():\n    pass\n", 1, "async def"),
    ("a dunder name", "__builtins__ = 1\n", 1, "the name __builtins__"),
    ("bytes", 'name = b"x"\n', 1, "the constant b'x'"),
    ("xm_vars.var with a computed name", 'xm_vars.var(open("{made}", "w"))\n', 1, "xm_vars.var"),
    ("xm_vars.check with arguments", 'xm_vars.check(open("{made}", "w"))\n', 1, "xm_vars.check("),
    ("xm_vars.var as a value", 'name = xm_vars.var("vmid")\n', 1, "xm_vars.var"),
    ("str with two arguments", 'name = str("a", "b")\n', 1, "str() with other than one argument"),
]


@pytest.mark.parametrize(
    ("source", "line", "construct"),
    [pytest.param(source, line, construct, id=case) for case, source, line, construct in ATTEMPTS],
)
def test_a_config_that_would_run_something_is_refused_and_nothing_runs(
    tmp_path: Path, source: str, line: int, construct: str
) -> None:
    made = tmp_path / "made"
    path = write(tmp_path, source.format(made=made))
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    error = caught.value
    assert str(error).startswith(f"{path}:{line}: ")
    assert (error.file, error.line) == (path, line)
    assert construct in error.reason
    assert "not allowed in a config file" in error.reason
    assert not made.exists()


def test_a_standard_import_is_skipped_without_running_anything(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        import os, sys
        import os.path
        import subprocess
        from os import system
        from string import *
        name = "quiet"
        """,
    )
    config = read_config(path)
    assert config.options == {"name": "quiet"}


def test_a_def_is_skipped_and_neither_its_decorators_nor_its_defaults_run(tmp_path: Path) -> None:
    made = tmp_path / "made"
    path = write(
        tmp_path,
        f"""\
        @open("{made}-by-decorator", "w")
        def vmid_check(var, val=open("{made}-by-default", "w")):
            open("{made}-by-body", "w")
            return int(val)
        name = "checked"
        """,
    )
    config = read_config(path)
    assert config.options == {"name": "checked"}
    assert list(tmp_path.iterdir()) == [Path(path)]


def test_a_check_function_given_to_xm_vars_is_never_called(tmp_path: Path) -> None:
    made = tmp_path / "made"
    path = write(
        tmp_path,
        f"""\
        xm_vars.var("vmid", use=open("{made}", "w"), check=lambda var, val: open("{made}", "w"))
        xm_vars.check()
        name = "VM%d" % vmid
        """,
    )
    config = read_config(path, {"vmid": "2"})
    assert config.options == {"name": "VM2"}
    assert not made.exists()


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('from os import system as str\nname = str("touch {made}")\n', 2),
        ('from os import system as int\nmemory = int("64")\n', 2),
        ('def str(value):\n    open("{made}", "w")\nname = str(1)\n', 3),
    ],
    ids=["str is os.system", "int is os.system", "str is a def"],
)
def test_calling_an_imported_or_defined_name_that_shadows_str_or_int_is_refused(
    tmp_path: Path, source: str, line: int
) -> None:
    # xm would call the shadowing function (os.system here); xenctl must not pretend it was the builtin.
    made = tmp_path / "made"
    path = write(tmp_path, source.format(made=made))
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert "not allowed in a config file" in caught.value.reason
    assert not made.exists()


# -- values that would make a traceback instead of an error ----------------------------------------


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("disk = {[1]: 2}\n", 1),
        ("memory = int(1e309)\n", 1),
        ("name = '%c' % 99999999999\n", 1),
        ("name = '%c' % -1\n", 1),
        ("name = '%d' % 1e309\n", 1),
    ],
    ids=[
        "unhashable dict key",
        "int of infinity",
        "%c too large",
        "%c negative",
        "%d of infinity",
    ],
)
def test_a_value_python_cannot_compute_is_a_config_error_naming_the_line(source: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(source, "/etc/xen/odd")
    assert str(caught.value).startswith(f"/etc/xen/odd:{line}: ")


def test_a_number_beyond_64_bits_is_refused_where_it_is_written() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"n = {'9' * 4000}\nname = str(n + n)\n", "/etc/xen/odd")
    assert str(caught.value).startswith("/etc/xen/odd:1: a number this large")


def test_a_string_repeated_into_gigabytes_is_refused_at_once() -> None:
    lines = ['a = "' + "x" * 1000 + '"']
    lines += ["a = a + a"] * 10  # 1 MB: the longest a string may be
    lines += ["b = [a]"] + ["b = b + b"] * 13  # 8,192 references to it: 8 GB as text
    lines += ["name = str(b)"]
    with pytest.raises(ConfigError, match="this large"):
        parse_config("\n".join(lines) + "\n", "/etc/xen/big")


def test_a_format_that_repeats_a_long_string_many_times_is_refused_before_it_is_built() -> None:
    text = 'a = "' + "x" * 100_000 + '"\nt = "' + "%(a)s" * 1000 + '"\nname = t % {"a": a}\n'
    with pytest.raises(ConfigError, match="a format this large"):
        parse_config(text, "/etc/xen/fmt")


@pytest.mark.parametrize("operator", ["+", "-"])
def test_a_long_chain_of_arithmetic_is_read_or_refused_never_a_traceback(operator: str) -> None:
    source = "memory = " + operator.join(["1"] * 1000) + "\n"
    try:
        config = parse_config(source, "/etc/xen/long")
    except ConfigError as error:
        assert str(error).startswith("/etc/xen/long")
    else:
        assert config.options["memory"] == (1000 if operator == "+" else -998)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("name = 'a\0b'\n", "NUL byte"),
        ("name = \n", "not a config file"),
        ("name = 'unterminated\n", "not a config file"),
    ],
)
def test_a_file_that_is_not_a_config_file_is_refused(source: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_config(source, "/etc/xen/broken")


# -- resources: a short file must not make xenctl build gigabytes ------------------------------------

_BOUNDED = """\
import sys
from xenctl.errors import ConfigError
from xenctl.xmconfig.reader import parse_config
try:
    parse_config(sys.stdin.read(), "/etc/xen/big")
except ConfigError as error:
    print("REFUSED", error)
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def read_in_bounds(source: str) -> str:
    """Read a config in a child limited to 1 GiB and 2 s; what it printed, or why it did not finish."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _BOUNDED],
            input=source,
            capture_output=True,
            text=True,
            timeout=2,
            cwd=ROOT,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        return "still reading after 2 s"
    return done.stdout + done.stderr.strip().rsplit("\n", 1)[-1]


@pytest.mark.parametrize(
    "source",
    [
        "name = '%(a(b))2000000000d' % {'a(b)': 1}\n",
        "name = '%(a(b)).2000000000f' % {'a(b)': 1.0}\n",
    ],
    ids=["width", "precision"],
)
def test_a_huge_format_width_behind_a_parenthesised_key_is_refused_before_it_is_built(source: str) -> None:
    result = read_in_bounds(source)
    assert result.startswith("REFUSED /etc/xen/big:1: "), result
    assert "format width" in result


@pytest.mark.parametrize("use", ["str(disks)", "'%s' % (disks,)"])
def test_a_list_doubled_sixty_times_is_refused_quickly_when_turned_into_text(use: str) -> None:
    source = "disks = ['phy:hda1,hda1,w']\n" + "disks = [disks, disks]\n" * 60 + f"name = {use}\n"
    result = read_in_bounds(source)
    assert result.startswith("REFUSED /etc/xen/big:"), result


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("vcpus = 1if 1 else 2", "conditional expression"),  # Python warns: invalid decimal literal
        ("vcpus = 0x1for", "not a config file"),  # warns, then fails to parse
        ('extra = "\\d" % 1if 1 else 2', "conditional expression"),  # an invalid escape, warned too
    ],
)
def test_pythons_warnings_about_a_config_never_reach_the_user(tmp_path: Path, line: str, words: str) -> None:
    config = write(tmp_path, f'name = "warned"\nkernel = "/boot/vmlinuz"\n{line}\n', "warned")
    # PYTHONWARNINGS=always shows even the DeprecationWarning Python 3.11 gives an invalid escape.
    result = run_xenctl(tmp_path / "home", "create", config, env={"PYTHONWARNINGS": "always"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: {config}:3: ") and words in result.stderr


def test_an_invalid_escape_is_read_as_python_reads_it_without_a_warning(tmp_path: Path) -> None:
    config = write(tmp_path, 'name = "escaped"\nkernel = "/boot/vmlinuz"\nextra = "root=\\d"\n', "escaped")
    result = run_xenctl(tmp_path / "home", "create", "-n", config, env={"PYTHONWARNINGS": "always"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert 'extra = "root=\\\\d"' in result.stdout
