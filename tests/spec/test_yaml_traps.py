"""The traps of YAML 1.1, closed: what a person writes is what xenctl reads, or a clear refusal.

Plain scalars resolve by YAML 1.2's core schema only; leading zeros, duplicate keys, anchor bombs,
huge files and bytes that are not UTF-8 are refused fast, with a line, and never with a traceback.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_xenctl
from xenctl.errors import SpecError, SpecIssue
from xenctl.spec import yamlfile
from xenctl.spec.load import load_specs

DOMAIN = "domains:\n  - name: web1\n    kernel: /boot/vmlinuz-2.6.18-xen\n"

BILLION_LAUGHS = "".join(
    [
        "x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        *(f"x-{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)),
        "domains: *i\n",
    ]
)


def _write(tmp_path: Path, text: str | bytes, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _issues(path: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_specs([str(path)])
    return list(caught.value.issues)


def _only_issue(path: Path) -> SpecIssue:
    issues = _issues(path)
    assert len(issues) == 1, "\n".join(str(i) for i in issues)
    return issues[0]


# --- YAML 1.1's booleans, octals and sexagesimals stay what they look like ---


@pytest.mark.parametrize("word", ["no", "off", "yes", "on", "NO", "Off", "y", "n"])
def test_a_yaml_1_1_boolean_word_for_graphics_is_refused_as_not_true_or_false(tmp_path: Path, word: str) -> None:
    issue = _only_issue(_write(tmp_path, DOMAIN + f"    graphics: {word}\n"))
    assert (issue.line, issue.column) == (4, 15)
    assert issue.path == "domains[web1].graphics"
    assert issue.message == f"{word!r} is not true or false"


@pytest.mark.parametrize("word", ["true", "True", "TRUE", "false", "False", "FALSE"])
def test_the_yaml_1_2_spellings_of_true_and_false_are_booleans(tmp_path: Path, word: str) -> None:
    desired = load_specs([str(_write(tmp_path, DOMAIN + f"    graphics: {word}\n"))])
    assert desired.domains[0].graphics is (word.lower() == "true")


@pytest.mark.parametrize("word", ["no", "off", "yes", "on", "y", "n", "1:30", "1_000", "=", "0b101"])
def test_a_word_yaml_1_1_would_turn_into_a_bool_or_number_stays_a_string_in_free_text(
    tmp_path: Path, word: str
) -> None:
    desired = load_specs([str(_write(tmp_path, DOMAIN + f"    extra: {word}\n    root: {word}\n"))])
    assert desired.domains[0].extra == word
    assert desired.domains[0].root == word


@pytest.mark.parametrize("number", ["0755", "010", "-07", "+0644"])
def test_a_number_with_a_leading_zero_is_refused_with_a_request_to_quote_it(tmp_path: Path, number: str) -> None:
    issue = _only_issue(_write(tmp_path, DOMAIN + f"    extra: {number}\n"))
    assert (issue.line, issue.column) == (4, 12)
    assert "leading zero" in issue.message
    assert f"quote it ('{number}')" in issue.message


def test_a_quoted_leading_zero_is_the_string_as_written(tmp_path: Path) -> None:
    desired = load_specs([str(_write(tmp_path, DOMAIN + "    extra: '0755'\n"))])
    assert desired.domains[0].extra == "0755"


def test_a_leading_zero_where_a_number_is_expected_is_refused_not_read_as_octal(tmp_path: Path) -> None:
    issue = _only_issue(_write(tmp_path, DOMAIN + "    vcpus: 010\n"))
    assert (issue.line, issue.column) == (4, 12)
    assert "010 has a leading zero" in issue.message


def test_a_sexagesimal_1_30_is_not_read_as_90_seconds(tmp_path: Path) -> None:
    issue = _only_issue(_write(tmp_path, DOMAIN + "autostart:\n  - domain: web1\n    up: 1:30\n"))
    assert (issue.line, issue.column, issue.path) == (6, 9, "autostart[web1].up")
    assert issue.message.startswith("'1:30' is not a duration")


def test_an_unquoted_mac_address_is_a_string_and_validates(tmp_path: Path) -> None:
    text = DOMAIN + "    vifs:\n      - bridge: xenbr0\n        mac: 52:54:00:12:34:56\n"
    desired = load_specs([str(_write(tmp_path, text))])
    assert desired.domains[0].vifs[0].mac == "52:54:00:12:34:56"


def test_an_unquoted_all_digit_mac_is_still_a_string(tmp_path: Path) -> None:
    text = DOMAIN + "    vifs: [{mac: 00:16:30:12:34:56}]\n"
    desired = load_specs([str(_write(tmp_path, text))])
    assert desired.domains[0].vifs[0].mac == "00:16:30:12:34:56"


def test_an_unquoted_ip_address_is_a_string_and_a_float_looking_name_is_refused_not_turned_into_text(
    tmp_path: Path,
) -> None:
    text = "domains:\n  - name: 1.0\n    kernel: /boot/vmlinuz-2.6.18-xen\n    ip: 10.0.0.2\n"
    issues = _issues(_write(tmp_path, text))
    assert {(i.line, i.column, i.path) for i in issues} == {(2, 11, "domains[0].name")}
    assert all(i.message.startswith("1.0 is not a domain name") for i in issues)
    fixed = load_specs([str(_write(tmp_path, text.replace("1.0", "'1.0'")))])
    assert (fixed.domains[0].name, fixed.domains[0].ip) == ("1.0", "10.0.0.2")


# --- duplicate keys ---


def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = DOMAIN + "    memory: 512M\n    vcpus: 2\n    memory: 1G\n"
    issue = _only_issue(_write(tmp_path, text))
    assert (issue.line, issue.column) == (6, 5)
    assert issue.message == "duplicate key 'memory' (first at line 4)"


def test_a_duplicate_top_level_key_is_refused_rather_than_the_first_list_dropped(tmp_path: Path) -> None:
    text = DOMAIN + "domains:\n  - name: web2\n    kernel: /boot/vmlinuz-2.6.18-xen\n"
    issue = _only_issue(_write(tmp_path, text))
    assert (issue.line, issue.column) == (4, 1)
    assert issue.message == "duplicate key 'domains' (first at line 1)"


def test_a_duplicate_key_in_a_flow_mapping_is_refused(tmp_path: Path) -> None:
    text = DOMAIN + "    disks: [{phy: hda3, vdev: sda1, vdev: sda2}]\n"
    issue = _only_issue(_write(tmp_path, text))
    assert (issue.line, issue.column) == (4, 37)
    assert "duplicate key 'vdev'" in issue.message


# --- what a file must be ---


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("- name: web1\n  kernel: /boot/vmlinuz-2.6.18-xen\n", "a list"),
        ("web1\n", "a string"),
        ("42\n", "a number"),
        ("true\n", "true or false"),
    ],
    ids=["list", "string", "number", "boolean"],
)
def test_a_top_level_list_or_scalar_is_refused_saying_what_a_spec_file_is(tmp_path: Path, text: str, kind: str) -> None:
    issue = _only_issue(_write(tmp_path, text))
    assert (issue.line, issue.column) == (1, 1)
    assert issue.message.startswith("a spec file is a mapping with domains, storage or autostart; this is ")
    assert not re.search(r"\b(str|int|bool|float|NoneType)\b", issue.message), "names a Python type"
    if kind == "a list":
        assert issue.message.endswith("this is a list")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_an_empty_file_is_fine_and_contributes_nothing(tmp_path: Path, text: str) -> None:
    empty = _write(tmp_path, text, "empty.yaml")
    desired = load_specs([str(empty)])
    assert (desired.domains, desired.volumes, desired.autostart) == ((), (), ())
    assert desired.files == (str(empty),)
    _write(tmp_path, DOMAIN, "web.yaml")
    both = load_specs([str(tmp_path)])
    assert [d.name for d in both.domains] == ["web1"]
    assert len(both.files) == 2


@pytest.mark.parametrize(
    ("data", "line", "column", "byte"),
    [
        (DOMAIN.encode() + b"    extra: caf\xe9\n", 4, 15, "0xe9"),
        (b"\xff\xfed\x00o\x00m\x00", 1, 1, "0xff"),  # UTF-16
        (b"# \x80\n" + DOMAIN.encode(), 1, 3, "0x80"),
    ],
    ids=["latin-1", "utf-16", "in-a-comment"],
)
def test_bytes_that_are_not_utf8_are_refused_with_the_line_and_the_byte(
    tmp_path: Path, data: bytes, line: int, column: int, byte: str
) -> None:
    issue = _only_issue(_write(tmp_path, data))
    assert (issue.line, issue.column) == (line, column)
    assert issue.message == f"the file is not UTF-8 text (byte {byte})"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    desired = load_specs([str(_write(tmp_path, b"\xef\xbb\xbf" + DOMAIN.encode()))])
    assert [d.name for d in desired.domains] == ["web1"]


def test_non_ascii_text_in_utf8_is_kept(tmp_path: Path) -> None:
    desired = load_specs([str(_write(tmp_path, DOMAIN + "    extra: café ☕ 東京\n"))])
    assert desired.domains[0].extra == "café ☕ 東京"


# --- files built to hurt: fast refusals ---


def test_a_billion_laughs_anchor_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    path = _write(tmp_path, BILLION_LAUGHS)
    started = time.perf_counter()
    issue = _only_issue(path)
    assert time.perf_counter() - started < 0.5
    assert "anchors and aliases expand this file to more than 1,000,000 values" in issue.message
    assert issue.line is not None


def test_a_merge_key_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    lines = ["x-a: &a {k0: v, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}\n"]
    for a, b in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"x-{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n")
    lines.append("x-z: {<<: *i}\n")
    path = _write(tmp_path, "".join(lines))
    started = time.perf_counter()
    issue = _only_issue(path)
    assert time.perf_counter() - started < 0.5
    assert "more than 1,000,000 values" in issue.message


def test_a_file_with_too_many_values_but_no_aliases_is_refused_without_blaming_anchors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yamlfile, "MAX_EXPANDED_NODES", 1000)
    path = _write(tmp_path, "x-big: [" + ", ".join(["0"] * 2000) + "]\n")
    issue = _only_issue(path)
    assert "1,000" in issue.message
    assert "anchor" not in issue.message and "alias" not in issue.message, issue.message


def _bytes_read_by_this_process() -> int | None:
    try:
        with open("/proc/self/io", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def test_a_50_mb_file_is_refused_in_well_under_a_second_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as stream:
        stream.truncate(50 * 1024 * 1024)  # sparse: no 50 MB written to the disk
    before = _bytes_read_by_this_process()
    started = time.perf_counter()
    issue = _only_issue(path)
    elapsed = time.perf_counter() - started
    after = _bytes_read_by_this_process()
    assert elapsed < 0.5
    if before is not None and after is not None:
        assert after - before < 1024 * 1024
    assert issue.message == "the file is 50.0 MiB; spec files may be at most 16 MiB (split it into several files)"


def test_a_file_of_exactly_16_mib_is_not_refused_for_its_size(tmp_path: Path) -> None:
    text = DOMAIN + "# padding\n"
    data = text.encode() + b" " * (16 * 1024 * 1024 - len(text) - 1) + b"\n"
    issues = [str(i) for i in _issues_or_none(_write(tmp_path, data))]
    assert not any("MiB" in i for i in issues)


def _issues_or_none(path: Path) -> list[SpecIssue]:
    try:
        load_specs([str(path)])
    except SpecError as exc:
        return list(exc.issues)
    return []


def test_deep_nesting_is_refused_with_a_message_not_a_recursion_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "x-deep: " + "[" * 100_000 + "]" * 100_000 + "\n")
    started = time.perf_counter()
    issue = _only_issue(path)
    assert time.perf_counter() - started < 1.0
    assert "nest" in issue.message
    assert issue.line == 1


def test_a_python_object_tag_is_refused_and_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _write(tmp_path, f"x-evil: !!python/object/apply:os.system ['touch {marker}']\n" + DOMAIN)
    issue = _only_issue(path)
    assert (issue.line, issue.column) == (1, 9)
    assert "python/object" in issue.message
    assert not marker.exists()


# --- templates: anchors, merge keys, and x- keys ---


def test_a_merge_key_template_gives_each_domain_its_fields_and_the_domain_s_own_fields_win(tmp_path: Path) -> None:
    text = (
        "x-guest: &guest\n"
        "  kernel: /boot/vmlinuz-2.6.18-xen\n"
        "  memory: 256M\n"
        "  vifs: [{bridge: xenbr0}]\n"
        "domains:\n"
        "  - <<: *guest\n"
        "    name: web1\n"
        "  - <<: *guest\n"
        "    name: db\n"
        "    memory: 1G\n"
    )
    desired = load_specs([str(_write(tmp_path, text))])
    memory = {d.name: d.memory for d in desired.domains}
    assert memory == {"web1": 256, "db": 1024}
    assert all(d.kernel == "/boot/vmlinuz-2.6.18-xen" and d.vifs[0].bridge == "xenbr0" for d in desired.domains)


def test_a_merge_of_several_templates_takes_the_first_template_s_value(tmp_path: Path) -> None:
    text = (
        "x-small: &small {memory: 128M}\n"
        "x-base: &base {memory: 512M, kernel: /boot/vmlinuz-2.6.18-xen}\n"
        "domains:\n"
        "  - <<: [*small, *base]\n"
        "    name: web1\n"
    )
    desired = load_specs([str(_write(tmp_path, text))])
    assert (desired.domains[0].memory, desired.domains[0].kernel) == (128, "/boot/vmlinuz-2.6.18-xen")


def test_a_merge_key_given_twice_is_a_duplicate_key_like_any_other(tmp_path: Path) -> None:
    text = (
        "x-guest: &guest {kernel: /boot/vmlinuz-2.6.18-xen, memory: 256M}\n"
        "domains:\n"
        "  - <<: *guest\n"
        "    <<: *guest\n"
        "    name: web1\n"
    )
    issue = _only_issue(_write(tmp_path, text))
    assert (issue.line, issue.column) == (4, 5)
    assert issue.message.startswith("duplicate key '<<' (first at line 3)")


def test_a_mistake_brought_in_by_a_template_points_at_the_template_s_line(tmp_path: Path) -> None:
    text = (
        "x-guest: &guest\n  kernel: /boot/vmlinuz-2.6.18-xen\n  memory: 512 MB\n"
        "domains:\n  - <<: *guest\n    name: web1\n"
    )
    issue = _only_issue(_write(tmp_path, text))
    assert (issue.line, issue.path) == (3, "domains[web1].memory")
    assert issue.message.startswith("'512 MB' is not a memory size")


def test_top_level_keys_starting_with_x_are_ignored(tmp_path: Path) -> None:
    text = "x-notes: anything at all\nx-numbers: [1, 2, 3]\nx-nested: {domains: [{name: '/not/a/name'}]}\n" + DOMAIN
    desired = load_specs([str(_write(tmp_path, text))])
    assert [d.name for d in desired.domains] == ["web1"]


def test_an_x_key_inside_a_domain_is_not_ignored(tmp_path: Path) -> None:
    issue = _only_issue(_write(tmp_path, DOMAIN + "    x-note: hello\n"))
    assert issue.message.startswith("unknown field 'x-note'")


def test_an_undefined_alias_is_refused_with_its_line(tmp_path: Path) -> None:
    issue = _only_issue(_write(tmp_path, "domains:\n  - <<: *nope\n    name: web1\n"))
    assert (issue.line, issue.column) == (2, 9)
    assert "undefined alias" in issue.message


# --- through the command line: a message on stderr, exit 1, never a traceback ---

_CLI_CASES = {
    "not-a-mapping": "- name: web1\n",
    "duplicate-key": DOMAIN + "    memory: 512M\n    memory: 1G\n",
    "leading-zero": DOMAIN + "    extra: 0755\n",
    "yes-for-boolean": DOMAIN + "    graphics: yes\n",
    "anchor-bomb": BILLION_LAUGHS,
    "syntax-error": DOMAIN + "    disks: [{phy: hda3\n",
    "tab": DOMAIN + "\textra: x\n",
}


@pytest.mark.parametrize("case", sorted(_CLI_CASES), ids=str)
def test_xenctl_validate_prints_a_yaml_trap_as_file_line_column_without_a_traceback(tmp_path: Path, case: str) -> None:
    path = _write(tmp_path, _CLI_CASES[case], f"{case}.yaml")
    result = run_xenctl(tmp_path / "home", "validate", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", result.stderr), result.stderr


@pytest.mark.parametrize("case", ["not-utf8", "huge"])
def test_xenctl_validate_refuses_unreadable_files_without_a_traceback(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.yaml"
    if case == "huge":
        with open(path, "wb") as stream:
            stream.truncate(50 * 1024 * 1024)
    else:
        path.write_bytes(b"domains: caf\xe9\n")
    started = time.perf_counter()
    result = run_xenctl(tmp_path / "home", "validate", str(path))
    assert time.perf_counter() - started < 10
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{path}:")
    expected = "not UTF-8" if case == "not-utf8" else "at most 16 MiB"
    assert expected in result.stderr
    assert os.path.getsize(path) > 0


@pytest.mark.parametrize("comment", ["", "# a * in a comment sends the file down the alias path\n"])
def test_the_nesting_limit_is_the_same_with_or_without_a_star_in_the_text(tmp_path: Path, comment: str) -> None:
    path = _write(tmp_path, comment + "x-a: " + "[" * 200 + "1" + "]" * 200 + "\n")
    assert "nests too deeply" in _only_issue(path).message


def _constructed_by_pyyaml(text: str) -> object:
    """The same text through PyYAML's own constructor (the loader's, with its rules)."""
    loader = yamlfile._spec_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "specs" / "examples").rglob("*.yaml") if "*" not in p.read_text())
)
def test_the_quick_builder_makes_what_pyyamls_constructor_makes(path: Path) -> None:
    text = path.read_text()
    assert yamlfile.parse(text) == _constructed_by_pyyaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2.5, true, null, ~, '0755', x]\nc: {d: e}\n",
        "a: !!str 12\nb: !!int '7'\n",
        "<<: {memory: 1G}\nname: web1\n",
        "- 1\n- - 2\n  - three\n",
        "",
        "---\n",
        "# only a comment\n",
        "just text\n",
        "a: 0x1F\nb: 0o17\nc: -12\nd: +3\ne: 1e3\nf: .5\ng: -.inf\nh: 1_000\ni: 1:30\nj: 12.0.1\n",
        "a: True\nb: FALSE\nc: yes\nd: Null\ne: nul\nf: tru\ng: ''\nh:\n",
        'a: |\n  two\n  lines\nb: >\n  folded\n  text\nc: "quoted \\u00e9"\n',
        "a: &t {memory: 1G}\nb: [x, y]\n",
        "{a: 1, b: [2, {c: 3}]}\n",
    ],
)
def test_the_quick_builder_agrees_on_tags_merges_and_odd_documents(text: str) -> None:
    assert yamlfile.parse(text) == _constructed_by_pyyaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",
        "a: 0755\n",
        "1: one\n",
        "a: 1\n---\nb: 2\n",
        "a: *nowhere\n",
        "a: [1, 2\n",
        "a: b: c\n",
        "? [a, key]\n: value\n",
    ],
)
def test_the_quick_reading_leaves_every_refusal_to_the_loader_with_its_line(text: str) -> None:
    with pytest.raises(yamlfile.YamlProblem) as refused:
        yamlfile.parse(text)
    assert refused.value.line is not None


def test_a_key_holding_a_control_character_is_shown_escaped_on_its_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text('"\\r": null\ndomains: null\n')
    result = run_xenctl(tmp_path / "home", "validate", str(spec))
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert lines[-1] == "2 problems in the specs."
    assert all(line.startswith(f"{spec}:") for line in lines[:-1]), lines  # no line broken in two
    assert lines[0].startswith(f"{spec}:1:1: \\r: unknown field")
