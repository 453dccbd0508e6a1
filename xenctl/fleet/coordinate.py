"""Coordination between operators: one holder at a time for each host of a fleet.

``coordinator(url)`` gives the fleet's ``Coordinator``. Without a URL, ``LocalCoordinator``: each
host's own lock (``Host.locked``) serves. With ``etcd://HOST:PORT[,HOST:PORT]``, ``EtcdCoordinator``:
holding host ``b`` creates ``/xenctl/fleet/hosts/b/lock`` in etcd if absent (one transaction), on a
lease of ``ttl`` seconds a thread keeps alive every ``ttl / 3``; a crashed holder's lease expires.
The value names the holder (JSON); a value xenctl did not write is reported, never trusted.

A holder whose lease could not be kept alive (etcd unreachable for half the TTL, the lease expired
or revoked, its key removed) finds ``Lease.lost`` set, and ``Lease.check()`` raises ``LeaseLost``:
it must stop changing the host at the next step boundary, before anyone else can take it.

::

    XenctlError
    ├── CoordinationError     a bad --coordinate URL, etcd unreachable, a key xenctl did not write
    ├── LockError
    │   └── HeldElsewhere     another operator holds the host (who, since when, lease left)
    └── LeaseLost             the lease on a host held was lost: stop before the next change
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import json
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from xenctl.errors import LockError, XenctlError, one_line

if TYPE_CHECKING:
    from etcd3gw.client import Etcd3Client

PREFIX = "/xenctl/fleet/hosts/"
RECORD_VERSION = 1  # the "xenctl" field of a holder record: its layout
MAX_RECORD = 4096  # bytes: a longer value is not one xenctl wrote
POLL = 0.1  # seconds between tries of a host someone else holds
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
T = TypeVar("T")
NO_CLIENT = "--coordinate etcd:// needs the etcd client: pip install 'xenctl[etcd]' (etcd3gw)"
_WORDS = {  # what requests says when a connection fails, and what a user is told
    "Connection refused": "connection refused",
    "Name or service not known": "unknown host name",
    "Temporary failure in name resolution": "unknown host name",
    "Read timed out": "no answer in {:g} s",
    "No route to host": "no route to host",
}


class CoordinationError(XenctlError):
    """The fleet's coordination cannot be used: a bad URL, etcd unreachable, a key it cannot trust."""


class HeldElsewhere(LockError):
    """Another operator holds the host; names who, since when, and how long their lease has left."""

    def __init__(self, host: str, holder: str, since: float, expires_in: int | None) -> None:
        left = f"its lease expires in {expires_in} s" if expires_in is not None else "its lease is expiring"
        super().__init__(f"host {host} is being changed by {one_line(holder)} since {_clock(since)}; {left}")
        self.host, self.holder, self.since, self.expires_in = host, holder, since, expires_in


class LeaseLost(XenctlError):
    """The lease on a host could not be kept: its holder stops before the next change."""

    def __init__(self, host: str, why: str) -> None:
        super().__init__(f"lost the hold on host {host} ({why}); stopped before the next change to it")
        self.host, self.why = host, why


@dataclass
class Lease:
    """A host held. ``lost`` is set (with ``why``) once the hold could not be kept alive."""

    host: str
    lost: threading.Event = field(default_factory=threading.Event)
    why: str = ""

    def check(self) -> None:
        """Raise ``LeaseLost`` if the hold was lost: call it before each change to the host."""
        if self.lost.is_set():
            raise LeaseLost(self.host, self.why or "lost")


class Coordinator(Protocol):
    def hold(self, host: str, holder: str, *, wait: float = 0.0) -> AbstractContextManager[Lease]: ...
    def holders(self) -> dict[str, str]: ...
    def close(self) -> None: ...


