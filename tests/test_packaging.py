"""Installing xenctl prints no deprecation: pyproject.toml uses the forms current setuptools wants."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT

tomllib = pytest.importorskip("tomllib")


def test_the_license_is_an_spdx_string_and_the_build_asks_for_a_setuptools_that_reads_one() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # A table ({text = ...}) makes setuptools print a deprecation banner on every install.
    assert project["project"]["license"] == "GPL-2.0-or-later"
    (setuptools,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    found = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert found is not None and int(found.group(1)) >= 77  # SPDX strings came in setuptools 77
