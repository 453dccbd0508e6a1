"""Two fresh simulated hosts, a and b, in a temporary directory, with instant simulated time:
each has a local disk sda and a SAN disk sdb declared shared, and b's xend takes migrations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from xenctl.app.host import Host, Settings, connect
from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, Vif
from xenctl.engine.sim.profile import profile_from_dict

SETTINGS = Settings(time_scale=0)


def profile_data(name: str, **more: object) -> dict[str, object]:
    return {
        "name": name,
        "disks": {
            "sda": {"size": "100G", "partitions": {"sda1": {"size": "10G"}, "sda2": {"size": "10G"}}},
            "sdb": {"size": "100G", "shared": True, "partitions": {"sdb1": {"size": "10G"}, "sdb2": {"size": "10G"}}},
        },
        **more,
    }


def make_host(tmp: Path, name: str, xend: str | None = "(xend-relocation-server yes)\n", **more: object) -> Host:
    home = tmp / name
    host = connect(f"sim://{home}", SETTINGS)
    host.make_simulated(profile_from_dict(profile_data(name, **more), file=f"{name}.yaml"))
    if xend is not None:
        (home / "etc" / "xen").mkdir(parents=True, exist_ok=True)
        (home / "etc" / "xen" / "xend-config.sxp").write_text(xend)
    return connect(f"sim://{home}", SETTINGS)


def web(name: str = "web1", memory: int = 1024, disks: tuple[DomainDisk, ...] | None = None) -> DomainConfig:
    if disks is None:
        disks = (DomainDisk("/dev/sdb1", "xvda1", DiskMode.WRITE),)
    return DomainConfig(
        name, memory=memory, kernel="/boot/vmlinuz-2.6.18-xen", root="/dev/xvda1 ro", disks=disks,
        vifs=(Vif("xenbr0", "00:16:3e:00:00:11"),),
    )  # fmt: skip


@dataclass
class Pair:
    a: Host
    b: Host
    tmp: Path

    def names(self, host: Host) -> dict[str, str]:
        """Each guest on ``host`` and its state (Domain-0 left out)."""
        return {d.name: d.phase.value for d in host.driver.snapshot().domains if d.domid != 0}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    a, b = make_host(tmp_path, "a"), make_host(tmp_path, "b")
    yield Pair(a, b, tmp_path)
    a.close()
    b.close()
