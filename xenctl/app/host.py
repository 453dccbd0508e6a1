"""A host you connect to: ``connect(url)`` gives a ``Host`` handle over one driver.

The handle owns what every caller of a host needs, so that the command line, a web page and a
loop over many hosts each get it the same way:

- the driver, opened when first used (``Host.driver``), and a fresh one per worker thread
  (``Host.open_driver``: a SQLite connection is not shared between threads);
- the host's lock (``Host.locked``): one mutating command at a time, waiting up to a timeout or
  refused naming the holder;
- its autostart entries (``Host.autostart``): for a Xen host the files in ``<xen root>/auto``,
  the xen root being the driver's own unless the caller points elsewhere;
- its caches (``Host.cache_dir``): validated spec files and plans, under the simulated host's
  home, or under the user's cache directory keyed by the URL for any other host;
- how time passes on it (``Host.pace``): a simulated host scales its durations.

URLs name the driver by scheme, as libvirt's do: ``sim:///PATH`` is the embedded simulated Xen
host whose home is PATH (``sim://`` alone: the default home); ``test:///default``,
``qemu:///system``, ``xen:///system`` and their remote forms (``qemu+ssh://host/system``) are
libvirt hosts, reached through libvirt-python. Drivers are found in ``SCHEMES``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from xenctl.app.urls import CONNECT_ENV as CONNECT_ENV
from xenctl.app.urls import HOME_ENV as HOME_ENV
from xenctl.app.urls import SIM_SCHEME as SIM_SCHEME
from xenctl.app.urls import default_home as default_home
from xenctl.app.urls import sim_home
from xenctl.app.urls import sim_url as sim_url
from xenctl.errors import UsageError

if TYPE_CHECKING:
    from xenctl.engine.api import Driver, HostLock
    from xenctl.engine.sim.host import SimHost
    from xenctl.engine.sim.profile import HostProfile
    from xenctl.reconcile.walker import Pace
    from xenctl.xmconfig.auto import AutoDir


# Named tuples, not dataclasses: a plan answered from the plan cache opens a host and imports
# no ``dataclasses`` (with ``inspect``, a tenth of its time).
class Settings(NamedTuple):
    """How a caller wants the host it connects to: where its xm configs are (None: where the
    driver keeps them), whether ``auto/`` symlinks may leave the xen root, how fast simulated
    time runs (1: real time, 0: instant), and who is acting (for the host's event log)."""

    xen_root: str | None = None
    outside_links: bool = False
    time_scale: float = 1.0
    actor: str = ""


class Location(NamedTuple):
    """A parsed host URL: the scheme that picks the driver, and the rest as the driver reads it."""

    url: str
    scheme: str
    path: str


def parse_url(url: str) -> Location:
    """A host URL, checked; an unknown scheme is one line naming it and the schemes known."""
    scheme, sep, rest = url.partition(":")
    known = ", ".join(f"{s}://" for s in sorted(SCHEMES))
    if not sep or not scheme or not scheme.replace("+", "").replace("-", "").isalnum():
        raise UsageError(f"{url!r} is not a host URI; write SCHEME://..., with a scheme xenctl knows: {known}")
    if scheme not in SCHEMES:
        raise UsageError(f"unknown host URI scheme {scheme!r} in {url!r}; xenctl knows {known}")
    if scheme == SIM_SCHEME:
        home = sim_home(url)
        if home is None:
            raise UsageError(f"{url!r}: a simulated host is sim:///ABSOLUTE/PATH (its home), or sim:// for the default")
        return Location(url, scheme, home)
    return Location(url, scheme, rest)


def _open_sim(where: Location, settings: Settings) -> SimHost:
    from xenctl.engine.sim import SystemClock, open_host

    # Its xen root holds xend-config.sxp, whose settings win over the host profile's.
    root = _opened_root(where, settings)
    return open_host(where.path, clock=SystemClock(settings.time_scale), actor=settings.actor, xen_root=root)


def _opened_root(where: Location, settings: Settings) -> str:
    """The xen root a simulated host is opened with: the caller's, else its own."""
    return settings.xen_root or _sim_xen_root(where)


def _sim_xen_root(where: Location) -> str:
    """A simulated host's own /etc/xen: with the host, never the machine's."""
    return os.path.join(where.path, "etc", "xen")


def _open_libvirt(where: Location, settings: Settings) -> Driver:
    """A libvirt host: the URI goes to libvirt as it is (test:///default, qemu+ssh://host/system)."""
    try:
        import libvirt  # noqa: F401  (the ``libvirt`` extra)
    except ImportError:
        raise UsageError(
            f"{where.url} is a libvirt host, and xenctl's libvirt driver needs libvirt-python: "
            "pip install 'xenctl[libvirt]' (it builds against libvirt-dev, pkg-config, gcc and python3-dev)"
        ) from None
    from xenctl.engine.libvirt.driver import open_driver

    return open_driver(where.url, settings.actor)


# libvirt's hypervisors and its transports to them, all handed to libvirt as they are.
LIBVIRT_SCHEMES = tuple(
    f"{driver}{transport}" for driver in ("test", "qemu", "xen") for transport in ("", "+unix", "+ssh", "+tcp", "+tls")
)

# Every driver xenctl knows, by URL scheme: what opens one connection to the host.
SCHEMES: dict[str, Callable[[Location, Settings], Driver]] = {
    SIM_SCHEME: _open_sim,
    **{scheme: _open_libvirt for scheme in LIBVIRT_SCHEMES},
}


class Host:
    """One host, connected: see the module's docstring. Close it, or use it as a context manager."""

    def __init__(self, where: Location, settings: Settings) -> None:
        self.where = where
        self.settings = settings
        self._driver: Driver | None = None
        self._auto: AutoDir | None = None

    @property
    def url(self) -> str:
        return self.where.url

    @property
    def is_simulated(self) -> bool:
        return self.where.scheme == SIM_SCHEME

    def exists(self) -> bool:
        """Whether there is a host to read: a simulated home is made by the first command that
        opens it, and some commands (validate, new) only read one that is there."""
        if not self.is_simulated:
            return True
        from xenctl.engine.sim import host_exists

        return host_exists(self.where.path)

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            self._driver = self.open_driver()
        return self._driver

    def open_driver(self) -> Driver:
        """A connection of its own: for a worker thread, or to close early."""
        return SCHEMES[self.where.scheme](self.where, self.settings)

    def change_token(self) -> str | None:
        """The driver's ``change_token()``. A simulated host not opened yet is read straight from
        its file where that gives the driver's answer (``engine.sim.tokens``): a plan that finds
        its answer in the plan cache then opens neither the driver nor the live-state model."""
        root = self._unopened_sim_root()
        if root is not None:
            from xenctl.engine.sim.tokens import quick_token

            token = quick_token(self.where.path, root, time.time())
            if token is not None:
                return token
        return self.driver.change_token()

    def unchanged_since(self, since: str) -> bool:
        """The driver's ``unchanged_since(since)``, read as ``change_token`` is."""
        root = self._unopened_sim_root()
        if root is not None:
            from xenctl.engine.sim.tokens import quick_unchanged_since

            same = quick_unchanged_since(self.where.path, root, since, time.time())
            if same is not None:
                return same
        return self.driver.unchanged_since(since)

    def _unopened_sim_root(self) -> str | None:
        """A simulated host's xen root (whose xend-config.sxp it runs by) while its driver is not
        open; None for any other."""
        return _opened_root(self.where, self.settings) if self._driver is None and self.is_simulated else None

    def sim(self) -> SimHost:
        """The simulated host behind this handle, for what only it has (profile, faults)."""
        from xenctl.engine.sim import SimHost

        driver = self.driver
        if not isinstance(driver, SimHost):
            raise UsageError(f"{self.url} is not a simulated host; only sim:// hosts have a profile and faults")
        return driver

    def make_simulated(self, profile: HostProfile, *, force: bool = False) -> str:
        """Make the simulated host anew from ``profile`` (``force``: replacing one that is there);
        returns its home."""
        from xenctl.engine.sim import SystemClock, init_host

        if not self.is_simulated:
            raise UsageError(f"{self.url} is not a simulated host; only sim:// hosts are made from a profile")
        self.close()
        init_host(self.where.path, profile, clock=SystemClock(self.settings.time_scale), force=force).close()
        return self.where.path

    @property
    def xen_root(self) -> str | None:
        """Where this host's xm config files and ``auto/`` live: the caller's, else the driver's."""
        if self.settings.xen_root is not None:
            return self.settings.xen_root
        if self.is_simulated:  # known without opening the host (and so without making one)
            return _sim_xen_root(self.where)
        return self.driver.config_root()

    @property
    def autostart(self) -> AutoDir:
        if self._auto is None:
            from xenctl.xmconfig.auto import AutoDir

            root = self.xen_root
            flag = None
            if root is None:
                # A host with no xm config files of its own (libvirt's: autostart is a flag on
                # each domain there): its entries, none until a spec asks, are kept with the host's
                # caches, and each sets libvirt's flag on its domain (``app.libvirtauto``).
                root = os.path.join(self.cache_dir, "xen")
                flag = getattr(self.driver, "set_autostart_flag", None)
            if flag is not None:
                from xenctl.app.libvirtauto import FlaggedAutoDir

                unflagged = getattr(self.driver, "unflagged_domains", None)
                self._auto = FlaggedAutoDir(
                    root, outside_links=self.settings.outside_links, flag=flag, unflagged=unflagged
                )
            else:
                self._auto = AutoDir(root, outside_links=self.settings.outside_links)
        return self._auto

    @property
    def auto_path(self) -> str:
        """Where the autostart entries are (``autostart.path``), known for a simulated host
        without opening it or reading them."""
        root = self.xen_root if self.is_simulated else None
        return os.path.join(root, "auto") if root is not None else self.autostart.path

    @property
    def cache_dir(self) -> str:
        """Where this host's caches live (not made here: a cache that cannot be written is a miss)."""
        if self.is_simulated:
            return os.path.join(self.where.path, "cache")
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "xenctl", hashlib.blake2b(self.url.encode(), digest_size=8).hexdigest())

    def spec_cache(self) -> str | None:
        """Validated spec files, once the host has a home (reading specs never makes one)."""
        home = self.where.path if self.is_simulated else os.path.dirname(self.cache_dir)
        return os.path.join(self.cache_dir, "specs") if os.path.isdir(home) else None

    @property
    def pace(self) -> Pace:
        from xenctl.reconcile.walker import ScaledPace, WallPace

        return ScaledPace(self.settings.time_scale) if self.is_simulated else WallPace()

    @contextlib.contextmanager
    def locked(self, command: str, timeout: float = 0.0, stop: threading.Event | None = None) -> Iterator[HostLock]:
        """Hold the host's lock for the block, waiting up to ``timeout`` seconds (a LockError names
        the holder); with ``stop``, a wait that ends once it is set."""
        held = self._take_lock(command[:200], timeout, stop)
        try:
            yield held
        finally:
            self.driver.release_lock(held)

    def _take_lock(self, command: str, timeout: float, stop: threading.Event | None) -> HostLock:
        from xenctl.errors import LockError

        if stop is None:
            return self.driver.acquire_lock(command, timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.driver.acquire_lock(command, timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except LockError:
                if stop.is_set() or time.monotonic() >= deadline:
                    raise

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str | None = None, settings: Settings | None = None) -> Host:
    """The host at ``url`` (default: ``$XENCTL_CONNECT``, else the simulated host in the default
    home). Nothing is opened until the handle is used."""
    chosen = url or os.environ.get(CONNECT_ENV) or sim_url(default_home())
    return Host(parse_url(chosen), settings or Settings())
