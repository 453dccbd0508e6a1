"""Plans of a host: the specs compared with what the host holds, rendered, cached, saved.

``plan`` is the pipeline behind ``xenctl plan``: load the specs, read the host, diff, make the
plan, render it. Three caches make it cheap when little changed (``plancache``): the rendered
plan of unchanged specs on an unchanged host, each spec file's checked model, and the last
plan's basis, from which a plan after an edit diffs again only what the edit touched. A plan
saved with ``out`` is never made from a basis: it records every live object it read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

from xenctl.errors import SpecError

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.app.options import PlanOptions
    from xenctl.app.plancache import SpecReads
    from xenctl.engine.api import HostInfo, HostState, Selection
    from xenctl.reconcile.diff import Diff, DiffOptions
    from xenctl.reconcile.incremental import Basis
    from xenctl.reconcile.plan import Plan
    from xenctl.spec.checks import Capacity
    from xenctl.spec.load import Loaded
    from xenctl.spec.model import DesiredState
    from xenctl.spec.parted import FileRecord
    from xenctl.xmconfig.auto import AutoDir, Listing

FORMS = ("text", "colour", "json")
_NONE: tuple[None, None, None] = (None, None, None)


class PlanReport(NamedTuple):  # no dataclass: a plan found in the cache imports no ``dataclasses``
    """A plan as rendered (``form``), and whether it has anything to do."""

    text: str
    actionable: bool


def capacity_of(info: HostInfo) -> Capacity:
    """What the spec checks may count on: the host's guest memory, its storage root, its overhead."""
    from xenctl.spec.checks import Capacity

    return Capacity(info.guest_memory_max, f"host {info.name}", info.storage_root, info.capabilities.domain_overhead)


def host_capacity(host: Host) -> Capacity:
    """What the host can give its guests; the built-in profile's when a simulated host is not made yet."""
    if host.exists():
        return capacity_of(host.driver.snapshot().host)
    from xenctl.engine.sim.capabilities import CAPABILITIES
    from xenctl.engine.sim.profile import default_profile
    from xenctl.spec.checks import Capacity

    profile = default_profile()
    return Capacity(
        profile.memory - profile.xen_reserved - profile.dom0_min_mem,
        "the built-in host profile",
        profile.storage_root,
        CAPABILITIES.domain_overhead,
    )


def diff_options(options: PlanOptions) -> DiffOptions:
    from xenctl.reconcile.diff import DiffOptions

    return DiffOptions(adopt=options.adopt, destroy_data=options.destroy_data)


def desired_state(
    host: Host, paths: list[str], live: HostState, models: dict[str, Loaded] | None = None
) -> DesiredState:
    """The specs, checked against the capacity of the host just read (one snapshot a command)."""
    return _desired_against(host, paths, capacity_of(live.host), models)


def _desired_against(
    host: Host,
    paths: list[str],
    capacity: Capacity,
    models: dict[str, Loaded] | None = None,
    known: dict[str, FileRecord] | None = None,
) -> DesiredState:
    from xenctl.errors import UsageError
    from xenctl.spec.load import load_specs

    desired = load_specs(paths, capacity, cache_dir=host.spec_cache(), models=models, known=known)
    if desired.hosts:  # a fleet's specs planned as one host's would put every domain on it
        where = desired.hosts[0].origin.file
        raise UsageError(
            f"the specs declare a fleet (hosts: in {where}); plan and apply them with xenctl plan|apply, "
            "which place each domain on its host, not against one host"
        )
    return desired


def plan_and_diff(
    live: HostState,
    desired: DesiredState,
    options: PlanOptions,
    auto: AutoDir,
    listing: Listing | None = None,
    *,
    values: bool = True,
) -> tuple[Plan, Diff]:
    """The plan of ``desired`` against ``live`` and the auto directory (``listing``: as already
    read); without ``values``, one only to be shown."""
    from xenctl.reconcile.diff import diff
    from xenctl.reconcile.plan import make_plan

    result = diff(desired, live, diff_options(options), listing if listing is not None else auto.listing())
    return make_plan(result, desired, live, target=options.target, auto=auto, values=values), result


def make_plan_for(
    live: HostState, desired: DesiredState, options: PlanOptions, auto: AutoDir, listing: Listing | None = None
) -> Plan:
    return plan_and_diff(live, desired, options, auto, listing)[0]


def plan(
    host: Host,
    paths: list[str],
    options: PlanOptions,
    *,
    form: str = "text",
    out: str | None = None,
    reads: SpecReads | None = None,
) -> PlanReport:
    """The plan of the specs at ``paths`` against ``host``, rendered as ``form``; with ``out``,
    also saved there for ``apply``. ``reads``: the files as the caller just read them
    (``spec_reads``), so that a plan the cache answers reads them once, or not at all."""
    from xenctl.app.plancache import PlanCache

    if form not in FORMS:
        raise ValueError(f"form {form!r} is not one of {', '.join(FORMS)}")  # a caller's mistake, not a user's
    cache = PlanCache(os.path.join(host.cache_dir, "plans"))
    token = host.change_token()
    where = (host.auto_path, host.settings.outside_links)
    reads = reads or spec_reads(host, paths)
    key = None if out or token is None else cache.key(reads.first(), options.to_json(), form, *where)
    found = cache.get(key, token, host.unchanged_since) if key and token else None
    if found is not None:
        reads.save()
        return PlanReport(*found)
    report = _plan_afresh(host, paths, options, form, out, token)
    # Kept only if the files are still what the key says: one edited while the plan read them
    # would file this plan under the other text.
    if key and token and key == cache.key(reads.read(), options.to_json(), form, *where):
        cache.put(key, token, report.text, report.actionable)
    reads.save()
    return report


