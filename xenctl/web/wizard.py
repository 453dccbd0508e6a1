"""The New VM wizard: virt-manager's steps, each answer checked by ``xenctl new``'s validators.

name -> paravirtualised or fully virtualised -> install media -> storage -> memory and CPUs ->
summary. The answers travel in the form from step to step (hidden fields), so Back keeps them and
the service keeps nothing per session; every step is a POST with the session's CSRF token, and
each answer is checked again at the end. Finishing writes the spec ``NAME.yaml`` into the specs
directory (never over an existing file) and applies the directory as a job, as the plan page's
Apply does: what the page makes is declared, in a file that can be read, reviewed and kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from xenctl.app.answers import (
    BadAnswer,
    Limits,
    parse_disk,
    parse_disk_size,
    parse_graphics,
    parse_hvm,
    parse_iso,
    parse_location,
    parse_name,
    parse_partition,
    parse_ram,
    parse_vcpus,
)
from xenctl.app.newvm import Answers, host_limits, render_spec, write_spec
from xenctl.errors import UsageError, XenctlError
from xenctl.spec.model import VolumeKind
from xenctl.web.forms import form_of
from xenctl.web.pages import hosts_of, in_thread, render

STEPS = ("name", "virt", "media", "storage", "resources", "summary")
TITLES = {
    "name": "Name",
    "virt": "Virtualization method",
    "media": "Installation media",
    "storage": "Storage",
    "resources": "Memory and CPUs",
    "summary": "Summary",
}
FIELDS = (
    "name",
    "virt",
    "graphics",
    "media",
    "location",
    "iso",
    "storage",
    "disk",
    "disk_size",
    "partition",
    "ram",
    "vcpus",
)
DEFAULTS = {
    "virt": "pv",
    "graphics": "no",
    "media": "location",
    "storage": "file",
    "disk_size": "8",
    "ram": "512",
    "vcpus": "1",
}
MADE_BY = "the New VM wizard of xenctl serve"
Parse = Callable[[str, Limits], Any]


def _virt(text: str, limits: Limits) -> bool:
    if text not in ("pv", "hvm"):
        raise BadAnswer("choose paravirtualized or fully virtualized")
    return parse_hvm("yes" if text == "hvm" else "no", limits)


def _choice(*allowed: str) -> Parse:
    def parse(text: str, limits: Limits) -> str:
        if text not in allowed:
            raise BadAnswer(f"choose one of {', '.join(allowed)}")
        return text

    return parse


def checks(step: str, form: dict[str, str]) -> list[tuple[str, Parse]]:
    """The fields a step asks, each with its validator (what the step shows depends on earlier choices)."""
    if step == "name":
        return [("name", parse_name)]
    if step == "virt":
        return [("virt", _virt), ("graphics", parse_graphics)]
    if step == "media":
        media = form.get("media")
        return [
            ("media", _choice("location", "iso")),
            ("iso" if media == "iso" else "location", parse_iso if media == "iso" else parse_location),
        ]
    if step == "storage":
        if form.get("storage") == "partition":
            return [("storage", _choice("file", "partition")), ("partition", parse_partition)]
        return [("storage", _choice("file", "partition")), ("disk", parse_disk), ("disk_size", parse_disk_size)]
    if step == "resources":
        return [("ram", parse_ram), ("vcpus", parse_vcpus)]
    return []


def spec_path(specs: str, name: str) -> str:
    return os.path.join(specs, f"{name}.yaml")


def check_step(step: str, form: dict[str, str], limits: Limits, specs: str) -> tuple[dict[str, str], dict[str, Any]]:
    """(the reasons each field of the step is refused, by field; the values it took)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, parse in checks(step, form):
        try:
            values[key] = parse(form.get(key, ""), limits)
        except BadAnswer as bad:
            errors[key] = str(bad)
    if step == "name" and "name" in values and os.path.lexists(spec_path(specs, values["name"])):
        errors["name"] = f"{values['name']}.yaml already exists in {specs}; choose another name, or edit that spec"
    if step == "media" and form.get("media") == "iso" and form.get("virt") != "hvm":
        errors["iso"] = (
            "a paravirtualized guest installs from a network tree (NFS, FTP or HTTP); "
            "an ISO needs a fully virtualized one"
        )
    return errors, values


