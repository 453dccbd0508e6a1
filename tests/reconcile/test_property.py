"""For any small spec and any starting host within capacity: one apply converges, and no data is lost.

The starting host is made by a first apply of a different spec (the same domains with other memory, some
volumes of other sizes, a domain and a volume the desired spec drops), then some domains paused by hand.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reconcile.support import KERNEL, apply_in_process, connect, plan_for, write_spec
from xenctl.reconcile.changes import Action

MIB = 1024 * 1024


@dataclass
class Dom:
    name: str
    memory: int
    maxmem: int | None = None
    depends_on: list[str] = field(default_factory=list)
    volume: str | None = None
    mode: str = "r"
    paused: bool = False


@dataclass
class Spec:
    domains: list[Dom]
    volumes: dict[str, int]  # name -> size in MiB

    def text(self) -> str:
        lines = ["storage:", "  volume_groups: [{name: vg, pvs: [/dev/sda10]}]", "  volumes:"]
        for name, size in self.volumes.items():
            lines.append(f"    - {{name: {name}, lvm: {{vg: vg, size: {size}M}}, filesystem: ext3}}")
        if not self.volumes:
            lines[-1] = "  volumes: []"
        lines.append("domains:")
        for d in self.domains:
            lines.append(f"  - name: {d.name}")
            lines.append(f"    memory: {d.memory}M")
            lines.append(f"    kernel: {KERNEL}")
            if d.maxmem:
                lines.append(f"    maxmem: {d.maxmem}M")
            if d.depends_on:
                lines.append(f"    depends_on: [{', '.join(d.depends_on)}]")
            if d.volume:
                lines.append(f"    disks: [{{volume: {d.volume}, vdev: sda1, mode: {d.mode}}}]")
            if d.paused:
                lines.append("    state: paused")
        if not self.domains:
            lines[-1] = "domains: []"
        return "\n".join(lines) + "\n"


memories = st.integers(64, 512)
sizes = st.integers(1, 16).map(lambda k: 32 * k)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Spec, Spec, list[str]]:
    """(the desired spec, the spec the host was first made from, the domains then paused by hand)."""
    count = draw(st.integers(1, 4))
    names = [f"d{i}" for i in range(count)]
    desired: list[Dom] = []
    for i, name in enumerate(names):
        has_volume = draw(st.booleans())
        desired.append(
            Dom(
                name,
                draw(memories),
                maxmem=draw(st.sampled_from([None, 512])),
                depends_on=draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=2)) if i else [],
                volume=f"v{i}" if has_volume else None,
                mode=draw(st.sampled_from(["r", "w"])),
                paused=draw(st.sampled_from([False, False, True])),
            )
        )
    volumes = {d.volume: draw(sizes) for d in desired if d.volume}

    first_volumes = {name: draw(sizes) for name in volumes if draw(st.booleans())}
    if draw(st.booleans()):
        first_volumes["dropped"] = draw(sizes)  # in the first spec only: must be retained
    first: list[Dom] = []
    for dom in desired:
        if not draw(st.booleans()):
            continue
        attach = dom.volume if dom.volume in first_volumes and draw(st.booleans()) else None
        first.append(Dom(dom.name, draw(memories), maxmem=dom.maxmem, volume=attach, mode=dom.mode))
    if draw(st.booleans()):
        first.append(Dom("olddom", draw(memories)))  # managed, then dropped from the specs: deleted
    paused = [d.name for d in first if draw(st.booleans())]
    return Spec(desired, volumes), Spec(first, first_volumes), paused


def _lvs(home: Path) -> dict[str, tuple[int, str]]:
    with connect(home) as host:
        return {lv.name: (lv.size, lv.digest) for lv in host.snapshot().logical_volumes}


def _converges(desired: Spec, first: Spec, paused: list[str], root: Path) -> None:
    home = root / "home"
    first_path = write_spec(root / "first", first.text())
    desired_path = write_spec(root / "desired", desired.text())

    made = apply_in_process(plan_for(home, [first_path]), home)
    assert made.ok, {a: o.error for a, o in made.outcomes.items() if not o.ok}
    with connect(home) as host:
        for name in paused:
            host.pause_domain(name)
    before = _lvs(home)

    result = apply_in_process(plan_for(home, [desired_path]), home)
    assert result.ok, {a: o.error for a, o in result.outcomes.items() if not o.ok}

    after_plan = plan_for(home, [desired_path])
    assert after_plan.actionable == (), [(c.address, c.action, c.fields) for c in after_plan.actionable]
    assert all(c.action is Action.RETAIN for c in after_plan.changes)

    after = _lvs(home)
    written = {d.volume for spec in (first, desired) for d in spec.domains if d.volume and d.mode == "w"}
    for name, (size, digest) in before.items():
        assert name in after, f"volume {name} was removed without --destroy-data"
        assert after[name][0] >= size, f"volume {name} shrank without --destroy-data"
        if name not in written:
            assert after[name][1] == digest, f"volume {name} lost its content without --destroy-data"
    with connect(home) as host:
        live = host.snapshot()
    for dom in desired.domains:
        found = live.domain(dom.name)
        assert found is not None and found.target == dom.memory
        assert (found.phase.value == "paused") == dom.paused


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_apply_then_plan_has_nothing_left_to_do_and_no_volume_loses_data(
    scenario: tuple[Spec, Spec, list[str]],
) -> None:
    desired, first, paused = scenario
    with tempfile.TemporaryDirectory(prefix="xenctl-property-") as root:
        _converges(desired, first, paused, Path(root))
