"""What reading a libvirt host's storage costs: a test driver host with N logical volumes (a
third of them snapshots) and N/10 image files, each read as pool and volume XML.

The host is a host file (``test:///TMP/node.xml``) with its pools' volumes inline; the figures are
the median ``LibvirtDriver.snapshot()`` (which reads every pool and volume), the same with no
storage (the domains and host facts alone), and their difference per volume.

    python bench/libvirt_storage.py [--volumes N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from xenctl.engine.libvirt.driver import open_driver

GIB = 1024**3


def host_file(volumes: int) -> str:
    lvs = []
    for i in range(volumes):
        backing = f"<backingStore><path>/dev/vg/lv{i - 1}</path></backingStore>" if i % 3 == 2 else ""
        lvs.append(
            f"<volume><name>lv{i}</name><capacity>{GIB}</capacity><allocation>{GIB}</allocation>{backing}</volume>"
        )
    images = [
        f"<volume><name>img{i}.img</name><capacity>{GIB}</capacity><allocation>0</allocation></volume>"
        for i in range(max(1, volumes // 10))
    ]
    return (
        "<node><memory>4194304</memory>"
        "<pool type='logical'><name>vg</name><source><device path='/dev/sdb1'/><name>vg</name></source>"
        f"<target><path>/dev/vg</path></target>{''.join(lvs)}</pool>"
        "<pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target>"
        f"{''.join(images)}</pool></node>"
    )


def median_snapshot(url: str, repeat: int, storage: bool) -> float:
    driver = open_driver(url)
    try:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            if storage:
                driver.snapshot()
            else:
                driver._guests()  # the same host read, without its pools
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        driver.close()


def run(volumes: int = 1000, repeat: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xenctl-bench-") as tmp:
        os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
        node = os.path.join(tmp, "node.xml")
        with open(node, "w") as f:
            f.write(host_file(volumes))
        url = f"test://{node}"
        print(f"reading {volumes} logical volumes and {max(1, volumes // 10)} images, {repeat} times", flush=True)
        whole = median_snapshot(url, repeat, storage=True)
        bare = median_snapshot(url, repeat, storage=False)
        total = volumes + max(1, volumes // 10)
        return {
            "snapshot_with_storage_s": whole,
            "snapshot_without_storage_s": bare,
            "storage_read_per_volume_ms": (whole - bare) / total * 1000,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volumes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for key, value in run(args.volumes, args.repeat).items():
        print(f"{key:>30}: {value:.4f}")


if __name__ == "__main__":
    main()
