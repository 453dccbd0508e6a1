"""Which ``<domain type>`` a libvirt host's guests get: ``kvm`` only where the host can accelerate.

libvirt's QEMU driver offers ``kvm`` guests whenever ``/dev/kvm`` opens, and that is not enough:
a kernel can have ``/dev/kvm`` (a nested host, or one with KVM's software PVM module) on a CPU
without hardware virtualisation, and a ``type='kvm'`` guest there starts but never runs. So a
QEMU host's guests are ``kvm`` when libvirt's capabilities offer ``kvm`` guests *and* list the
host CPU's ``vmx`` (Intel VT-x) or ``svm`` (AMD-V) feature, and ``qemu`` (software emulation)
otherwise. A capabilities document that lists no CPU features at all is taken at its word.

Xen and the test driver have one domain type each: their own.
"""

from __future__ import annotations

from xenctl.engine.libvirt.xml import parse

HARDWARE = frozenset({"vmx", "svm"})  # the CPU features of hardware virtualisation


def domain_type(kind: str, capabilities_xml: str) -> str:
    """The domain type for guests on a host of ``kind`` (libvirt's driver: xen, qemu, test)."""
    if kind not in ("qemu", "kvm"):
        return kind
    root = parse(capabilities_xml, "libvirt's capabilities")
    offered = {d.get("type") for guest in root.findall("guest") for d in guest.iter("domain")}
    features = {f.get("name") for f in root.findall("host/cpu/feature")}
    accelerated = "kvm" in offered and (not features or bool(features & HARDWARE))
    return "kvm" if accelerated else "qemu"