class LocalCoordinator:
    """No coordination across machines: each host's own lock keeps commands apart."""

    def hold(self, host: str, holder: str, *, wait: float = 0.0) -> AbstractContextManager[Lease]:
        return contextlib.nullcontext(Lease(host))

    def holders(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def holder_name(command: str) -> str:
    """Who a holder is, as others are told: ``alice@ws1 (xenctl apply, pid 4242)``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()} ({command}, pid {os.getpid()})"


def coordinator(url: str | None, *, ttl: float = 10.0) -> Coordinator:
    """The coordinator ``--coordinate URL`` names: none (each host's own lock) or etcd."""
    if not url:
        return LocalCoordinator()
    return EtcdCoordinator(parse_url(url), ttl=ttl)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_url(url: str) -> tuple[Endpoint, ...]:
    """``etcd://HOST:PORT[,HOST:PORT]`` as its endpoints; CoordinationError names what is wrong."""
    shown = one_line(url[:200])
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "etcd":
        raise CoordinationError(f"--coordinate {shown}: not etcd://HOST:PORT[,HOST:PORT]")
    if not rest or any(c in rest for c in "/?#@"):
        raise CoordinationError(f"--coordinate {shown}: give etcd's endpoints only, as etcd://HOST:PORT[,HOST:PORT]")
    endpoints = []
    for part in rest.split(","):
        match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.-]+):(\d{1,5})", part)
        port = int(match.group(2) or match.group(4)) if match else 0
        if match is None or not 0 < port < 65536:
            raise CoordinationError(f"--coordinate {shown}: {one_line(part) or 'an empty endpoint'} is not HOST:PORT")
        endpoints.append(Endpoint(match.group(1) or match.group(3), port))
    return tuple(endpoints)


def host_key(host: str) -> str:
    """The key that holds ``host``; CoordinationError for a name that cannot be one path segment."""
    if not _HOST_NAME.fullmatch(host):
        raise CoordinationError(f"host {one_line(host[:100])!r}: a fleet's host name is letters, digits, '.', '-', '_'")
    return f"{PREFIX}{host}/lock"


@dataclass(frozen=True)
class Record:
    """What xenctl writes under a host's key: who holds it, since when (the holder's clock)."""

    host: str
    who: str
    since: float

    def encode(self) -> bytes:
        return json.dumps({"xenctl": RECORD_VERSION, "host": self.host, "who": self.who, "since": self.since}).encode()


