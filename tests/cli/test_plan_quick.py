"""``xenctl plan`` answered from the plan cache opens neither the driver nor the live-state model:
the host's change token and journal are read straight from its file (``engine.sim.tokens``). The
answer is the plan the full path gives, and a real change of the host still reaches the driver."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import ROOT, modules_after, run_xenctl

EXAMPLE = ROOT / "specs" / "examples" / "phy-partition"
# What a plan found in the cache must not import: the driver, the model, the planner, the spec
# loader, and ``dataclasses`` (with ``inspect``, a tenth of the whole command's time).
HEAVY = (
    "dataclasses",
    "networkx",
    "jsonschema",
    "yaml",
    "xenctl.engine.api",
    "xenctl.engine.sim.host",
    "xenctl.reconcile.plan",
    "xenctl.spec.load",
    "xenctl.xmconfig.auto",
)


def test_a_cached_plan_after_the_host_changed_and_came_back_imports_no_driver(home: Path) -> None:
    applied = run_xenctl(home, "apply", "--auto-approve", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr
    first = run_xenctl(home, "plan", str(EXAMPLE))
    assert first.returncode == 0 and "No changes" in first.stdout
    out, modules = modules_after(home, "plan", str(EXAMPLE))
    assert out == first.stdout
    assert not modules & set(HEAVY), f"a cached plan imported {sorted(modules & set(HEAVY))}"
    for step in ("pause", "unpause"):  # the host's token moves; its journal says all is back
        assert run_xenctl(home, step, "gtes11vm").returncode == 0
    out, modules = modules_after(home, "plan", str(EXAMPLE))
    assert out == first.stdout
    assert not modules & set(HEAVY), f"a plan after a pause and unpause imported {sorted(modules & set(HEAVY))}"
    assert run_xenctl(home, "mem-set", "gtes11vm", "256").returncode == 0  # a real change
    changed = run_xenctl(home, "plan", str(EXAMPLE))
    assert changed.returncode == 0 and "memory: 256M -> 512M (live)" in changed.stdout


def test_a_cached_plan_follows_an_edited_xend_config(home: Path, tmp_path: Path) -> None:
    """The token carries the bytes of the xend-config.sxp the host runs by: an edit there is a
    new token on the quick path as on the driver's, never the last plan."""
    xen = tmp_path / "xen"
    xen.mkdir()
    env = {"XENCTL_XEN_ROOT": str(xen)}
    (xen / "xend-config.sxp").write_text("(dom0-min-mem 196)\n")
    assert run_xenctl(home, "apply", "--auto-approve", str(EXAMPLE), env=env).returncode == 0
    before, _ = modules_after(home, "plan", str(EXAMPLE), env=env)
    (xen / "xend-config.sxp").write_text("(dom0-min-mem 196\n")  # malformed: the driver must say so
    broken = run_xenctl(home, "plan", str(EXAMPLE), env=env)
    assert broken.returncode == 1 and "xend-config.sxp:1:" in broken.stderr, broken.stderr
    (xen / "xend-config.sxp").write_text("(dom0-min-mem 196)\n")
    after, modules = modules_after(home, "plan", str(EXAMPLE), env=env)
    assert after == before and "No changes" in after
    assert "xenctl.engine.sim.host" not in modules
