"""The service's shared read of the host: requests at once share one snapshot, and a change,
even one made by another process, is seen by the very next read."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import domain
from xenctl.app.host import Settings, connect, sim_url
from xenctl.web.reads import Reads


def test_reads_at_once_share_a_snapshot_and_a_change_elsewhere_is_seen_at_once(home: Path, tmp_path: Path) -> None:
    settings = Settings(xen_root=str(tmp_path / "xen"), time_scale=0, actor="the test")
    reads = Reads(max_age=60.0)
    with connect(sim_url(str(home)), settings) as service, connect(sim_url(str(home)), settings) as terminal:
        first, at = reads.snapshot(service)
        again, at_again = reads.snapshot(service)
        assert again is first and at_again == at  # nothing changed: the same read

        terminal.driver.create_domain(domain("web1", 64))  # another connection, as xenctl in a terminal
        after, _ = reads.snapshot(service)
        assert [d.name for d in after.domains] == ["Domain-0", "web1"]


def test_an_old_read_is_not_kept_past_its_age(home: Path, tmp_path: Path) -> None:
    settings = Settings(xen_root=str(tmp_path / "xen"), time_scale=0, actor="the test")
    reads = Reads(max_age=0.0)
    with connect(sim_url(str(home)), settings) as service:
        first, _ = reads.snapshot(service)
        assert reads.snapshot(service)[0] is not first
