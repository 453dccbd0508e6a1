"""The scripted tour behind ``make demo``: a Xen 3.x administrator's day on a fresh simulated host.

It runs in a temporary home, so it leaves nothing behind. Commands that exist on the command line
are run as ``xenctl ...`` and their output shown; the steps that the command line does not offer yet
call the driver interface directly and say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

from xenctl.engine.api import DiskMode, DomainConfig, DomainDisk, Fault, OnEvent, Vif
from xenctl.engine.sim import SimHost, SystemClock, open_host
from xenctl.errors import XenctlError
from xenctl.units import GIB, MIB

TIME_SCALE = "0.05"  # an 8 s boot takes 0.4 s
KERNEL = "/boot/vmlinuz-2.6.18-xen"
BOLD = "\033[1m" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ""
RESET = "\033[0m" if BOLD else ""


BROKEN_SPEC = """\
domains:
  - name: web1
    memory: 512 MB
    memroy: 512M
    kernel: /boot/vmlinuz-2.6.18-xen
    graphics: no
    disks:
      - {volume: web1-root, vdev: sda1}
"""


def heading(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}")


def xenctl(*args: str) -> None:
    print(f"$ xenctl {' '.join(args)}")
    result = subprocess.run([sys.executable, "-m", "xenctl", *args], capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)


def driver(description: str, action: Callable[[], object]) -> None:
    """A step the command line does not offer yet: call the driver and show what happened."""
    print(f"driver: {description}")
    try:
        action()
    except XenctlError as exc:
        print("  Error: " + exc.message.replace("\n", "\n  "))


def tour(host: SimHost) -> None:
    heading("1. Boot into Xen: Domain-0 is the first domain")
    xenctl("host", "show")
    xenctl("list")

    heading("2. A domain on a physical partition: disk = ['phy:hda3,sda1,w']")
    web = DomainConfig(
        name="gtes11vm",
        memory=512,
        maxmem=1024,
        vcpus=2,
        kernel=KERNEL,
        root="/dev/sda1 ro",
        disks=(DomainDisk("hda3", "sda1", DiskMode.WRITE),),
        vifs=(Vif("xenbr0"),),
    )
    driver("create gtes11vm on phy:hda3 as sda1", lambda: host.create_domain(web))
    xenctl("list")
    host.wait_domain("gtes11vm", "up")
    xenctl("list", "gtes11vm")

    heading("   xend refuses to give one partition read-write to two guests, or one Domain-0 mounts")
    clash = DomainConfig(name="other", memory=256, kernel=KERNEL, disks=(DomainDisk("hda3", "sda1"),))
    driver("create 'other' on phy:hda3 too", lambda: host.create_domain(clash))
    example1 = DomainConfig(name="ExampleDomain", memory=64, kernel=KERNEL, disks=(DomainDisk("hda1", "hda1"),))
    driver("create xmexample1's ExampleDomain on phy:hda1 (Domain-0's root)", lambda: host.create_domain(example1))

    heading("3. LVM: pvcreate /dev/sda10, vgcreate vg, lvcreate -L4096M -n gtesvmdisk1 vg, and a CoW clone")
    driver("vgcreate vg /dev/sda10", lambda: host.create_volume_group("vg", ("/dev/sda10",)))
    driver("lvcreate -L4096M -n gtesvmdisk1 vg", lambda: host.create_logical_volume("vg", "gtesvmdisk1", 4 * GIB))
    driver("mkfs -t ext3 /dev/vg/gtesvmdisk1", lambda: host.format_volume("/dev/vg/gtesvmdisk1", "ext3"))
    driver("copy a root filesystem in", lambda: host.populate_volume("/dev/vg/gtesvmdisk1", "debian-etch root"))
    driver(
        "lvcreate -s -L512M -n clone1 vg/gtesvmdisk1",
        lambda: host.create_snapshot("vg", "clone1", "gtesvmdisk1", 512 * MIB),
    )
    clone = DomainConfig(
        name="clone1",
        memory=256,
        kernel=KERNEL,
        root="/dev/sda1 ro",
        disks=(DomainDisk("vg/clone1", "sda1"),),
        vifs=(Vif(),),
    )
    driver("create clone1 on phy:vg/clone1", lambda: host.create_domain(clone))

    heading("4. An image file: a sparse 2 GB file, mkfs.ext3, file:/var/lib/xen/images/img.img")
    driver("dd a sparse 2G gtes11vm.img", lambda: host.create_image("gtes11vm.img", 2 * GIB))
    driver("mkfs.ext3 gtes11vm.img", lambda: host.format_volume("/var/lib/xen/images/gtes11vm.img", "ext3"))
    image = DomainConfig(
        name="imagevm",
        memory=256,
        kernel=KERNEL,
        root="/dev/sda1 ro",
        disks=(DomainDisk("/var/lib/xen/images/gtes11vm.img", "sda1", backend="file"),),
    )
    driver("create imagevm on file:.../gtes11vm.img (takes one of 8 loop devices)", lambda: host.create_domain(image))

    heading("5. An NFS root: root = '/dev/nfs', nfs_server = '2.3.4.5', nfs_root = '/path/to/root'")
    nfs = DomainConfig(
        name="nfsvm",
        memory=256,
        kernel=KERNEL,
        root="/dev/nfs",
        nfs_server="2.3.4.5",
        nfs_root="/path/to/root",
    )
    driver("create nfsvm", lambda: host.create_domain(nfs))

    heading("6. Day to day: pause, save and restore (a new domid), mem-set, vcpu-set")
    host.wait_domain("gtes11vm", "up")
    driver("pause gtes11vm", lambda: host.pause_domain("gtes11vm"))
    xenctl("list", "gtes11vm")
    driver("unpause gtes11vm", lambda: host.unpause_domain("gtes11vm"))
    save_file = os.path.join(host.home, "gtes11vm.save")
    driver(f"save gtes11vm {save_file}", lambda: host.save_domain("gtes11vm", save_file))
    xenctl("list")
    driver(f"restore {save_file}", lambda: host.restore_domain(save_file))
    driver("mem-set gtes11vm 1024 (its maxmem)", lambda: host.set_memory("gtes11vm", 1024))
    driver("mem-set gtes11vm 2048 (above maxmem)", lambda: host.set_memory("gtes11vm", 2048))
    driver("vcpu-set gtes11vm 4 (above its boot vcpus)", lambda: host.set_vcpus("gtes11vm", 4))

    heading("7. Memory: Domain-0 balloons down to make room, never below dom0-min-mem (196M)")
    big = DomainConfig(name="bigdb", memory=14000, kernel=KERNEL)
    driver("create bigdb with 14000 MiB", lambda: host.create_domain(big))
    xenctl("list")
    driver("create toobig with 2048 MiB", lambda: host.create_domain(DomainConfig(name="toobig", memory=2048)))

    heading("8. Fault injection: a guest that crashes at boot (on_crash=preserve keeps it for a look)")
    crash = Fault(op="create", obj="flaky", kind="crash-at-boot")
    driver("fault: crash-at-boot for 'flaky'", lambda: host.add_fault(crash))
    flaky = DomainConfig(name="flaky", memory=128, kernel=KERNEL, on_crash=OnEvent.PRESERVE)
    driver("create flaky", lambda: host.create_domain(flaky))
    host.wait_domain("flaky", "up")
    xenctl("list", "flaky")

    heading("9. Shut everything down: shutdown is asynchronous, xm shutdown -w waits")
    for name in ("clone1", "imagevm", "nfsvm", "gtes11vm", "bigdb"):
        driver(f"shutdown {name}", lambda name=name: host.shutdown_domain(name))  # type: ignore[misc]
    for name in ("clone1", "imagevm", "nfsvm", "gtes11vm", "bigdb"):
        host.wait_domain(name, "gone", timeout=60)
    xenctl("list")

    heading("10. Every change is in the host's event log")
    xenctl("events", "-n", "12")

    heading("11. Specs: the same host, declared. validate names every mistake's file, line and field")
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs", "examples")
    xenctl("validate", os.path.join(examples, "webfarm"))
    broken = os.path.join(host.home, "web.yaml")
    with open(broken, "w", encoding="utf-8") as stream:
        stream.write(BROKEN_SPEC)
    xenctl("validate", broken)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="xenctl-demo-") as home:
        os.environ["XENCTL_HOME"] = home
        os.environ["XENCTL_TIME_SCALE"] = TIME_SCALE
        print(f"A fresh simulated Xen host in {home} (XENCTL_TIME_SCALE={TIME_SCALE}).")
        host = open_host(home, clock=SystemClock(float(TIME_SCALE)), actor="demo")
        try:
            tour(host)
        finally:
            host.close()
    print("\nThe tour's host is gone with its temporary directory. `make test` runs every check.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
