"""What the pages' forms post: xm's actions, run, apply, connect and sign in.

The checks of ``security`` have run before any of these (the origin, the CSRF token, the
body's size). With htmx, the answer is a fragment swapped into the page (a refusal with its 4xx
status, which the page shows too); without it, a redirect back to the page on success.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from xenctl.errors import UsageError
from xenctl.web import mutations
from xenctl.web.hosts import check_ref
from xenctl.web.pages import hosts_of, in_thread, render
from xenctl.web.security import AUTH_COOKIE

MESSAGES = {
    "shutdown": "shutdown asked",
    "reboot": "reboot asked",
    "destroy": "destroyed",
    "pause": "paused",
    "unpause": "resumed",
    "save": "saved",
    "mem-set": "memory target set",
    "vcpu-set": "online vCPUs set",
}


async def form_of(request: Request) -> dict[str, str]:
    """The posted form, one value a field (the body was read and bounded by the checks)."""
    body = (await request.body()).decode("utf-8", "replace")
    try:
        fields = parse_qs(body, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise UsageError("the form has more fields than any form of this service") from None
    return {key: values[0] for key, values in fields.items()}


def _answer(request: Request, message: str, back: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return render(request, "message.html", {"message": message})
    return RedirectResponse(back, status_code=303)


async def act(request: Request) -> Response:
    ref = check_ref(request.path_params["ref"])
    action = str(request.path_params["action"])
    if action not in mutations.FIELDS:
        raise UsageError(f"no action {action[:40]!r}; the actions are {', '.join(mutations.FIELDS)}")
    form = await form_of(request)
    body: dict[str, Any] = {}
    if action == "mem-set":
        body["memory"] = mutations.whole(form.get("memory", ""), "memory")
    elif action == "vcpu-set":
        body["vcpus"] = mutations.whole(form.get("vcpus", ""), "vcpu count")
    elif action == "save":
        body["file"] = form.get("file", "")
    after = await in_thread(request, mutations.act, ref, action, body)
    name = after.name if after is not None else ref
    back = f"/domains/{quote(name, safe='')}" if after is not None else "/"
    return _answer(request, f"Domain {name}: {MESSAGES[action]}.", back)


async def run(request: Request) -> Response:
    form = await form_of(request)
    made = await in_thread(request, mutations.create, form.get("config", ""), form.get("paused") == "1")
    return _answer(request, f"Started domain {made.name} (id={made.domid})", f"/domains/{quote(made.name, safe='')}")


async def apply(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await form_of(request)
    specs: str | None = request.app.state.config.specs
    if specs is None:
        raise UsageError("this service has no spec directory; start it with xenctl serve --specs DIR")
    url = hosts_of(request).url_for(str(request.state.session))
    job = await run_in_threadpool(request.app.state.jobs.start, url, specs, form.get("digest") or None)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    return render(request, "job.html", job.view())


async def connect(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await form_of(request)
    url = form.get("other", "").strip() or form.get("url", "")
    if not url:
        raise UsageError("choose a host, or type its URI")
    await run_in_threadpool(hosts_of(request).choose, str(request.state.session), url)
    return RedirectResponse("/", status_code=303)


async def login(request: Request) -> Response:
    keys = request.app.state.keys
    form = await form_of(request)
    if keys.token is None:
        return RedirectResponse("/", status_code=303)
    if not keys.token_matches(form.get("token", "")):
        return render(request, "login.html", {"error": "that is not this service's token"}, 401)
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(AUTH_COOKIE, keys.auth_cookie(), httponly=True, samesite="strict", path="/")
    return answer


ROUTES = [
    Route("/domains/{ref}/{action}", act, methods=["POST"]),
    Route("/run", run, methods=["POST"]),
    Route("/apply", apply, methods=["POST"]),
    Route("/connect", connect, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
]
