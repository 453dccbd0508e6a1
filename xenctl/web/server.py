"""The Starlette application of ``xenctl serve``, and running it under uvicorn.

``build_app`` puts the pieces together: the routes of the API, the pages and their forms, the
vendored static files, the checks of ``security`` around all of them, and the one place where
an error becomes an answer. A ``XenctlError`` is the CLI's one line with a 4xx status (a JSON
body under ``/api/``, a page or a fragment elsewhere); anything else is a 500 that says only
that it is an internal error, never a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from xenctl.errors import (
    EngineError,
    LockError,
    NotFoundError,
    PlanError,
    SpecError,
    StoreError,
    UsageError,
    XenctlError,
)
from xenctl.web import api, forms, pages, wizard
from xenctl.web.config import ServerConfig
from xenctl.web.hosts import Hosts
from xenctl.web.jobs import Jobs
from xenctl.web.reads import Reads
from xenctl.web.security import Guard, Keys
from xenctl.web.stats import Stats

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("xenctl.web")


def status_of(exc: XenctlError) -> int:
    """The HTTP status of a refusal: what was asked is wrong (400), not there (404), or the host
    will not do it now (409); spec mistakes are 422; a host that cannot be read is 503."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, SpecError):
        return 422
    if isinstance(exc, (LockError, PlanError, EngineError)):
        return 409
    if isinstance(exc, StoreError):
        return 503
    return 400 if isinstance(exc, UsageError) else 409


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, XenctlError)
    status = status_of(exc)
    if _wants_json(request):
        return JSONResponse({"error": exc.message, "status": status}, status_code=status)
    return pages.error_response(request, exc, status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "there is no such page", 405: "this address does not take that method"}.get(
        exc.status_code, str(exc.detail)
    )
    if _wants_json(request):
        return JSONResponse({"error": message, "status": exc.status_code}, status_code=exc.status_code)
    return pages.error_response(request, UsageError(message), exc.status_code)


async def internal(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    message = "internal error; the service's log has the details"
    return JSONResponse({"error": message, "status": 500}, status_code=500)


def routes() -> list[BaseRoute]:
    return [
        *api.ROUTES,
        *pages.ROUTES,
        *forms.ROUTES,
        *wizard.ROUTES,
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]


def build_app(config: ServerConfig) -> Starlette:
    """The service for ``config``: every request through the checks, then to its route."""
    keys = Keys(config.token)
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(Guard, config=config, keys=keys)],
        exception_handlers={XenctlError: refused, HTTPException: http_error, Exception: internal},
    )
    app.state.config = config
    app.state.keys = keys
    app.state.hosts = Hosts(config)
    app.state.jobs = Jobs(config)
    app.state.stats = Stats()
    app.state.reads = Reads()
    return app


def serve(config: ServerConfig) -> None:
    """Run the service until interrupted (xend's role: one process answering for the host)."""
    import uvicorn

    where = f"[{config.listen}]" if ":" in config.listen else config.listen
    print(f"xenctl serve: {config.url} on http://{where}:{config.port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(
        build_app(config),
        host=config.listen,
        port=config.port,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        limit_concurrency=200,
    )
