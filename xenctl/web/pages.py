"""The pages: virt-manager's windows, rendered on the server, kept live by htmx.

The main window lists every domain (name, ID, state, memory, vCPUs, CPU time), sorted and
filtered on the server and shown a page of 100 at a time, so that a host of thousands stays
quick; the table asks for itself again every second, so what an ``xenctl`` command does in a
terminal shows within a second. A domain's window has its facts, console and events (also
live), its config, disks and interfaces, and its actions. The plan page shows the plan as
``xenctl plan`` prints it. Every page is a Jinja2 template with autoescaping on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from xenctl.app.options import PlanOptions
from xenctl.errors import NotFoundError, XenctlError
from xenctl.spec.files import SPEC_SUFFIXES
from xenctl.web.hosts import Hosts, Listing, check_ref, domain_events, listing, xm_configs
from xenctl.web.jobs import plan_digest
from xenctl.web.reads import Reads
from xenctl.web.stats import Stats, graphs

HTMX = "htmx-2.0.11.min.js"
DOM0_CONSOLE = "Domain-0's console is the host's own terminal; xenctl console opens a guest's."
COLUMNS = [
    ("name", "Name"),
    ("id", "ID"),
    ("state", "State"),
    ("memory", "Memory"),
    ("vcpus", "vCPUs"),
    ("cpu", "CPU (s)"),
]
SIMPLE_ACTIONS = [
    ("shutdown", "Shut down"),
    ("reboot", "Reboot"),
    ("pause", "Pause"),
    ("unpause", "Resume"),
    ("destroy", "Destroy"),
]

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("xenctl.web", "templates"),
        autoescape=True,
    )
)


@dataclass(frozen=True)
class ConsoleNote:
    """A line shown where a console would be (as a console line: the template reads ``text``)."""

    text: str


def has_specs(specs: str) -> bool:
    """Whether the directory holds a spec file the plan would read."""
    try:
        names = os.listdir(specs)
    except OSError:
        return True  # let the plan name what is wrong with the directory
    return any(name.endswith(SPEC_SUFFIXES) and not name.startswith(".") for name in names)


def hosts_of(request: Request) -> Hosts:
    hosts: Hosts = request.app.state.hosts
    return hosts


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A template, with what every page needs: the CSRF token, the host, htmx's file."""
    session = str(request.state.session)
    base = {"csrf": request.state.csrf, "host_url": hosts_of(request).url_for(session), "htmx": HTMX}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def error_response(request: Request, exc: XenctlError, status: int) -> Response:
    """A refusal: the message fragment for htmx, else a page."""
    fragment = request.headers.get("hx-request") == "true"
    return render(request, "message.html" if fragment else "error.html", {"error": exc.message}, status)


async def in_thread(request: Request, work: Any, *args: Any) -> Any:
    """``work(host, *args)`` on a worker thread, on the session's host."""
    hosts = hosts_of(request)
    session = str(request.state.session)

    def run() -> Any:
        with hosts.session_host(session) as host:
            return work(host, *args)

    return await run_in_threadpool(run)


def stats_of(request: Request) -> Stats:
    stats: Stats = request.app.state.stats
    return stats


def _sampled(stats: Stats, host: Any, state: Any, at: float, view: Listing) -> dict[str, Any]:
    """A sample of every domain read at ``at`` (for CPU %), and the CPU % of those shown, by name."""
    stats.record(host.url, at, state.domains)
    return {"cpu_percent": {d.name: stats.cpu_percent(host.url, d) for d in view.domains}}


def _view(request: Request) -> tuple[str, str, bool, int]:
    q = request.query_params
    page = q.get("page", "1")
    return q.get("q", ""), q.get("sort", "name"), q.get("desc", "") == "1", int(page) if page.isdigit() else 1


def _table_context(view: Listing) -> dict[str, Any]:
    def query(**changes: Any) -> str:
        params: dict[str, Any] = {"q": view.query, "sort": view.sort, "page": view.page}
        if view.descending:
            params["desc"] = 1
        params.update(changes)
        return urlencode({k: v for k, v in params.items() if v not in ("", None, 0)})

    sort_links = {
        key: query(sort=key, desc=1 if key == view.sort and not view.descending else 0, page=1) for key, _ in COLUMNS
    }
    return {
        "view": view,
        "columns": COLUMNS,
        "view_query": query(),
        "sort_links": sort_links,
        "page_links": {"prev": query(page=view.page - 1), "next": query(page=view.page + 1)},
    }


