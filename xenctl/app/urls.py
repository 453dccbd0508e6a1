"""Host URLs without a host: where the default simulated host lives, and a ``sim://`` URL's home.

Apart from ``host`` (which re-exports all of it) so that ``xenctl list`` can find the simulated
host's file without importing the ``Host`` handle and what it brings.
"""

from __future__ import annotations

import os

HOME_ENV = "XENCTL_HOME"
CONNECT_ENV = "XENCTL_CONNECT"
SIM_SCHEME = "sim"


def default_home() -> str:
    """``$XENCTL_HOME``, else ``$XDG_DATA_HOME/xenctl``, else ``~/.local/share/xenctl``."""
    if os.environ.get(HOME_ENV):
        return os.environ[HOME_ENV]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "xenctl")


def sim_url(home: str) -> str:
    """The URL of the simulated host whose home is ``home``."""
    return f"{SIM_SCHEME}://{os.path.abspath(home)}"


def sim_home(url: str) -> str | None:
    """The home of the simulated host ``url`` names (``sim://``: the default home), or None when
    ``url`` is not a well-formed ``sim:`` URL."""
    scheme, sep, rest = url.partition(":")
    if scheme != SIM_SCHEME or not sep:
        return None
    if rest in ("", "//"):
        return default_home()
    if not rest.startswith("///") or "\0" in rest:
        return None
    return os.path.normpath(rest[2:])
