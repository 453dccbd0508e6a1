"""A safe reader for xm and xl config files: it evaluates the subset real configs use, runs nothing.

xm config files were Python programs that ``xm`` executed with ``sys``, ``os`` and an ``xm_vars``
object in scope. xenctl never executes them. It parses the file into a syntax tree (``ast.parse``
only reads; nothing is compiled or run) and walks the statements itself:

- ``NAME = EXPR`` (and ``NAME += EXPR``) binds a name; later lines may use it.
- EXPR may be: strings, numbers, ``True``/``False``/``None``, lists, tuples and dicts of them;
  names bound earlier or given on the command line; ``+`` (strings, lists, numbers), ``-`` and
  ``*`` on numbers, ``%`` formatting of strings; ``int(x)`` and ``str(x)``.
- The boilerplate of xmexample2 is recognised and skipped without being run: ``import`` of
  standard modules, a ``def`` of a checking function, ``xm_vars.var(...)`` (which declares a
  command-line variable) and ``xm_vars.check()``.
- The architecture test of Xen's stock HVM examples (``arch = os.uname()[4]`` and ``if
  re.search('64', arch): ... else: ...``) is answered with the host's machine name, given to
  the reader; see ``hostcalls``.
- Anything else (a call to ``os.system``, attribute access, ``__import__``, ``open``, a loop, a
  comprehension, a lambda, subscripts) is refused with the file, line and construct named.

xl config files (``KEY = VALUE`` lines, ``#`` comments, ``[lists]``, ``;`` separators) are a
subset of this and read the same way.

Variables from the command line (``vmid=1``) arrive as strings, as in xm; a variable declared
with ``xm_vars.var(..., check=...)`` whose value looks like an integer becomes one (xm's check
functions did ``int(val)``), and ``%d`` accepts an integer-like string too.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping

from xenctl.errors import ConfigError
from xenctl.xmconfig.evaluator import ConfigFile, Evaluator, XmVariable
from xenctl.xmconfig.formatting import INTEGER
from xenctl.xmconfig.hostcalls import DEFAULT_MACHINE

__all__ = ["INTEGER", "ConfigFile", "XmVariable", "parse_config", "read_config"]

MAX_FILE = 1 << 20  # the largest config file read


def read_config(path: str, variables: Mapping[str, str] | None = None, *, machine: str = DEFAULT_MACHINE) -> ConfigFile:
    """Read an xm or xl config file without running it; raises ConfigError naming file and line."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"Unable to open config file: {exc.strerror}", file=path) from None
    if len(data) > MAX_FILE:
        raise ConfigError(f"the file is larger than {MAX_FILE // 1024} KiB; a config file is not", file=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # xm read bytes; old configs may hold Latin-1 comments
    return parse_config(text, path, variables, machine=machine)


def parse_config(
    text: str,
    path: str = "<config>",
    variables: Mapping[str, str] | None = None,
    *,
    machine: str = DEFAULT_MACHINE,
) -> ConfigFile:
    """Read a config's text; ``machine`` answers ``os.uname()[4]`` (the host's architecture)."""
    if "\0" in text:
        raise ConfigError("the file holds a NUL byte; it is not a config file", file=path)
    try:
        with warnings.catch_warnings():
            # Python's warnings about the source (``1if``, ``"\\d"``) would print between the lines
            # of xenctl's one-line error: xm's Python 2 took those forms silently, and so does xenctl.
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path, mode="exec")  # parses only: nothing is compiled or run
    except SyntaxError as exc:
        raise ConfigError(f"not a config file: {exc.msg}", file=path, line=exc.lineno) from None
    except (ValueError, RecursionError, MemoryError):
        raise ConfigError("not a config file", file=path) from None
    return Evaluator(path, dict(variables or {}), machine).run(tree)
