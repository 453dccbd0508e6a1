"""The JSON API, version 1 (``/api/v1/``): what the host holds, its plan, applies and xm's actions.

Reads are GETs; every change is a POST that carries the session's CSRF token (see
``security``), takes the host's lock through ``xenctl.app`` as the CLI's commands do, and
answers with the domain as it now is. A refusal is ``{"error": MESSAGE, "status": CODE}``
with a 4xx status, MESSAGE being the line the CLI prints after ``Error:``. docs/api.md
describes every endpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from xenctl.app.options import PlanOptions
from xenctl.engine.api import Domain, HostState
from xenctl.errors import NotFoundError, UsageError
from xenctl.web import mutations
from xenctl.web.hosts import Hosts, check_ref, matching
from xenctl.web.jobs import Jobs, plan_digest
from xenctl.web.reads import Reads


def domain_json(domain: Domain, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": domain.domid,
        "name": domain.name,
        "state": domain.state,
        "phase": domain.phase.value,
        "memory": domain.memory,
        "vcpus": domain.vcpus,
        "cpu_time": round(domain.cpu_time, 1),
    }
    if full:
        config = domain.config
        data.update(
            uuid=domain.uuid,
            target=domain.target,
            maxmem=config.memory_ceiling,
            maxvcpus=config.vcpu_ceiling,
            managed=domain.owner is not None,
            kernel=config.kernel,
            builder=config.builder,
            disks=[{"uname": d.uname, "vdev": d.vdev, "mode": d.mode.value, "cdrom": d.cdrom} for d in config.disks],
            vifs=[{"bridge": v.bridge, "mac": v.mac, "type": v.type, "model": v.model} for v in config.vifs],
        )
    return data


def host_json(state: HostState, url: str, lock: str | None) -> dict[str, Any]:
    h = state.host
    return {
        "url": url,
        "name": h.name,
        "memory": {"total": h.total_memory, "free": h.free_memory, "dom0": h.dom0_memory},
        "pcpus": h.pcpus,
        "runlevel": h.runlevel,
        "booted": h.booted,
        "domains": len(state.domains),
        "bridges": list(h.bridges),
        "storage_root": h.storage_root,
        "locked_by": lock,
    }


def volumes_json(state: HostState) -> dict[str, Any]:
    return {
        "volume_groups": [
            {"name": vg.name, "pvs": list(vg.pvs), "size": vg.size, "free": vg.free} for vg in state.volume_groups
        ],
        "logical_volumes": [
            {"path": lv.path, "size": lv.size, "origin": lv.origin, "holders": list(lv.holders)}
            for lv in state.logical_volumes
        ],
        "images": [
            {"path": i.path, "size": i.size, "sparse": i.sparse, "holders": list(i.holders)} for i in state.images
        ],
        "nfs_exports": [{"address": e.address, "served_by_domain": e.served_by_domain} for e in state.nfs_exports],
    }


def _hosts(request: Request) -> Hosts:
    hosts: Hosts = request.app.state.hosts
    return hosts


def _session(request: Request) -> str:
    return str(request.state.session)


def _number(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 2**53:
        raise UsageError(f"{name}={raw[:40]!r} is not a whole number from 0 to 2^53")
    return int(raw)


async def _read(request: Request, work: Any, *args: Any) -> Any:
    """``work(host, *args)`` on a worker thread, with the session's host."""
    hosts = _hosts(request)
    session = _session(request)

    def run() -> Any:
        with hosts.session_host(session) as host:
            return work(host, *args)

    return await run_in_threadpool(run)


async def session(request: Request) -> Response:
    return JSONResponse({"csrf": request.state.csrf, "host": _hosts(request).url_for(_session(request))})


async def host(request: Request) -> Response:
    def work(h: Any) -> dict[str, Any]:
        holder = h.driver.lock_holder()
        return host_json(h.driver.snapshot(), h.url, holder.describe() if holder else None)

    return JSONResponse(await _read(request, work))


async def domains(request: Request) -> Response:
    q = request.query_params
    sort, query, descending = q.get("sort", "name"), q.get("q", ""), q.get("desc", "") in ("1", "true")

    reads: Reads = request.app.state.reads

    def work(h: Any) -> dict[str, Any]:
        state, _ = reads.snapshot(h)
        rows = matching(state, query, sort, descending)
        return {"total": len(state.domains), "matched": len(rows), "domains": [domain_json(d) for d in rows]}

    return JSONResponse(await _read(request, work))


async def domain(request: Request) -> Response:
    ref = check_ref(request.path_params["ref"])
    return JSONResponse(await _read(request, lambda h: domain_json(h.driver.domain(ref), full=True)))


