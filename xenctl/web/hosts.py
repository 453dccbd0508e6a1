"""The hosts the service talks to, and what a page or the API reads of one.

Requests run on a pool of worker threads, and a driver's connection belongs to the thread that
opened it: each thread keeps its own ``Host`` handle per URL, opened on first use. Each session
may choose its host on the connect page (the service's own first); the choice is kept here, by
session, for as long as the service runs.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from xenctl.app.host import Host, connect, default_home, parse_url, sim_url
from xenctl.engine.api import Domain, Event, HostState
from xenctl.errors import UsageError
from xenctl.web.config import ServerConfig

MAX_SESSIONS = 10_000
MAX_REF = 200
SORTS = ("name", "id", "state", "memory", "vcpus", "cpu")
PAGE_SIZE = 100


class Hosts:
    """Host handles per worker thread, and each session's chosen host."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._chosen: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def candidates(self) -> list[str]:
        """The hosts the connect page offers: the service's own, then the local simulated host."""
        local = sim_url(default_home())
        return [self.config.url] + ([local] if local != self.config.url else [])

    def url_for(self, session: str) -> str:
        with self._lock:
            return self._chosen.get(session, self.config.url)

    def choose(self, session: str, url: str) -> str:
        """Connect the session to ``url``: a host that is there (the page never makes one)."""
        if len(url) > 1000:
            raise UsageError("a host URI is at most 1000 characters")
        parse_url(url)  # one line naming what is wrong with it
        host = self.handle(url)
        if not host.exists():
            raise UsageError(f"there is no host at {url}; make one with: xenctl -c {url} host init")
        host.driver.snapshot()
        with self._lock:
            self._chosen[session] = url
            self._chosen.move_to_end(session)
            while len(self._chosen) > MAX_SESSIONS:
                self._chosen.popitem(last=False)
        return url

    def handle(self, url: str) -> Host:
        """This thread's handle on the host at ``url``."""
        handles: dict[str, Host] | None = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = {}
        if url not in handles:
            handles[url] = connect(url, self.config.settings)
        return handles[url]

    @contextmanager
    def session_host(self, session: str) -> Iterator[Host]:
        """The session's host, for one request."""
        yield self.handle(self.url_for(session))


def check_ref(ref: str) -> str:
    """A domain named in a request: a name or a domid, as xm takes them."""
    if not ref or len(ref) > MAX_REF or not ref.isprintable():
        raise UsageError(f"a domain is named by its name or ID, at most {MAX_REF} printable characters")
    return ref


@dataclass(frozen=True)
class Listing:
    """One page of the domain list, filtered and sorted as asked."""

    domains: tuple[Domain, ...]
    total: int  # domains on the host
    matched: int  # domains the filter kept
    query: str
    sort: str
    descending: bool
    page: int
    pages: int


def matching(state: HostState, query: str = "", sort: str = "name", descending: bool = False) -> list[Domain]:
    """The domains whose name or state contains ``query`` (any case), sorted by ``sort``."""
    if sort not in SORTS:
        raise UsageError(f"sort by one of {', '.join(SORTS)}, not {sort[:40]!r}")
    if len(query) > MAX_REF:
        raise UsageError(f"a filter is at most {MAX_REF} characters")
    needle = query.lower()
    kept = [d for d in state.domains if needle in d.name.lower() or needle in d.phase.value]
    keys: dict[str, Any] = {
        "name": lambda d: d.name,
        "id": lambda d: d.domid,
        "state": lambda d: (d.phase.value, d.name),
        "memory": lambda d: (d.memory, d.name),
        "vcpus": lambda d: (d.vcpus, d.name),
        "cpu": lambda d: (d.cpu_time, d.name),
    }
    kept.sort(key=keys[sort], reverse=descending)
    return kept


def listing(state: HostState, query: str = "", sort: str = "name", descending: bool = False, page: int = 1) -> Listing:
    """One page of ``PAGE_SIZE`` of the domains ``matching`` keeps."""
    kept = matching(state, query, sort, descending)
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = tuple(kept[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    return Listing(shown, len(state.domains), len(kept), query, sort, descending, page, pages)


def domain_events(host: Host, name: str, limit: int = 200) -> tuple[Event, ...]:
    """The last ``limit`` events about the domain."""
    mine = [e for e in host.driver.events() if e.obj == name]
    return tuple(mine[-limit:])


def xm_configs(host: Host) -> list[str]:
    """The xm config files in the host's xen root, which ``run`` creates domains from."""
    root = host.xen_root
    if root is None or not os.path.isdir(root):
        return []
    return sorted(
        name
        for name in os.listdir(root)
        if not name.startswith(".") and not name.endswith(".sxp") and os.path.isfile(os.path.join(root, name))
    )


def config_path(host: Host, name: str) -> str:
    """The xm config file ``name`` in the xen root: a file name, never a path out of it."""
    if not name or len(name) > 255 or "/" in name or "\0" in name or name in (".", ".."):
        raise UsageError("name an xm config file in the xen root by its file name")
    if name not in xm_configs(host):
        raise UsageError(f"Unable to open config file: {name}")
    return os.path.join(host.xen_root or "", name)
