"""A QEMU host's guests are kvm only where the CPU can accelerate them: libvirt offers kvm
whenever /dev/kvm opens, which a host without VT-x or AMD-V may do (its kvm guests then hang)."""

from __future__ import annotations

from xenctl.engine.libvirt.accel import domain_type


def capabilities(features: tuple[str, ...], offered: tuple[str, ...] = ("qemu", "kvm")) -> str:
    cpu = "".join(f"<feature name='{name}'/>" for name in features)
    domains = "".join(f"<domain type='{kind}'/>" for kind in offered)
    return (
        f"<capabilities><host><cpu><arch>x86_64</arch>{cpu}</cpu></host>"
        f"<guest><os_type>hvm</os_type><arch name='x86_64'>{domains}</arch></guest></capabilities>"
    )


def test_a_cpu_with_vt_x_or_amd_v_gets_kvm_guests() -> None:
    assert domain_type("qemu", capabilities(("vme", "vmx"))) == "kvm"
    assert domain_type("qemu", capabilities(("svm", "sse4.2"))) == "kvm"


def test_a_cpu_without_them_gets_software_emulation_though_libvirt_offers_kvm() -> None:
    assert domain_type("qemu", capabilities(("vme", "hypervisor", "avx2"))) == "qemu"


def test_a_host_that_offers_no_kvm_gets_software_emulation() -> None:
    assert domain_type("qemu", capabilities(("vmx",), offered=("qemu",))) == "qemu"


def test_xen_and_the_test_driver_keep_their_own_type() -> None:
    assert domain_type("xen", "<not even read/>") == "xen"
    assert domain_type("test", "<not even read/>") == "test"