def answers_of(values: dict[str, Any]) -> Answers:
    """The answers every step took, as ``xenctl new``'s ``Answers``."""
    partition = values.get("storage") == "partition"
    iso = values.get("media") == "iso"
    return Answers(
        name=values["name"],
        ram=values["ram"],
        disk=values["partition"] if partition else values["disk"],
        disk_size=0 if partition else values["disk_size"],
        graphics=values["graphics"],
        location="" if iso else values["location"],
        hvm=values["virt"],
        vcpus=values["vcpus"],
        iso=values["iso"] if iso else None,
        disk_kind=VolumeKind.PARTITION if partition else VolumeKind.FILE,
    )


def _specs(request: Request) -> str:
    specs: str | None = request.app.state.config.specs
    if specs is None:
        raise UsageError(
            "this service has no spec directory to write the new guest's spec in; "
            "start it with xenctl serve --specs DIR"
        )
    return specs


def _page(
    request: Request, step: str, form: dict[str, str], errors: dict[str, str], status: int, **more: Any
) -> Response:
    answers = {key: form.get(key, DEFAULTS.get(key, "")) for key in FIELDS}
    if step == "storage" and not answers["disk"] and "disk" not in errors:
        answers["disk"] = f"{answers['name']}.img"  # virt-manager's default: the guest's name, under the storage root
    context = {
        "step": step,
        "steps": STEPS,
        "titles": TITLES,
        "answers": answers,
        "errors": errors,
        "index": STEPS.index(step),
        **more,
    }
    return render(request, "new.html", context, status)


async def new_page(request: Request) -> Response:
    _specs(request)
    return _page(request, "name", {}, {}, 200)


async def new_step(request: Request) -> Response:
    specs = _specs(request)
    form = {key: value for key, value in (await form_of(request)).items() if key in (*FIELDS, "step", "go")}
    step = form.get("step", "name")
    if step not in STEPS:
        raise UsageError(f"no step {step[:40]!r} in the New VM wizard")
    index = STEPS.index(step)
    if form.get("go") == "back":
        return _page(request, STEPS[max(0, index - 1)], form, {}, 200)
    limits: Limits = await in_thread(request, host_limits)
    if step == "summary":
        return await _finish(request, form, limits, specs)
    errors, _ = check_step(step, form, limits, specs)
    if errors:
        return _page(request, step, form, errors, 400)
    if STEPS[index + 1] != "summary":
        return _page(request, STEPS[index + 1], form, {}, 200)
    refused, answers = _all(form, limits, specs)
    if refused is not None or answers is None:  # an earlier step's answer, tampered with on the way
        return _back_to(request, form, refused)
    return _page(request, "summary", form, {}, 200, spec_text=render_spec(answers, MADE_BY))


def _back_to(request: Request, form: dict[str, str], refused: tuple[str, dict[str, str]] | None) -> Response:
    step, errors = refused or ("name", {})
    return _page(request, step, form, errors, 400)


def _all(form: dict[str, str], limits: Limits, specs: str) -> tuple[tuple[str, dict[str, str]] | None, Answers | None]:
    """Every step checked again: (the first step refused and its reasons, or None; the answers)."""
    values: dict[str, Any] = {}
    for step in STEPS[:-1]:
        errors, taken = check_step(step, form, limits, specs)
        if errors:
            return (step, errors), None
        values.update(taken)
    return None, answers_of(values)


async def _finish(request: Request, form: dict[str, str], limits: Limits, specs: str) -> Response:
    refused, answers = _all(form, limits, specs)
    if refused is not None or answers is None:
        return _back_to(request, form, refused)
    path = spec_path(specs, answers.name)
    text = render_spec(answers, MADE_BY)
    await run_in_threadpool(write_spec, path, text, force=False)
    url = hosts_of(request).url_for(str(request.state.session))
    try:
        job = await run_in_threadpool(request.app.state.jobs.start, url, specs, None)
    except XenctlError as exc:  # nothing was applied: the spec goes too, so nothing is half done
        os.unlink(path)
        return _page(request, "summary", form, {}, 409, spec_text=text, error=f"{exc.message} (the spec was not kept)")
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


ROUTES = [
    Route("/new", new_page),
    Route("/new", new_step, methods=["POST"]),
]
