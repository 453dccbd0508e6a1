"""The drivers the contract suite runs against, one row each, and what a test gets of one.

A row says how to reach a fresh host of that driver in a temporary directory, which of the
host's own objects the suite may use (physical volumes for a volume group, a partition a guest
may write, a bridge), and what the driver truthfully cannot do beyond what ``capabilities()``
reports: ``lacks`` maps a behaviour of this suite (``persistence``, ``stale_lock_takeover``,
``change_token``) to the reason, and the tests of that behaviour are skipped with it.

The libvirt row reaches libvirt's test driver through a host file of its own per test
(``test:///TMP/node.xml``: a private state per connection, so tests share nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from xenctl.app.host import Host, Settings, connect
from xenctl.engine.api import Capabilities, Driver

# The behaviours a driver may declare it lacks, beyond its capabilities.
BEHAVIOURS = ("persistence", "stale_lock_takeover", "change_token")


@dataclass(frozen=True)
class DriverCase:
    """One driver under contract: how to reach a fresh host and what the suite may use on it."""

    name: str
    url: Callable[[Path], str]  # a fresh host's URL, given a temporary directory of its own
    pvs: tuple[str, ...]  # free physical volumes a volume group may be made on
    guest_disk: str  # a host device no one uses, for a guest's read-write disk
    bridge: str = "xenbr0"
    kernel: str = "/boot/vmlinuz-2.6.18-xen"
    settings: Settings = field(default_factory=lambda: Settings(time_scale=0))  # simulated time: instant
    lacks: Mapping[str, str] = field(default_factory=dict)


# A libvirt test driver host: 2 CPUs, 4 GiB, one network on the bridge xenbr0, no domains, and
# two free 60 GiB partitions (node devices) for a volume group (the test driver makes every pool
# 100 GiB, whatever its devices).
TEST_NODE = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>
       <active>2</active><mhz>2000</mhz><model>x86_64</model></cpu>
  <memory>4194304</memory>
  <network><name>xenbr0</name><bridge name='xenbr0'/></network>
  <device><name>block_sdb1</name><parent>computer</parent>
    <capability type='storage'><block>/dev/sdb1</block><drive_type>disk</drive_type>
      <size>64424509440</size></capability></device>
  <device><name>block_sdc1</name><parent>computer</parent>
    <capability type='storage'><block>/dev/sdc1</block><drive_type>disk</drive_type>
      <size>64424509440</size></capability></device>
</node>
"""


def libvirt_test_host(tmp: Path) -> str:
    """A fresh libvirt test driver host of its own, written into ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    node = tmp / "node.xml"
    node.write_text(TEST_NODE)
    return f"test://{node}"


DRIVERS: tuple[DriverCase, ...] = (
    DriverCase(
        name="sim",
        url=lambda tmp: "sim://" + str(tmp),
        pvs=("/dev/sda10", "/dev/sda12"),
        guest_disk="/dev/hda3",
    ),
    DriverCase(
        name="libvirt-test",
        url=libvirt_test_host,
        pvs=("/dev/sdb1", "/dev/sdc1"),
        guest_disk="/dev/hda3",
        lacks={
            "persistence": "each connection to a test:///PATH.xml host builds its own state from the file",
            "change_token": "libvirt keeps no count of changes, so every plan reads the host",
        },
    ),
)


@dataclass
class Subject:
    """A fresh host of one driver, connected: what every contract test works on."""

    case: DriverCase
    url: str
    host: Host
    others: list[Host] = field(default_factory=list)  # handles ``reconnect`` opened, closed after the test
    double: Driver | None = None  # a driver standing in for the host's (see ``with_driver``)

    @property
    def driver(self) -> Driver:
        return self.double if self.double is not None else self.host.driver

    def with_driver(self, double: Driver) -> Subject:
        """The same host seen through ``double`` (a test double wrapping its driver)."""
        return replace(self, double=double)

    @property
    def capabilities(self) -> Capabilities:
        return self.driver.capabilities()

    def reconnect(self) -> Host:
        """A new handle on the same URL, as the next command would open (closed by the test)."""
        other = connect(self.url, self.case.settings)
        self.others.append(other)
        return other

    def close(self) -> None:
        for handle in (*self.others, self.host):
            handle.close()

    def need(self, behaviour: str) -> None:
        """End a test of a behaviour the driver declares it lacks, once the declaration gives its
        reason: the test then holds by the declaration (``Declined``), and is never skipped."""
        assert behaviour in BEHAVIOURS, f"unknown behaviour {behaviour!r}"
        if behaviour in self.case.lacks:
            assert self.case.lacks[behaviour].strip(), f"{self.case.name} lacks {behaviour} without a reason"
            raise Declined(f"{self.case.name} lacks {behaviour}: {self.case.lacks[behaviour]}")

    def can(self, capability: str) -> None:
        """End a test that needs ``capability`` when the driver denies it, once the denial gives a
        reason (the refusal of its calls is checked in test_capabilities); ``grow:lvm`` and
        ``grow:file`` name the kinds that grow."""
        caps = self.capabilities
        if capability.startswith("grow:"):
            claimed = capability.removeprefix("grow:") in caps.grow
        else:
            claimed = bool(getattr(caps, capability))
        if not claimed:
            reason = caps.reason(capability)
            assert reason != "the host's driver does not offer it", f"{self.case.name} denies {capability} silently"
            raise Declined(f"{self.case.name} cannot do {capability}: {reason}")


class Declined(Exception):
    """A contract test that holds because the driver truthfully declines what it tests (see
    ``Subject.need`` and ``Subject.can``): it passes, with the reason on record."""