async def console(request: Request) -> Response:
    ref = check_ref(request.path_params["ref"])

    def work(h: Any) -> dict[str, Any]:
        lines = h.driver.console(ref)
        return {"domain": h.driver.domain(ref).name, "lines": [{"at": c.at, "text": c.text} for c in lines]}

    return JSONResponse(await _read(request, work))


async def volumes(request: Request) -> Response:
    return JSONResponse(await _read(request, lambda h: volumes_json(h.driver.snapshot())))


async def events(request: Request) -> Response:
    since, limit = _number(request, "since", 0), _number(request, "limit", 1000)
    found = await _read(request, lambda h: h.driver.events(since=since, limit=min(limit, 10_000)))
    return JSONResponse({"events": [e.to_json() for e in found]})


def specs_dir(request: Request) -> str:
    specs: str | None = request.app.state.config.specs
    if specs is None:
        raise UsageError("this service has no spec directory; start it with xenctl serve --specs DIR")
    return specs


async def plan(request: Request) -> Response:
    from xenctl.app.plans import plan as make_plan

    form = request.query_params.get("format", "text")
    if form not in ("text", "json"):
        raise UsageError(f"format={form[:40]!r}: write text or json")
    specs = specs_dir(request)
    report = await _read(request, lambda h: make_plan(h, [specs], PlanOptions(), form=form))
    body: dict[str, Any] = {"actionable": report.actionable}
    if form == "json":
        body["plan"] = json.loads(report.text)
    else:
        body.update(text=report.text, digest=plan_digest(report.text))
    return JSONResponse(body)


async def plan_graph(request: Request) -> Response:
    """The plan's dependency graph as an SVG picture."""
    from xenctl.web.graph import plan_svg

    specs = specs_dir(request)
    return Response(await _read(request, plan_svg, specs), media_type="image/svg+xml")


async def apply(request: Request) -> Response:
    body = mutations.json_body(await request.body(), {"digest": str})
    specs = specs_dir(request)
    jobs: Jobs = request.app.state.jobs
    url = _hosts(request).url_for(_session(request))
    job = await run_in_threadpool(jobs.start, url, specs, body.get("digest"))
    return JSONResponse({**job.summary(), "events_url": f"/api/v1/jobs/{job.id}/events"}, status_code=202)


def _job(request: Request) -> Any:
    raw = str(request.path_params["job"])
    found = request.app.state.jobs.get(int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if found is None:
        raise NotFoundError(f"no apply job {raw[:20]!r} on this service", op="job", obj=raw[:20])
    return found


async def job(request: Request) -> Response:
    found = _job(request)
    return JSONResponse({**found.summary(), "events": found.since(0)})


async def job_events(request: Request) -> Response:
    """The job's events as server-sent events, from the start, until it ends."""
    found = _job(request)

    async def stream() -> AsyncIterator[str]:
        seen = 0
        while True:
            done = found.done
            for event in found.since(seen):
                seen += 1
                yield f"id: {event['seq']}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"
            if done:
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def create(request: Request) -> Response:
    body = mutations.json_body(await request.body(), {"config": str, "paused": bool})
    if "config" not in body:
        raise UsageError('name the xm config file to create the domain from: {"config": NAME}')
    made = await _read(request, mutations.create, body["config"], bool(body.get("paused", False)))
    return JSONResponse(domain_json(made, full=True), status_code=201)


async def act(request: Request) -> Response:
    ref = check_ref(request.path_params["ref"])
    action = str(request.path_params["action"])
    fields = mutations.FIELDS.get(action)
    if fields is None:
        raise NotFoundError(f"no action {action[:40]!r}; the actions are {', '.join(mutations.FIELDS)}")
    body = mutations.json_body(await request.body(), fields)
    after = await _read(request, mutations.act, ref, action, body)
    return JSONResponse({"action": action, "domain": domain_json(after) if after else None})


async def restore(request: Request) -> Response:
    body = mutations.json_body(await request.body(), {"file": str, "paused": bool})
    made = await _read(request, mutations.restore, str(body.get("file", "")), bool(body.get("paused", False)))
    return JSONResponse(domain_json(made, full=True), status_code=201)


ROUTES = [
    Route("/api/v1/session", session),
    Route("/api/v1/host", host),
    Route("/api/v1/domains", domains),
    Route("/api/v1/domains", create, methods=["POST"]),
    Route("/api/v1/domains/{ref}", domain),
    Route("/api/v1/domains/{ref}/console", console),
    Route("/api/v1/domains/{ref}/{action}", act, methods=["POST"]),
    Route("/api/v1/restore", restore, methods=["POST"]),
    Route("/api/v1/volumes", volumes),
    Route("/api/v1/events", events),
    Route("/api/v1/plan", plan),
    Route("/api/v1/plan/graph.svg", plan_graph),
    Route("/api/v1/apply", apply, methods=["POST"]),
    Route("/api/v1/jobs/{job}", job),
    Route("/api/v1/jobs/{job}/events", job_events),
]
