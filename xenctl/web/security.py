"""The checks every request passes before it reaches a page or the API.

In order: the ``Host`` header must be a name this service answers to (no DNS rebinding); with
a token, the request must carry it (``Authorization: Bearer``, or the cookie the login form
sets); a state-changing request (anything but GET and HEAD) must come from this service's own
origin (``Origin``, else ``Referer``) and carry the session's CSRF token (``X-CSRF-Token``, or
the form's ``csrf_token`` field), and its body is read whole here, at most ``max_body`` bytes,
and handed on as read. Every refusal is one line: JSON under ``/api/``, a small page elsewhere.

A session is a random cookie; its CSRF token is an HMAC of it under a key made when the service
starts, so nothing is stored per session and a restart ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from xenctl.web.config import ServerConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "xenctl_session"
AUTH_COOKIE = "xenctl_auth"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = ("GET", "HEAD")
OPEN_PATHS = ("/login", "/static/")  # reachable without the token (never without the other checks)
_SESSION_RE = re.compile(r"^[0-9a-f]{32}$")
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"cache-control", b"no-store"),
]


class Refused(Exception):
    """A request the checks turn away: its status and the one line that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Keys:
    """The service's secrets for one run: what session cookies and the login cookie are signed with."""

    def __init__(self, token: str | None) -> None:
        self.key = secrets.token_bytes(32)
        self.token = token

    def csrf(self, session: str) -> str:
        return hmac.new(self.key, f"csrf:{session}".encode(), hashlib.sha256).hexdigest()

    def auth_cookie(self) -> str:
        return hmac.new(self.key, f"auth:{self.token}".encode(), hashlib.sha256).hexdigest()

    def token_matches(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header is no cookies, not an error page
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def refusal(scope: Scope, status: int, message: str) -> tuple[int, bytes, bytes]:
    """(status, content type, body) of a refusal: JSON under /api/, a small page elsewhere."""
    if str(scope.get("path", "")).startswith("/api/"):
        return status, b"application/json", json.dumps({"error": message, "status": status}).encode()
    page = f"<!doctype html><title>xenctl: refused</title><p class=error>Error: {html.escape(message)}</p>\n"
    return status, b"text/html; charset=utf-8", page.encode()


class Guard:
    """The ASGI middleware that runs the checks (see the module's docstring)."""

    def __init__(self, app: ASGIApp, config: ServerConfig, keys: Keys) -> None:
        self.app = app
        self.config = config
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        cookies = _cookies(headers)
        session = cookies.get(SESSION_COOKIE, "")
        fresh = not _SESSION_RE.match(session)
        if fresh:
            session = secrets.token_hex(16)
        state = scope.setdefault("state", {})
        state.update(session=session, csrf=self.keys.csrf(session), authed=False)
        try:
            state["authed"] = self._check_token(scope, headers, cookies)
            if scope["method"] not in SAFE_METHODS:
                receive = await self._check_change(scope, headers, receive, session)
        except Refused as refused:
            await self._refuse(scope, send, refused, session if fresh else None)
            return
        await self.app(scope, receive, self._sending(send, session if fresh else None))

    def _check_token(self, scope: Scope, headers: dict[str, str], cookies: dict[str, str]) -> bool:
        """Whether the request is signed in; refused when a token is needed and missing."""
        host = headers.get("host", "")
        if host not in self.config.allowed_hosts:
            shown = host[:100] or "(none)"
            raise Refused(421, f"this service does not answer to the name {shown!r}; use {self._own_name()}")
        if self.keys.token is None:
            return True
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and self.keys.token_matches(bearer[7:].strip()):
            return True
        if hmac.compare_digest(cookies.get(AUTH_COOKIE, "").encode(), self.keys.auth_cookie().encode()):
            return True
        path = str(scope.get("path", ""))
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in OPEN_PATHS):
            return False
        raise Refused(401, "this service needs its token: sign in at /login, or send Authorization: Bearer TOKEN")

    def _own_name(self) -> str:
        return f"http://{min(self.config.allowed_hosts)}/" if self.config.allowed_hosts else "the address it listens on"

    async def _check_change(self, scope: Scope, headers: dict[str, str], receive: Receive, session: str) -> Receive:
        """A state-changing request: same origin, the session's CSRF token, a body within bounds."""
        origin = headers.get("origin")
        if origin is None and "referer" in headers:
            parts = urlsplit(headers["referer"])
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin is None:
            raise Refused(403, "a request that changes something must say where it comes from (Origin or Referer)")
        if origin not in self.config.origins:
            raise Refused(403, f"a request from {origin[:100]!r} may not change anything here")
        body = await self._read_body(headers, receive)
        given = headers.get(CSRF_HEADER) or _form_field(headers, body, CSRF_FIELD)
        if not given or not hmac.compare_digest(given.encode(), self.keys.csrf(session).encode()):
            raise Refused(403, "the request lacks this session's CSRF token; reload the page and try again")
        return _replay(body)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        limit = self.config.max_body
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > limit:
            raise Refused(413, f"the request body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _sending(self, send: Send, new_session: str | None) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS, *self._cookie(new_session)]
            await send(message)

        return sending

    def _cookie(self, new_session: str | None) -> list[tuple[bytes, bytes]]:
        if new_session is None:
            return []
        value = f"{SESSION_COOKIE}={new_session}; Path=/; HttpOnly; SameSite=Strict"
        return [(b"set-cookie", value.encode())]

    async def _refuse(self, scope: Scope, send: Send, refused: Refused, new_session: str | None) -> None:
        status, kind, body = refusal(scope, refused.status, refused.message)
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await self._sending(send, new_session)({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _form_field(headers: dict[str, str], body: bytes, name: str) -> str | None:
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=100).get(name)
    except ValueError:  # more fields than any form of ours has
        return None
    return values[0] if values else None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