def read_record(raw: bytes, host: str) -> Record | None:
    """The record under ``host``'s key, or None for a value xenctl did not write (never trusted)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if len(raw) > MAX_RECORD or not isinstance(data, dict) or set(data) != {"xenctl", "host", "who", "since"}:
        return None
    who, since = data["who"], data["since"]
    if data["xenctl"] != RECORD_VERSION or data["host"] != host or not isinstance(who, str) or not who:
        return None
    if isinstance(since, bool) or not isinstance(since, (int, float)) or not math.isfinite(since) or since < 0:
        return None
    return Record(host, who[:300], float(since))


def foreign(endpoint: Endpoint, key: str, raw: bytes) -> CoordinationError:
    return CoordinationError(  # the value itself is not shown: it may hold anything
        f"etcd at {endpoint}: {key} holds a value xenctl did not write ({len(raw)} bytes); "
        f"xenctl leaves that host alone: remove the key (etcdctl del {key}) once nothing else uses it"
    )


def _clock(since: float) -> str:
    today = time.strftime("%Y-%m-%d", time.localtime(since)) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S", time.localtime(since))


def _reason(exc: BaseException, timeout: float) -> str:
    """Why a request did not get through, in a few words."""
    from etcd3gw import exceptions

    if isinstance(exc, exceptions.ConnectionTimeoutError):
        return f"no answer in {timeout:g} s"
    text = " ".join(str(e) for e in (exc, exc.__cause__, exc.__context__) if e is not None)
    for needle, words in _WORDS.items():
        if needle in text:
            return words.format(timeout)
    if isinstance(exc, exceptions.ConnectionFailedError):
        return "connection failed"
    detail = one_line(str(getattr(exc, "detail_text", "") or exc))[:200]
    return f"it answered with an error ({detail or type(exc).__name__})"


class EtcdCoordinator:
    """Holds hosts as keys in etcd under leases (see the module's docstring)."""

    def __init__(self, endpoints: tuple[Endpoint, ...], *, ttl: float = 10.0) -> None:
        try:
            import etcd3gw  # noqa: F401  (the xenctl[etcd] extra)
        except ImportError:
            raise CoordinationError(NO_CLIENT) from None
        if not 2 <= ttl <= 3600:
            raise CoordinationError(f"a lease's TTL is 2 to 3600 s, not {ttl:g}")
        self.endpoints, self.endpoint = endpoints, endpoints[0]
        self.ttl = math.ceil(ttl)
        self.timeout = max(0.2, self.ttl / 5)  # each request: a hung etcd is noticed well within a TTL
        self._client = self._connect()

    def _connect(self) -> Etcd3Client:
        """A client to the first endpoint that answers; CoordinationError naming them all if none does."""
        import etcd3gw
        from etcd3gw import exceptions

        why = ""
        for endpoint in self.endpoints:
            client = etcd3gw.client(host=endpoint.host, port=endpoint.port, timeout=self.timeout, api_path="/v3/")
            try:
                client.status()
            except exceptions.Etcd3Exception as exc:
                client.session.close()
                why = _reason(exc, self.timeout)
                continue
            self.endpoint = endpoint
            return client
        names = ", ".join(map(str, self.endpoints))
        raise CoordinationError(f"cannot reach etcd at {names}: {why}")

    def _call(self, request: Callable[[], T]) -> T:
        from etcd3gw import exceptions

        try:
            return request()
        except exceptions.Etcd3Exception as exc:
            raise CoordinationError(f"cannot reach etcd at {self.endpoint}: {_reason(exc, self.timeout)}") from None

    @contextlib.contextmanager
    def hold(self, host: str, holder: str, *, wait: float = 0.0) -> Iterator[Lease]:
        key = host_key(host)
        client = self._connect()  # a client (and HTTP session) of the hold's own, for its keeper too
        granted = time.monotonic()
        lease_id = self._call(lambda: client.lease(self.ttl).id)
        keeper = _Keeper(self, client, lease := Lease(host), lease_id, granted)
        keeper.start()
        try:
            self._take(client, key, lease_id, Record(host, holder, time.time()), wait)
            keeper.held.set()
            yield lease
        finally:
            keeper.stop()
            with contextlib.suppress(CoordinationError):  # etcd gone: the lease expires by itself
                self._call(lambda: client.post(client.get_url("/kv/lease/revoke"), json={"ID": lease_id}))
            client.session.close()

    def _take(self, client: Etcd3Client, key: str, lease_id: int, record: Record, wait: float) -> None:
        """Put the key if absent, trying until ``wait`` has passed; HeldElsewhere names the holder."""
        deadline = time.monotonic() + wait
        name = _encode(key)
        txn = {
            "compare": [{"key": name, "result": "EQUAL", "target": "CREATE", "create_revision": 0}],
            "success": [{"request_put": {"key": name, "value": _encode(record.encode()), "lease": lease_id}}],
            "failure": [{"request_range": {"key": name}}],
        }
        while True:
            answer: dict[str, Any] = dict(self._call(lambda: client.transaction(txn)))
            if answer.get("succeeded"):
                return
            try:  # what the transaction read instead: the holder's key (none if they let go since)
                kv = answer["responses"][0]["response_range"].get("kvs", [None])[0]
                found = (_decode(kv.get("value", "")), kv.get("lease")) if kv else None
            except (LookupError, TypeError, AttributeError):
                raise CoordinationError(f"etcd at {self.endpoint} answered in a form xenctl does not know") from None
            if found is None:
                continue
            theirs = read_record(found[0], record.host)
            if theirs is None:
                raise foreign(self.endpoint, key, found[0])
            if time.monotonic() >= deadline:
                raise HeldElsewhere(record.host, theirs.who, theirs.since, self._left(client, found[1]))
            time.sleep(max(0.0, min(POLL, deadline - time.monotonic())))

    def _left(self, client: Etcd3Client, lease_id: object) -> int | None:
        """Seconds left on a holder's lease, None if it is gone or cannot be told."""
        try:
            answer = self._call(lambda: client.post(client.get_url("/kv/lease/timetolive"), json={"ID": lease_id}))
            left = int(answer["TTL"])
        except (CoordinationError, LookupError, TypeError, ValueError):
            return None
        return left if left >= 0 else None

    def holders(self) -> dict[str, str]:
        """Each host held now and who holds it (a value xenctl did not write is said to be one)."""
        found: dict[str, str] = {}
        answer = self._call(lambda: self._client.get_prefix(PREFIX))
        try:
            held = [(raw, bytes(meta["key"]).decode("utf-8", "replace")) for raw, meta in answer]
        except (LookupError, TypeError, ValueError):
            raise CoordinationError(f"etcd at {self.endpoint} answered in a form xenctl does not know") from None
        for raw, key in held:
            host = key[len(PREFIX) : -len("/lock")] if key.endswith("/lock") else ""
            if not _HOST_NAME.fullmatch(host):
                continue  # not a host's key: someone else's, not xenctl's business
            record = read_record(raw, host)
            found[host] = record.who if record else "unknown (a value xenctl did not write)"
        return dict(sorted(found.items()))

    def close(self) -> None:
        self._client.session.close()


def _encode(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode("ascii")


def _decode(value: object) -> bytes:
    try:
        return base64.b64decode(value if isinstance(value, (str, bytes)) else "", validate=True)
    except ValueError:  # not base64: the gateway's answer is not etcd's
        return b""


class _Keeper(threading.Thread):
    """Keeps one hold's lease alive every TTL/3; marks the lease lost when it cannot."""

    def __init__(self, owner: EtcdCoordinator, client: Etcd3Client, lease: Lease, lease_id: int, sent: float) -> None:
        super().__init__(name=f"xenctl-lease-{lease.host}", daemon=True)
        self.owner, self.client, self.lease = owner, client, lease
        self.lease_id, self.key = lease_id, host_key(lease.host).encode()
        self.confirmed = sent  # when the last request that kept the lease alive was sent
        self.held = threading.Event()  # the key is ours: its presence is checked too
        self._done = threading.Event()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        ttl = self.owner.ttl
        pause = ttl / 3
        while not self._done.wait(pause):
            sent = time.monotonic()
            try:
                why = self._refresh()
            except CoordinationError as exc:
                if time.monotonic() - self.confirmed < ttl / 2:
                    pause = ttl / 10  # try again soon, well before etcd could let the lease expire
                    self._another_endpoint()
                    continue
                why = f"{exc}, for {time.monotonic() - self.confirmed:.1f} s"
            if why:
                self.lease.why = why  # before the event: whoever sees it set reads why
                self.lease.lost.set()
                return
            self.confirmed, pause = sent, ttl / 3

    def _another_endpoint(self) -> None:
        """With more than one endpoint, the next tries go to one that answers (if any does)."""
        if len(self.owner.endpoints) > 1:
            with contextlib.suppress(CoordinationError):
                self.client = self.owner._connect()  # the hold's own client still revokes the lease

    def _refresh(self) -> str:
        """Keep the lease alive: why it is lost, or '' if it is kept."""
        client = self.client
        left = self.owner._call(lambda: client.post(client.get_url("/lease/keepalive"), json={"ID": self.lease_id}))
        if int(left.get("result", {}).get("TTL", -1)) <= 0:
            return "its lease expired in etcd"
        if self.held.is_set():
            answer = self.owner._call(
                lambda: client.post(client.get_url("/kv/lease/timetolive"), json={"ID": self.lease_id, "keys": True})
            )
            if self.key not in {_decode(k) for k in answer.get("keys", [])}:
                return f"its key {self.key.decode()} was removed from etcd"
        return ""
