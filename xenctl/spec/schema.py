"""The JSON Schema of a spec file, shipped with xenctl as package data (schema.json)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (draft 2020-12), shipped with xenctl."""
    text = resources.files("xenctl.spec").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