def spec_reads(host: Host, paths: list[str]) -> SpecReads:
    """The spec files at ``paths``, read for ``host``'s plan cache (nothing is read yet)."""
    from xenctl.app.plancache import SpecReads

    return SpecReads(os.path.join(host.cache_dir, "plans"), paths)


def _plan_afresh(
    host: Host, paths: list[str], options: PlanOptions, form: str, out: str | None, token: str | None
) -> PlanReport:
    """Plan (from the last plan's basis when only a few domains changed, else reading the host
    whole), render, and leave a basis for the next plan (or, with ``out``, save the plan)."""
    from xenctl.app.plancache import BasisStore, entries_stamp
    from xenctl.reconcile.incremental import MAX_CHANGES, Basis, records
    from xenctl.reconcile.render import render_json, render_text

    auto = host.autostart
    listing = auto.listing()  # read once: the plan and its saved fingerprints see the same entries
    cache_dir = host.spec_cache()
    bases = BasisStore(os.path.join(host.cache_dir, "plans"))
    keep = token and cache_dir and not out
    name = bases.name(paths, options.to_json(), auto.path, auto.outside_links) if keep else None
    # The entries as they were before the plan read them: a basis kept under a later stamp could
    # stand for entries the plan never saw.
    stamp = entries_stamp(auto.path) if name else ""
    models: dict[str, Loaded] = {}
    made, desired, capacity = (
        _from_basis(host, paths, options, listing, bases.get(name), stamp, token, models) if name else _NONE
    )
    if made is not None and capacity is not None:
        the_plan, result = made
    else:
        live = host.driver.snapshot()
        if desired is None or capacity != capacity_of(live.host):
            models.clear()
            desired = desired_state(host, paths, live, models)
            capacity = capacity_of(live.host)
        the_plan, result = plan_and_diff(live, desired, options, auto, listing, values=bool(out))
        if out:
            _save(out, the_plan, desired, options, live, listing)
    files = records(models) if name and token and len(result.changes) <= MAX_CHANGES else None
    if name and token and files is not None and capacity is not None:
        bases.put(name, Basis(token, stamp, files, result, capacity))
    text = render_json(the_plan) if form == "json" else render_text(the_plan, colour=form == "colour")
    return PlanReport(text, bool(the_plan.actionable))


def _from_basis(
    host: Host,
    paths: list[str],
    options: PlanOptions,
    listing: Listing,
    basis: Basis | None,
    stamp: str,
    token: str | None,
    models: dict[str, Loaded],
) -> tuple[tuple[Plan, Diff] | None, DesiredState | None, Capacity | None]:
    """The plan made from the last plan's basis when it still holds (else None), and the specs
    if they were loaded on the way, with the capacity they were checked against (the basis's)."""
    from xenctl.engine.api import Selection
    from xenctl.reconcile.incremental import replan
    from xenctl.spec.cache import SpecCache

    cache_dir = host.spec_cache()
    if basis is None or token is None or basis.entries != stamp or not cache_dir:
        return _NONE
    # The host changed since the basis: its journal names the guests, or the plan reads it whole.
    host_changed = frozenset() if basis.token == token else host.driver.changed_domains(basis.token)
    if host_changed is None:
        return _NONE
    # The specs are checked against the capacity the basis was made with, and the one read of the
    # host (the part the plan looks at) must find that capacity still: else the plan is made in full.
    capacity = basis.capacity
    try:
        desired = _desired_against(host, paths, capacity, models, {f.entry: f for f in basis.files})
    except SpecError:
        if capacity_of(host.driver.snapshot_of(Selection())[1].host) == capacity:
            raise  # the problems the specs have on this host
        return _NONE

    def read(selection: Selection) -> tuple[str | None, HostState]:
        now, part = host.driver.snapshot_of(selection)
        return (now if capacity_of(part.host) == capacity else None), part

    specs = SpecCache(cache_dir)
    return (
        replan(
            basis,
            desired,
            models,
            lambda f: specs.model_at(f.entry),
            read,
            token=token,
            host_changed=host_changed,
            options=diff_options(options),
            listing=listing,
            auto=host.autostart,
            storage_root=capacity.storage_root,
            target=options.target,
        ),
        desired,
        capacity,
    )


def _save(
    out: str, the_plan: Plan, desired: DesiredState, options: PlanOptions, live: HostState, listing: Listing
) -> None:
    from xenctl.reconcile.planfile import destroyed_paths, values_json, write_planfile
    from xenctl.reconcile.render import plan_to_json
    from xenctl.spec.load import read_sources

    write_planfile(
        out,
        options=options.to_json(),
        sources=read_sources(desired),
        plan=plan_to_json(the_plan),
        live=live,
        entries=listing,
        destroys=destroyed_paths(the_plan.actionable, live, desired),
        values=values_json(the_plan.changes),
    )


def graph(host: Host, paths: list[str], options: PlanOptions) -> str:
    """The plan's graph in DOT, for graphviz."""
    from xenctl.reconcile.render import render_dot

    live = host.driver.snapshot()
    return render_dot(make_plan_for(live, desired_state(host, paths, live), options, host.autostart))
