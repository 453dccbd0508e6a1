"""The host's runlevel: booting its autostart entries (3-5) and stopping its guests (0-2, 6).

``change_level`` is ``xenctl runlevel N``, ``boot`` and ``halt``: under the host's lock, move
the host to the level, booting or stopping in dependency order (``xenctl.autostart``), each step
reported through the hooks as it begins and ends.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from xenctl.app.options import RunOptions

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.autostart.runlevels import Hooks, Transition


def change_level(
    host: Host,
    level: int | None,
    run: RunOptions,
    hooks: Hooks,
    *,
    command: str,
    stop: threading.Event | None = None,
) -> Transition:
    """Move the host to ``level`` (None: boot, at the boot level it is at, else 3)."""
    from xenctl.app.migrate import stop_migrator
    from xenctl.autostart.runlevels import BOOT_LEVELS, change_runlevel

    auto = host.autostart
    with host.locked(command, run.lock_timeout, stop):
        if level is None:
            current = host.driver.snapshot().host.runlevel
            level = current if current in BOOT_LEVELS else 3
        return change_runlevel(
            host.open_driver,
            auto,
            level,
            parallelism=run.parallelism,
            hooks=hooks,
            pace=host.pace,
            stop=stop,
            migrator=stop_migrator(host, command=command, lock_timeout=run.lock_timeout),
        )
