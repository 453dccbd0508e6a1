"""``watch``: keep a host booted and its specs applied as files change.

On start: boot the host if it is at runlevel 3-5 and has not booted, then apply the specs. Then
follow the auto directory and the spec directories (``xenctl.autostart.watch``): a new entry
starts its domain in order, a removed one is reported, a changed spec is planned and applied
(never with ``--destroy-data``). Every action takes the host's lock, as the commands do; once
``stop`` is set, the action in flight finishes and nothing new starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from xenctl.app.apply import ApplyHooks, ApplyReport, apply_specs
from xenctl.app.options import PlanOptions, RunOptions
from xenctl.errors import PlanError, XenctlError

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.autostart.runlevels import Report, Step, Transition
    from xenctl.engine.api import HostInfo, HostState

T = TypeVar("T")
COMMAND = "xenctl watch"


class WatchHooks(ApplyHooks, Protocol):
    """What a watch reports: lines as it goes, each boot step, each boot's report, each apply."""

    def say(self, line: str) -> None: ...
    def began(self, domain: str, doing: str) -> None: ...
    def ended(self, step: Step) -> None: ...
    def booted(self, report: Report, transition: Transition | None) -> None: ...
    def applied(self, report: ApplyReport) -> None: ...


def watch(
    host: Host,
    spec_dirs: list[str],
    run: RunOptions,
    hooks: WatchHooks,
    *,
    stop: threading.Event,
    quiet: float = 0.05,
) -> None:
    """Boot if unbooted, apply the specs, then follow changes until ``stop`` is set."""
    from xenctl.autostart.watch import Watcher
    from xenctl.autostart.watch import run as follow

    auto = host.autostart
    work = _Work(host, spec_dirs, run, hooks, stop)
    watcher = Watcher(
        auto,
        spec_dirs,
        host=work.host_info,
        boot_new=work.boot_new,
        apply=work.apply if spec_dirs else None,
        say=hooks.say,
    )
    try:
        transition = work.locked(work.boot_if_unbooted)
        if transition is not None and transition.report is not None:
            hooks.booted(transition.report, transition)
        if spec_dirs and not stop.is_set():
            watcher.handle_specs_now()
    except XenctlError as exc:
        hooks.say(f"Error: {exc.message}")
    if stop.is_set():
        return
    watched = ", ".join([auto.path, *spec_dirs])
    follow(watcher, stop=stop, quiet=quiet, ready=lambda: hooks.say(f"Watching {watched} (Ctrl-C or SIGTERM stops)."))


class _Work:
    """The watch's actions, each under the host's lock."""

    def __init__(self, host: Host, spec_dirs: list[str], run: RunOptions, hooks: WatchHooks, stop: threading.Event):
        self.host = host
        self.spec_dirs = spec_dirs
        self.run = run
        self.hooks = hooks
        self.stop = stop

    def host_info(self) -> HostInfo:
        return self.host.driver.snapshot().host

    def locked(self, work: Callable[[], T]) -> T:
        with self.host.locked(COMMAND, self.run.lock_timeout, self.stop):
            return work()

    def boot_if_unbooted(self) -> Transition | None:
        from xenctl.autostart.runlevels import BOOT_LEVELS, change_runlevel

        info = self.host_info()
        if info.runlevel not in BOOT_LEVELS or info.booted:
            return None
        self.hooks.say(f"the host is at runlevel {info.runlevel} and has not booted: booting")
        return change_runlevel(
            self.host.open_driver,
            self.host.autostart,
            info.runlevel,
            parallelism=self.run.parallelism,
            pace=self.host.pace,
            hooks=self.hooks,
            stop=self.stop,
        )

    def boot_new(self, files: set[str]) -> Report | None:
        from xenctl.autostart.runlevels import BOOT_LEVELS, boot

        def work() -> Report | None:
            info = self.host_info()  # read under the lock: a halt may have come since the event
            if info.runlevel not in BOOT_LEVELS or not info.booted:
                self.hooks.say(
                    f"new entries ({', '.join(sorted(files))}) start at the next boot: the host is not booted"
                )
                return None
            self.hooks.say(f"new entries: {', '.join(sorted(files))}")
            return boot(
                self.host.open_driver,
                self.host.autostart,
                parallelism=self.run.parallelism,
                pace=self.host.pace,
                hooks=self.hooks,
                restore=False,
                only=files,
                stop=self.stop,
            )

        report = self.locked(work)
        if report is not None:
            self.hooks.booted(report, None)
        return report

    def apply(self) -> ApplyReport:
        from xenctl.autostart.runlevels import BOOT_LEVELS

        def check(live: HostState) -> None:
            if live.host.runlevel not in BOOT_LEVELS:
                raise PlanError(f"the host is at runlevel {live.host.runlevel}: the specs apply once it boots")

        report = apply_specs(
            self.host, self.spec_dirs, PlanOptions(), self.run, self.hooks, command=COMMAND, stop=self.stop, check=check
        )
        self.hooks.applied(report)
        return report