async def index(request: Request) -> Response:
    query, sort, descending, page = _view(request)
    stats = stats_of(request)
    reads: Reads = request.app.state.reads

    def work(host: Any) -> dict[str, Any]:
        state, at = reads.snapshot(host)
        view = listing(state, query, sort, descending, page)
        extra = {"configs": xm_configs(host), "xen_root": host.xen_root or "", "host_name": state.host.name}
        return {**_table_context(view), **_sampled(stats, host, state, at, view), **extra}

    return render(request, "index.html", await in_thread(request, work))


async def domains_fragment(request: Request) -> Response:
    query, sort, descending, page = _view(request)
    stats = stats_of(request)
    reads: Reads = request.app.state.reads

    def work(host: Any) -> dict[str, Any]:
        state, at = reads.snapshot(host)
        view = listing(state, query, sort, descending, page)
        return {**_table_context(view), **_sampled(stats, host, state, at, view)}

    return render(request, "domains_table.html", await in_thread(request, work))


def _live(host: Any, ref: str, stats: Stats) -> dict[str, Any]:
    """A domain's facts, graphs, console and events; the domain is None once it is gone."""
    try:
        domain = host.driver.domain(ref)
    except NotFoundError:
        return {"domain": None, "name": ref, "console": (), "events": domain_events(host, ref)}
    stats.record(host.url, time.time(), [domain])
    drawn = graphs(stats.samples(host.url, domain.name), domain.config.memory_ceiling, domain.vcpus)
    if domain.domid == 0:  # Xen refuses Domain-0's console: it is the host's own terminal
        console: Any = (ConsoleNote(DOM0_CONSOLE),)
    else:
        console = host.driver.console(str(domain.domid))[-200:]
    return {
        "domain": domain,
        "name": domain.name,
        "cpu": stats.cpu_percent(host.url, domain),
        "graphs": {key: Markup(svg) for key, svg in drawn.items()},  # numbers only: nothing to escape
        "console": console,
        "events": domain_events(host, domain.name),
    }


async def domain_page(request: Request) -> Response:
    from xenctl.xmconfig.domain import write_config

    ref = check_ref(request.path_params["ref"])
    stats = stats_of(request)

    def work(host: Any) -> dict[str, Any]:
        found = host.driver.domain(ref)  # a domain that is not there: xm's refusal, as a page
        live = _live(host, str(found.domid), stats)
        return {**live, "config_text": write_config(found.config), "simple_actions": SIMPLE_ACTIONS}

    return render(request, "domain.html", await in_thread(request, work))


async def domain_fragment(request: Request) -> Response:
    ref = check_ref(request.path_params["ref"])
    return render(request, "domain_live.html", await in_thread(request, _live, ref, stats_of(request)))


async def plan_page(request: Request) -> Response:
    from xenctl.app.plans import plan

    specs: str | None = request.app.state.config.specs
    if specs is None:
        context: dict[str, Any] = {
            "specs": "(none)",
            "error": "this service has no spec directory; start it with xenctl serve --specs DIR",
        }
        return render(request, "plan.html", context, 409)
    if not await run_in_threadpool(has_specs, specs):
        return render(request, "plan.html", {"specs": specs, "empty": True})
    from xenctl.web.graph import plan_svg

    report = await in_thread(request, lambda h: plan(h, [specs], PlanOptions(), form="text"))
    drawn = await in_thread(request, plan_svg, specs)
    context = {
        "specs": specs,
        "plan_text": report.text,
        "graph_svg": Markup(drawn),  # graph.render_svg escapes every text in it
        "actionable": report.actionable,
        "digest": plan_digest(report.text),
    }
    return render(request, "plan.html", context)


async def job_fragment(request: Request) -> Response:
    raw = str(request.path_params["job"])
    job = request.app.state.jobs.get(int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if job is None:
        raise NotFoundError(f"no apply job {raw[:20]!r} on this service")
    name = "job.html" if request.headers.get("hx-request") == "true" else "job_page.html"
    return render(request, name, job.view())


async def connect_page(request: Request) -> Response:
    return render(request, "connect.html", {"candidates": hosts_of(request).candidates()})


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {})


ROUTES = [
    Route("/", index),
    Route("/fragments/domains", domains_fragment),
    Route("/domains/{ref}", domain_page),
    Route("/fragments/domains/{ref}", domain_fragment),
    Route("/plan", plan_page),
    Route("/jobs/{job}", job_fragment),
    Route("/connect", connect_page),
    Route("/login", login_page),
]
