"""Every plan is a drift check: what is done by hand shows up as exactly the changes that undo it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reconcile.support import WEBFARM, by_address, converge, ok, plan_json, xenctl

# What is done by hand, and the one change the plan must show: address -> (actions, xenctl action, before, after).
DRIFTS = {
    "destroy": (("destroy", "web1"), {"domain.web1": (["create"], "create", {}, {})}),
    "mem-set": (
        ("mem-set", "db", "1024"),
        {"domain.db": (["update"], "update", {"memory": 1024}, {"memory": 2048})},
    ),
    "pause": (
        ("pause", "web2"),
        {"domain.web2": (["update"], "resume", {"state": "paused"}, {"state": "running"})},
    ),
    "save": (("save", "nfs1", "SAVEFILE"), {"domain.nfs1": (["create"], "create", {}, {})}),
}


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_a_change_by_hand_is_planned_back_exactly_and_apply_restores_the_spec(drift: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    converge(home, [WEBFARM])
    command, expected = DRIFTS[drift]
    ok(xenctl(home, *(str(tmp_path / "nfs1.save") if a == "SAVEFILE" else a for a in command)))

    changes = by_address(plan_json(home, str(WEBFARM)))
    seen = {
        address: (c["change"]["actions"], c["change"]["xenctl_action"], c["change"]["before"], c["change"]["after"])
        for address, c in changes.items()
    }
    assert seen == expected

    ok(xenctl(home, "apply", "--auto-approve", str(WEBFARM)))
    after = xenctl(home, "plan", "--detailed-exitcode", str(WEBFARM))
    assert after.returncode == 0, after.stdout + after.stderr
