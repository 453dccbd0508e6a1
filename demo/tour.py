"""The scripted tour behind ``make demo``: a Xen 3.x administrator's day on a fresh simulated host.

It runs in a temporary home and a temporary copy of the repository's etc/xen (its auto/ holds the
hand-written autostart entries it boots), so it leaves nothing behind. Every
step is a ``xenctl`` command, shown with its output, except the hand-made storage of the first
part (``vgcreate``, ``lvcreate``, ``dd``, ``mkfs``), which calls the driver interface directly and
says so; the last part declares storage in specs and lets ``xenctl apply`` make it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

from xenctl.engine.sim import SimHost, SystemClock, open_host
from xenctl.errors import XenctlError
from xenctl.units import GIB, MIB

TIME_SCALE = "0.05"  # an 8 s boot takes 0.4 s
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "specs", "examples")
REPO_XEN_ROOT = os.path.join(os.path.dirname(HERE), "etc", "xen")
BOLD = "\033[1m" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ""
RESET = "\033[0m" if BOLD else ""

# /etc/xen as the Xen documentation's administrator has it: xmexample2 saved as myvmconf, and a
# config for each way of giving a domain its disk.
CONFIGS = {
    "myvmconf": """\
#  -*- mode: python; -*-
# xmexample2: one file for many domains; xm create myvmconf vmid=N
def vmid_check(var, val):
    val = int(val)
    if val <= 0:
        raise ValueError
    return val

xm_vars.var('vmid', use="Virtual machine id. Integer greater than 0.", check=vmid_check)
xm_vars.check()

kernel = "/boot/vmlinuz-2.6.10-xenU"
memory = 64
maxmem = 256
name = "VM%d" % vmid
vcpus = 4
vif = [ '' ]
disk = [ 'phy:sda%d,sda1,w' % (7+vmid), 'phy:sda6,sda6,r' ]
root = "/dev/sda1 ro"
extra = "4 VMID=%d usr=/dev/sda6" % vmid
""",
    "gtes11vm": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 512
name = "gtes11vm"
disk = [ 'phy:hda3,sda1,w' ]
root = "/dev/sda1 ro"
vif = [ 'bridge=xenbr0' ]
""",
    "other": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 256
disk = [ 'phy:hda3,sda1,w' ]
""",
    "xmexample1": """\
kernel = "/boot/vmlinuz-2.6.10-xenU"
memory = 64
name = "ExampleDomain"
vif = [ '' ]
disk = [ 'phy:hda1,hda1,w' ]
root = "/dev/hda1 ro"
extra = "4"
""",
    "clone1": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 256
name = "clone1"
disk = [ 'phy:vg/clone1,sda1,w' ]
root = "/dev/sda1 ro"
""",
    "imagevm": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 256
name = "imagevm"
disk = [ 'file:/var/lib/xen/images/gtes11vm.img,sda1,w' ]
root = "/dev/sda1 ro"
""",
    "nfsvm": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 256
name = "nfsvm"
root = "/dev/nfs"
nfs_server = "2.3.4.5"
nfs_root = "/path/to/root"
""",
    "bigdb": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 14000
name = "bigdb"
""",
    "toobig": """\
kernel = "/boot/vmlinuz-2.6.18-xen"
memory = 2048
name = "toobig"
""",
    "evil": """\
