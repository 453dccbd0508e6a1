"""The host handle: which host a URL names, where its xm configs and caches live, its lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from xenctl.app.host import Settings, connect, parse_url
from xenctl.errors import LockError, UsageError


def test_a_sim_url_names_the_simulated_host_whose_home_is_its_path(tmp_path: Path) -> None:
    where = parse_url(f"sim://{tmp_path}/home")
    assert (where.scheme, where.path) == ("sim", f"{tmp_path}/home")


def test_sim_alone_names_the_default_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XENCTL_HOME", str(tmp_path / "default"))
    assert parse_url("sim://").path == str(tmp_path / "default")


@pytest.mark.parametrize("url", ["lxc:///system", "bogus://x", "://x", "sim", "sim:relative"])
def test_a_url_xenctl_cannot_open_is_refused_naming_what_it_knows(url: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_url(url)
    assert "sim://" in refused.value.message


@pytest.mark.parametrize(
    "url",
    ["xen:///system", "qemu:///session", "qemu+ssh://root@kvm1/system", "test:///default", "test+unix:///default"],
)
def test_a_libvirt_uri_is_handed_to_libvirt_as_it_is(url: str) -> None:
    where = parse_url(url)
    assert (where.url, where.scheme) == (url, url.split(":")[0])


def test_connect_opens_nothing_until_the_host_is_used(tmp_path: Path) -> None:
    home = tmp_path / "home"
    host = connect(f"sim://{home}", Settings(time_scale=0))
    assert not host.exists() and not home.exists()
    assert host.xen_root == str(home / "etc" / "xen")  # known without making the host
    with host:
        assert host.driver.snapshot().domain("Domain-0") is not None
    assert host.exists()


def test_a_xen_root_given_wins_over_the_hosts_own(tmp_path: Path) -> None:
    host = connect(f"sim://{tmp_path / 'home'}", Settings(xen_root=str(tmp_path / "xen")))
    assert host.autostart.path == str(tmp_path / "xen" / "auto")


def test_the_simulated_hosts_caches_live_in_its_home(tmp_path: Path) -> None:
    host = connect(f"sim://{tmp_path / 'home'}")
    assert host.cache_dir == str(tmp_path / "home" / "cache")
    assert host.spec_cache() is None  # reading specs never makes a home
    (tmp_path / "home").mkdir()
    assert host.spec_cache() == str(tmp_path / "home" / "cache" / "specs")


def test_the_lock_is_held_for_the_block_and_refused_to_another_meanwhile(tmp_path: Path) -> None:
    url = f"sim://{tmp_path / 'home'}"
    with connect(url, Settings(time_scale=0)) as first, connect(url, Settings(time_scale=0)) as second:
        with first.locked("xenctl apply by the test"):
            with pytest.raises(LockError) as refused, second.locked("xenctl mem-set"):
                pass
            assert "xenctl apply by the test" in refused.value.message
        with second.locked("xenctl mem-set"):
            assert second.driver.lock_holder() is not None


def test_waiting_for_the_lock_ends_once_asked_to_stop(tmp_path: Path) -> None:
    url = f"sim://{tmp_path / 'home'}"
    stop = threading.Event()
    first, second = connect(url, Settings(time_scale=0)), connect(url, Settings(time_scale=0))
    with first, second, first.locked("xenctl apply by the test"):
        threading.Timer(0.3, stop.set).start()  # the second handle waits while the first holds the lock
        began = time.monotonic()
        with pytest.raises(LockError), second.locked("xenctl watch", timeout=60, stop=stop):
            pass
        assert time.monotonic() - began < 10


def test_only_a_simulated_host_is_made_from_a_profile(tmp_path: Path) -> None:
    from xenctl.engine.sim.profile import default_profile

    host = connect(f"sim://{tmp_path / 'home'}", Settings(time_scale=0))
    assert host.make_simulated(default_profile()) == str(tmp_path / "home")
    assert host.exists()
