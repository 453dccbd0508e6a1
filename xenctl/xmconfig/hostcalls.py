"""The two questions stock xm configs ask about the host, answered without running anything.

Xen's own ``xmexample.hvm`` (3.0 to 3.2), ``xmexample.vmx`` and ``xmexample.vti`` pick the device
model's directory from the machine's architecture::

    import os, re
    arch = os.uname()[4]
    if re.search('64', arch):
        arch_libdir = 'lib64'
    else:
        arch_libdir = 'lib'

The safe reader allows exactly these forms, and nothing more like them:

- ``os.uname()[4]`` (``os`` imported, not rebound) is the host's machine name, given to the
  reader (``x86_64`` unless the caller says otherwise), so a test reads the same on any machine;
- ``re.search(PATTERN, TEXT)`` and ``re.match(PATTERN, TEXT)`` (``re`` imported) as the test of
  an ``if``, where PATTERN is plain text (letters, digits, ``_``, ``-``, ``.`` taken literally,
  no regular-expression syntax, so no pattern can run away) and TEXT a string the file made.
"""

from __future__ import annotations

import ast
import re

DEFAULT_MACHINE = "x86_64"  # what the simulated host's profile says unless told otherwise
_PLAIN = re.compile(r"^[A-Za-z0-9_ -]{0,64}$")


def is_uname_machine(node: ast.expr, imported: set[str]) -> bool:
    """Whether ``node`` is ``os.uname()[4]``, with ``os`` an imported module."""
    if not isinstance(node, ast.Subscript):
        return False
    index = node.slice
    call = node.value
    return (
        isinstance(index, ast.Constant)
        and index.value == 4
        and isinstance(call, ast.Call)
        and not call.args
        and not call.keywords
        and _is_module_function(call.func, "os", "uname", imported)
    )


def regex_function(node: ast.expr, imported: set[str]) -> str | None:
    """``search`` or ``match`` when ``node`` calls ``re.search`` or ``re.match``, else None."""
    if not isinstance(node, ast.Call) or node.keywords or len(node.args) != 2:
        return None
    for name in ("search", "match"):
        if _is_module_function(node.func, "re", name, imported):
            return name
    return None


def plain_search(function: str, pattern: object, text: object) -> bool | None:
    """``re.search``/``re.match`` of a plain-text pattern; None if either is not plain text."""
    if not isinstance(pattern, str) or not isinstance(text, str) or not _PLAIN.match(pattern):
        return None
    return text.startswith(pattern) if function == "match" else pattern in text


def _is_module_function(func: ast.expr, module: str, name: str, imported: set[str]) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and func.attr == name
        and isinstance(func.value, ast.Name)
        and func.value.id == module
        and module in imported
    )