import os
os.system("echo this never runs")
name = "evil"
""",
}

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
    """Storage set-up that `xenctl apply` will do from specs: call the driver, show what happened."""
    print(f"driver: {description}")
    try:
        action()
    except XenctlError as exc:
        print("  Error: " + exc.message.replace("\n", "\n  "))


def tour(host: SimHost, home: str) -> None:
    heading("1. Boot into Xen: Domain-0 is the first domain")
    xenctl("host", "show")
    xenctl("list")

    heading("2. xmexample2 as myvmconf: xm create -c myvmconf vmid=1 (the file is read, never run)")
    xenctl("create", "-c", "myvmconf", "vmid=1")
    xenctl("create", "myvmconf", "vmid=2")
    xenctl("create", "--dry-run", "myvmconf", "vmid=3")
    xenctl("list")
    xenctl("create", "evil")

    heading("3. A physical partition: disk = ['phy:hda3,sda1,w'], and xend's sharing check")
    xenctl("create", "gtes11vm")
    xenctl("create", "other")
    xenctl("create", "xmexample1")

    heading("4. LVM: vgcreate vg /dev/sda10, lvcreate -L4096M -n gtesvmdisk1 vg, and a CoW clone")
    driver("vgcreate vg /dev/sda10", lambda: host.create_volume_group("vg", ("/dev/sda10",)))
    driver("lvcreate -L4096M -n gtesvmdisk1 vg", lambda: host.create_logical_volume("vg", "gtesvmdisk1", 4 * GIB))
    driver("mkfs -t ext3 /dev/vg/gtesvmdisk1", lambda: host.format_volume("/dev/vg/gtesvmdisk1", "ext3"))
    driver("copy a root filesystem in", lambda: host.populate_volume("/dev/vg/gtesvmdisk1", "debian-etch root"))
    driver(
        "lvcreate -s -L512M -n clone1 vg/gtesvmdisk1",
        lambda: host.create_snapshot("vg", "clone1", "gtesvmdisk1", 512 * MIB),
    )
    xenctl("create", "clone1")

    heading("5. An image file: a sparse 2 GB file made ext3, file:/var/lib/xen/images/gtes11vm.img")
    driver("dd a sparse 2G gtes11vm.img", lambda: host.create_image("gtes11vm.img", 2 * GIB))
    driver("mkfs.ext3 gtes11vm.img", lambda: host.format_volume("/var/lib/xen/images/gtes11vm.img", "ext3"))
    xenctl("create", "imagevm")

    heading("6. An NFS root: root = '/dev/nfs', nfs_server = '2.3.4.5', nfs_root = '/path/to/root'")
    xenctl("create", "nfsvm")

    heading("7. Day to day: pause, save and restore (a new domid), mem-set, vcpu-set")
    host.wait_domain("VM1", "up")
    xenctl("pause", "VM1")
    xenctl("list", "VM1")
    xenctl("unpause", "VM1")
    save_file = os.path.join(home, "VM1.save")
    xenctl("save", "VM1", save_file)
    xenctl("list")
    xenctl("restore", save_file)
    xenctl("mem-set", "VM1", "256")
    xenctl("mem-set", "VM1", "512")
    xenctl("vcpu-set", "VM1", "8")
    xenctl("vcpu-set", "VM1", "2")
    xenctl("list", "VM1")

    heading("8. Memory: Domain-0 balloons down to make room, never below dom0-min-mem (196M)")
    xenctl("create", "bigdb")
    xenctl("list", "Domain-0", "bigdb")
    xenctl("create", "toobig")

    heading("9. Fault injection: a guest that crashes at boot, kept for a look (on_crash=preserve)")
    xenctl("host", "fault", "add", "create", "flaky", "--kind", "crash-at-boot")
    with open(os.path.join(os.environ["XENCTL_XEN_ROOT"], "flaky"), "w", encoding="utf-8") as stream:
        stream.write('kernel = "/boot/vmlinuz-2.6.18-xen"\nname = "flaky"\non_crash = "preserve"\n')
    xenctl("create", "-c", "flaky")
    xenctl("list", "flaky")
    xenctl("destroy", "flaky")

    heading("10. xentop, then shut everything down: shutdown is asynchronous, -w waits")
    xenctl("top")
    xenctl("shutdown", "-a", "-w")
    xenctl("list")

    heading("11. Every change is in the host's event log")
    xenctl("events", "-n", "8")

    heading("12. Specs: the same ideas, declared. validate names every mistake's file, line and field")
    xenctl("validate", os.path.join(EXAMPLES, "webfarm"))
    broken = os.path.join(home, "web.yaml")
    with open(broken, "w", encoding="utf-8") as stream:
        stream.write(BROKEN_SPEC)
    xenctl("validate", broken)
    xenctl("import", os.path.join(os.environ["XENCTL_XEN_ROOT"], "gtes11vm"), "nfsvm")

    farm = os.path.join(EXAMPLES, "webfarm")
    fresh = os.path.join(os.path.dirname(home), "farm-home")
    on_farm = ("--home", fresh, "--xen-root", os.path.join(os.path.dirname(home), "farm-etc-xen"))
    heading("13. The main job: plan and apply the web farm on a fresh host, in dependency order")
    xenctl(*on_farm, "plan", farm)
    xenctl(*on_farm, "graph", farm)
    xenctl(*on_farm, "apply", "--auto-approve", farm)
    xenctl(*on_farm, "list")

    heading("14. Drift: change the host by hand, and plan shows exactly what puts it back")
    xenctl(*on_farm, "destroy", "web2")
    xenctl(*on_farm, "mem-set", "db", "1024")
    xenctl(*on_farm, "plan", farm)
    xenctl(*on_farm, "apply", "--auto-approve", farm)
    xenctl(*on_farm, "plan", "--detailed-exitcode", farm)

    heading("15. apply wrote the farm's autostart entries: xm config files, marked managed, with their order")
    xenctl(*on_farm, "autostart", "list")

    heading("16. The first host's /etc/xen/auto, written by hand: booted in dependency order, side by side")
    xenctl("autostart", "list")
    xenctl("boot")
    xenctl("list")

    heading("17. Leaving runlevel 3: stop in reverse order; db and mail saved, a hung web2 destroyed")
    xenctl("host", "fault", "add", "shutdown", "web2", "--kind", "ignore-shutdown")
    xenctl("halt")
    xenctl("host", "fault", "clear")
    xenctl("list")

    heading("18. Back to runlevel 3: db and mail come back from their save files (new domids), then the rest start")
    xenctl("runlevel", "3")
    xenctl("list")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="xenctl-demo-") as scratch:
        home = os.path.join(scratch, "home")
        root = os.path.join(scratch, "etc-xen")
        shutil.copytree(REPO_XEN_ROOT, root, symlinks=True)  # the repository's etc/xen, with its auto/
        for name, text in CONFIGS.items():
            with open(os.path.join(root, name), "w", encoding="utf-8") as stream:
                stream.write(text)
        os.environ.update(XENCTL_HOME=home, XENCTL_XEN_ROOT=root, XENCTL_TIME_SCALE=TIME_SCALE)
        print(f"A fresh simulated Xen host in {home}, /etc/xen in {root} (XENCTL_TIME_SCALE={TIME_SCALE}).")
        with open_host(home, clock=SystemClock(float(TIME_SCALE)), actor="demo") as host:
            tour(host, home)
    print("\nThe tour's host is gone with its temporary directory. `make test` runs every check.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
