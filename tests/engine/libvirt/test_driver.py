"""The libvirt driver as a user meets it: reached by URI from the command line, its errors one
line quoting libvirt, one line when libvirt-python is missing, and domains kept defined."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.drivers import libvirt_test_host
from tests.helpers import ROOT, run_xenctl
from xenctl.app.host import Settings, connect
from xenctl.engine.api import DomainConfig, Owner, Vif
from xenctl.errors import EngineError, UsageError

OURS = Owner("xenctl", "specs/web.yaml")


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def web1(**fields: object) -> DomainConfig:
    values: dict[str, object] = {"memory": 128, "maxmem": 256, "kernel": "/boot/vmlinuz-2.6.18-xen"}
    values.update(fields)
    return DomainConfig("web1", vifs=(Vif("xenbr0", "00:16:3e:00:00:01"),), **values)  # type: ignore[arg-type]


def test_list_on_libvirts_default_test_host_shows_domain_0_and_its_own_domain_unmanaged(tmp_path: Path) -> None:
    listed = run_xenctl(tmp_path / "home", "-c", "test:///default", "list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert names == ["Domain-0", "test"]
    with connect("test:///default") as host:
        test = host.driver.domain("test")
        assert test.owner is None and test.config.memory == 2048


def test_a_spec_plans_and_applies_on_a_libvirt_host(tmp_path: Path) -> None:
    spec = tmp_path / "web.yaml"
    spec.write_text(
        "domains:\n  - name: web1\n    memory: 128M\n    maxmem: 256M\n"
        "    kernel: /boot/vmlinuz-2.6.18-xen\n    vifs: [{bridge: xenbr0}]\n"
    )
    url = libvirt_test_host(tmp_path / "node")
    applied = run_xenctl(tmp_path / "home", "-c", url, "apply", "--auto-approve", str(spec))
    assert applied.returncode == 0, applied.stderr
    assert "+ domain.web1" in applied.stdout
    assert "Apply complete: 1 done, 0 failed" in applied.stdout


def test_an_unreachable_uri_is_one_line_naming_it(tmp_path: Path) -> None:
    url = f"test://{tmp_path}/no-such-node.xml"
    listed = run_xenctl(tmp_path / "home", "-c", url, "list")
    assert listed.returncode == 1
    assert listed.stderr.count("\n") == 1, listed.stderr
    assert f"cannot connect to {url}: " in listed.stderr
    assert "Traceback" not in listed.stderr


def test_without_libvirt_python_a_libvirt_uri_says_how_to_install_it(tmp_path: Path) -> None:
    missing = (
        "import sys; sys.modules['libvirt'] = None\n"
        "from xenctl.cli.main import main\n"
        "sys.exit(main(['-c', 'qemu:///system', 'list']))\n"
    )
    ran = subprocess.run([sys.executable, "-c", missing], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1, ran.stderr
    assert "pip install 'xenctl[libvirt]'" in ran.stderr and "qemu:///system" in ran.stderr


def test_without_libvirt_python_connecting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libvirt", None)
    with pytest.raises(UsageError, match=r"pip install 'xenctl\[libvirt\]'"):
        connect("test:///default", Settings()).open_driver()


def test_a_libvirt_refusal_is_one_line_quoting_libvirt(tmp_path: Path) -> None:
    with connect(libvirt_test_host(tmp_path)) as host:
        driver = host.driver
        driver.create_domain(web1(), owner=OURS)
        path = str(tmp_path / "web1.save")
        driver.save_domain("web1", path)
        driver.create_domain(web1())
        with pytest.raises(EngineError) as refused:
            driver.restore_domain(path)
    assert "libvirt: " in refused.value.message and "'web1' is already active" in refused.value.message
    assert "\n" not in refused.value.message


def test_a_domain_shut_down_stays_defined_and_is_made_again_under_its_uuid(tmp_path: Path) -> None:
    with connect(libvirt_test_host(tmp_path)) as host:
        driver = host.driver
        first = driver.create_domain(web1(), owner=OURS)
        driver.shutdown_domain("web1")
        assert driver.wait_domain("web1", "gone", timeout=60).reached
        assert driver.snapshot().domain("web1") is None
        defined = driver.conn.lookupByName("web1")  # type: ignore[attr-defined]
        assert not defined.isActive()
        again = driver.create_domain(web1(memory=192))
        assert again.uuid == first.uuid and again.config.memory == 192


def test_memory_set_on_a_running_domain_is_kept_in_its_definition(tmp_path: Path) -> None:
    with connect(libvirt_test_host(tmp_path)) as host:
        driver = host.driver
        driver.create_domain(web1(vcpus=2), owner=OURS)
        driver.set_memory("web1", 200)
        driver.set_vcpus("web1", 1)
        defined = driver.conn.lookupByName("web1").XMLDesc(2)  # type: ignore[attr-defined]  # VIR_DOMAIN_XML_INACTIVE
    assert f"<currentMemory unit='KiB'>{200 * 1024}</currentMemory>" in defined
    assert "current='1'>2</vcpu>" in defined


def test_two_hosts_have_locks_of_their_own(tmp_path: Path) -> None:
    with connect(libvirt_test_host(tmp_path / "a")) as one, connect(libvirt_test_host(tmp_path / "b")) as other:
        held = one.driver.acquire_lock("xenctl apply a/")
        mine = other.driver.acquire_lock("xenctl apply b/")
        assert (one.driver.lock_holder(), other.driver.lock_holder()) == (held, mine)
