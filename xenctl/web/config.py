"""Where ``xenctl serve`` listens, what it serves, and who may talk to it.

xend listened on port 8000; so does ``xenctl serve``, on the loopback address unless told
otherwise. Anything but loopback is refused without a token file: a page that can destroy
domains is not offered to a network without a password. The names a browser may use to reach
the service (the ``Host`` header it sends) are fixed here, so a page on another site cannot
rebind its own name to this address and read the answers (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

from xenctl.app.host import Settings
from xenctl.errors import UsageError

DEFAULT_LISTEN = "127.0.0.1:8000"
MAX_BODY = 64 * 1024  # bytes: a form or a JSON request is a few hundred
MAX_TOKEN = 4096
WILDCARDS = ("0.0.0.0", "::")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class ServerConfig:
    """What the service needs to answer a request: the host it serves and how it guards it."""

    url: str  # the host served, as ``-c`` names it
    settings: Settings
    specs: str | None  # the spec directory the plan page plans and applies
    listen: str  # host part, as given
    port: int
    token: str | None = None
    allowed_hosts: frozenset[str] = frozenset()  # Host header values accepted
    max_body: int = MAX_BODY

    @property
    def origins(self) -> frozenset[str]:
        """The origins a state-changing request may come from: this service's own."""
        return frozenset(f"http://{name}" for name in self.allowed_hosts)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8000`` for IPv6); one line naming the mistake otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r}: write HOST:PORT, such as 127.0.0.1:8000")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    """The token in ``path`` (its first line), which every request must then carry."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_TOKEN + 1)
    except OSError as exc:
        raise UsageError(f"--token-file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--token-file {path}: not a text file") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < 16 or len(text) > MAX_TOKEN or not token.isprintable():
        raise UsageError(f"--token-file {path}: the token must be one line of 16 to {MAX_TOKEN} printable characters")
    return token


def host_names(host: str, port: int) -> frozenset[str]:
    """The ``Host`` header values that name this service: loopback's names when it listens
    there, the machine's names when it listens everywhere, else the address given."""
    names: set[str] = set()
    if is_loopback(host) or host in WILDCARDS:
        names.update(LOOPBACK_NAMES)
    if host in WILDCARDS:
        names.update({socket.gethostname(), socket.getfqdn()})
    elif not is_loopback(host):
        names.add(f"[{host}]" if ":" in host else host)
    with_port = {f"{name}:{port}" for name in names}
    return frozenset(with_port | (names if port == 80 else set()))


def server_config(
    url: str, settings: Settings, *, listen: str, specs: str | None, token_file: str | None
) -> ServerConfig:
    """The service's configuration, checked: a listen address beyond loopback needs a token."""
    host, port = parse_listen(listen)
    if not is_loopback(host) and token_file is None:
        raise UsageError(
            f"--listen {listen}: listening beyond loopback needs --token-file "
            "(a file holding the token every request must carry)"
        )
    if specs is not None and not os.path.isdir(specs):
        raise UsageError(f"--specs {specs}: not a directory")
    token = read_token(token_file) if token_file is not None else None
    return ServerConfig(
        url=url,
        settings=settings,
        specs=os.path.abspath(specs) if specs else None,
        listen=host,
        port=port,
        token=token,
        allowed_hosts=host_names(host, port),
    )
