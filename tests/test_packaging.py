"""Installing xenctl prints no deprecation: pyproject.toml uses the forms current setuptools wants."""

from __future__ import annotations

import re

from tests.helpers import ROOT


def test_the_license_is_an_spdx_string_and_the_build_asks_for_a_setuptools_that_reads_one() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    # A table (license = {text = ...}) makes setuptools print a deprecation banner on every install.
    assert re.search(r'^license = "GPL-2\.0-or-later"$', text, flags=re.M)
    requires = re.search(r"^requires = \[(.*)\]$", text, flags=re.M)
    assert requires is not None
    found = re.search(r'"setuptools>=(\d+)(?:\.\d+)*"', requires.group(1))
    assert found is not None and int(found.group(1)) >= 77  # SPDX strings came in setuptools 77
