"""Names of passing files: what editors, packages and xenctl itself leave for a moment beside the
files that count. Shared by every layer that reads a directory of configs or specs (the auto
directory, the watcher, the spec checks), like ``errors`` and ``units``."""

from __future__ import annotations

import re

_TEMPORARY = re.compile(r"^\.|~$|^#.*#$|\.(sw[a-p]|swx|tmp|bak|orig|rej|rpmnew|rpmsave|dpkg-[a-z]+)$|^4913$")


def temporary_file_name(name: str) -> bool:
    """A name editors, packages and xenctl itself give passing files: dot files, ``name~``,
    ``#name#``, vim's ``.swp`` and its ``4913`` probe, ``.tmp``, ``.bak``, ``.rpmnew``, ``.dpkg-old``.
    The auto directory and the watcher pass over them, so no entry may be called so."""
    return bool(_TEMPORARY.search(name))
