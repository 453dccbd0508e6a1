"""Plan and apply specs against one libvirt test driver connection.

A ``test:///PATH.xml`` host is private to each connection, and an apply opens one per worker: so
these helpers plan and apply in the test's own process, on the connection the test holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from xenctl.app.options import PlanOptions
from xenctl.app.plans import capacity_of, make_plan_for
from xenctl.engine.api import Driver
from xenctl.reconcile.apply import ApplyResult, apply_plan
from xenctl.reconcile.plan import Plan
from xenctl.spec.load import load_spec_texts
from xenctl.xmconfig.auto import AutoDir

DATA = Path(__file__).parent / "data"


def host_file(name: str) -> str:
    """The URL of one of the host files kept under data/."""
    return f"test://{DATA / name}"


class _Shared:
    """The test's connection, handed to apply's workers, and not closed by them."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    def close(self) -> None:
        return None


def plan_text(driver: Driver, text: str, tmp: Path, auto: AutoDir | None = None, **options: Any) -> Plan:
    """The plan of the spec ``text`` against the host ``driver`` reaches (``auto``: where its
    autostart entries go; a directory of the test's own when not given)."""
    live = driver.snapshot()
    desired = load_spec_texts([(str(tmp / "spec.yaml"), text)], capacity_of(live.host))
    return make_plan_for(live, desired, PlanOptions(**options), auto or AutoDir(str(tmp / "xen")))


def shared(driver: Driver) -> Driver:
    """``driver``, for workers that close what they are given: it stays open."""
    return cast(Driver, _Shared(driver))


def apply_text(driver: Driver, text: str, tmp: Path, auto: AutoDir | None = None, **options: Any) -> ApplyResult:
    plan = plan_text(driver, text, tmp, auto, **options)
    one = shared(driver)
    result = apply_plan(plan, lambda: one, parallelism=1)
    assert result.ok, result.failures
    return result
