"""``xenctl watch``: new entries start, specs apply once whole, bad files change nothing, SIGTERM stops."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers import domain as domain_config
from tests.reconcile.support import connect, ok, xenctl
from xenctl.autostart.settle import Burst
from xenctl.autostart.watch import Batch, Watcher, unfinished
from xenctl.engine.api import HostInfo
from xenctl.reconcile.walker import STOPPING, Outcome, walk
from xenctl.xmconfig.auto import AutoDir, Ordering, render_entry

CONFIG = 'kernel = "/boot/vmlinuz-2.6.18-xen"\nmemory = 128\nname = "{name}"\n'
SPEC = (ROOT / "specs" / "examples" / "image-file" / "gtes11vm.yaml").read_text()


class Watching:
    """A real ``xenctl watch`` process, its output read line by line as it comes."""

    def __init__(self, home: Path, xen_root: Path, *args: str) -> None:
        env = {**os.environ, "XENCTL_HOME": str(home), "XENCTL_TIME_SCALE": "0", "XENCTL_XEN_ROOT": str(xen_root)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "xenctl", "watch", "--quiet", "0.2", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {timeout}s; saw:\n" + "\n".join(self.seen))

    def drain(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=0.05))
            except queue.Empty:
                continue
        return self.seen

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


@pytest.fixture
def watching(tmp_path: Path, xen_root: Path) -> Iterator[Callable[..., Watching]]:
    """Start a ``xenctl watch`` (arguments as given) and wait until it watches; killed at the end."""
    started: list[Watching] = []

    def start(home: Path, root: Path, *args: str) -> Watching:
        watcher = Watching(home, root, *args)
        started.append(watcher)
        watcher.wait_for("Watching")
        return watcher

    yield start
    for w in started:
        if w.process.poll() is None:
            w.process.kill()
            w.process.wait()


def domains(home: Path) -> set[str]:
    with connect(home) as host:
        return {d.name for d in host.snapshot().domains}


def wait_until(check: object, timeout: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - began
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s")


def test_a_config_dropped_into_auto_starts_its_domain_within_two_seconds(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    (xen_root / "auto").mkdir(parents=True)
    watcher = watching(home, xen_root)

    (xen_root / "auto" / "web9").write_text(CONFIG.format(name="web9"))
    took = wait_until(lambda: "web9" in domains(home), timeout=5)

    assert took < 2.0
    watcher.wait_for("web9: started")
    assert watcher.stop() == 0
    assert watcher.wait_for("Stopped.")


def test_on_start_an_unbooted_host_at_runlevel_3_is_booted(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    (xen_root / "auto").mkdir(parents=True)
    for name in ("a1", "a2"):
        (xen_root / "auto" / name).write_text(CONFIG.format(name=name))
    watching(home, xen_root)

    assert {"a1", "a2"} <= domains(home)
    with connect(home) as host:
        assert host.snapshot().host.booted


def test_a_new_entry_at_runlevel_0_waits_for_the_next_boot(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    ok(xenctl(home, "halt"))
    (xen_root / "auto").mkdir(parents=True)
    watcher = watching(home, xen_root)

    (xen_root / "auto" / "late").write_text(CONFIG.format(name="late"))
    watcher.wait_for("start at the next boot")
    assert "late" not in domains(home)


def test_a_spec_written_in_two_steps_is_applied_once_when_whole(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    ok(xenctl(home, "host", "init"))
    specs.mkdir()
    watcher = watching(home, xen_root, "--specs", str(specs))

    cut = SPEC.index("\n", len(SPEC) // 2) - 3  # mid-line: the writer is not done
    (specs / "vm.yaml").write_text(SPEC[:cut])
    time.sleep(0.6)  # longer than the quiet period: the half file is seen on its own
    (specs / "vm.yaml").write_text(SPEC)
    watcher.wait_for("Apply complete")
    lines = watcher.drain(1.5)

    assert sum("specs changed" in line for line in lines) == 1, "\n".join(lines)
    with connect(home) as host:
        creates = [e for e in host.events() if e.op == "create" and e.obj == "gtes11vm"]
        assert len(creates) == 1
        domain = host.domain("gtes11vm")
    assert domain.config.root == "/dev/sda1 ro"  # the whole file's, not the half's


def test_a_spec_that_does_not_load_is_reported_and_changes_nothing_until_it_is_mended(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    ok(xenctl(home, "host", "init"))
    specs.mkdir()
    watcher = watching(home, xen_root, "--specs", str(specs))

    (specs / "vm.yaml").write_text(SPEC.replace("memory: 256M", "memory: 256 MB"))
    watcher.wait_for("is not a memory size")
    assert "gtes11vm" not in domains(home)

    (specs / "vm.yaml").write_text(SPEC)
    watcher.wait_for("Apply complete")
    assert "gtes11vm" in domains(home)


def test_editors_temporary_files_and_reads_trigger_nothing(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    ok(xenctl(home, "host", "init"))
    specs.mkdir()
    (specs / "vm.yaml").write_text(SPEC)
    watcher = watching(home, xen_root, "--specs", str(specs))
    before = len(watcher.seen)

    (specs / ".vm.yaml.swp").write_text("vim's swap")
    (specs / "vm.yaml~").write_text(SPEC)
    (xen_root / "auto" / "4913").write_text("")
    (specs / "vm.yaml").read_text()
    lines = watcher.drain(1.0)

    assert lines[before:] == []


def test_sigint_stops_the_watcher_cleanly(tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    watcher = watching(home, xen_root)
    watcher.process.send_signal(signal.SIGINT)
    assert watcher.process.wait(timeout=10) == 0
    watcher.wait_for("Stopped.")


# -- the deciding, without threads ------------------------------------------------------------


class Calls:
    def __init__(self, runlevel: int = 3, booted: bool = True) -> None:
        self.runlevel, self.booted = runlevel, booted
        self.booted_files: list[set[str]] = []
        self.applied = 0
        self.said: list[str] = []

    def host(self) -> HostInfo:
        return HostInfo("h", 16384, 0, 1024, 196, True, 0, 8, 64, 0, (), "/", "/", self.runlevel, 0.0, self.booted)

    def boot_new(self, files: set[str]) -> None:
        self.booted_files.append(files)

    def apply(self) -> None:
        self.applied += 1


def make_watcher(xen_root: Path, calls: Calls, specs: Path | None = None) -> Watcher:
    auto = AutoDir(str(xen_root))
    os.makedirs(auto.path, exist_ok=True)
    return Watcher(
        auto,
        [str(specs)] if specs else [],
        host=calls.host,
        boot_new=calls.boot_new,
        apply=calls.apply if specs else None,
        say=calls.said.append,
    )


def test_only_new_and_mended_entries_are_booted(xen_root: Path) -> None:
    calls = Calls()
    (xen_root / "auto").mkdir(parents=True)
    (xen_root / "auto" / "old").write_text(CONFIG.format(name="old"))
    (xen_root / "auto" / "bad").write_text("this is (not a config")
    watcher = make_watcher(xen_root, calls)

    (xen_root / "auto" / "new").write_text(CONFIG.format(name="new"))
    (xen_root / "auto" / "old").write_text(CONFIG.format(name="old") + "vcpus = 2\n")
    (xen_root / "auto" / "bad").write_text(CONFIG.format(name="bad"))
    watcher.handle(Batch(auto=True))

    assert calls.booted_files == [{"new", "bad"}]


def test_a_removed_entry_stops_nothing_and_is_reported(xen_root: Path) -> None:
    calls = Calls()
    (xen_root / "auto").mkdir(parents=True)
    (xen_root / "auto" / "gone").write_text(CONFIG.format(name="gone"))
    watcher = make_watcher(xen_root, calls)
    (xen_root / "auto" / "gone").unlink()
    watcher.handle(Batch(auto=True))
    assert calls.booted_files == []
    assert any("entry gone removed" in line for line in calls.said)


def test_specs_are_not_applied_outside_the_boot_runlevels(xen_root: Path, tmp_path: Path) -> None:
    calls = Calls(runlevel=1, booted=False)
    watcher = make_watcher(xen_root, calls, tmp_path)
    watcher.handle(Batch(specs={str(tmp_path / "a.yaml")}))
    assert calls.applied == 0
    assert any("runlevel 1" in line for line in calls.said)


def test_classify_keeps_spec_files_and_auto_entries_and_drops_the_rest(xen_root: Path, tmp_path: Path) -> None:
    watcher = make_watcher(xen_root, Calls(), tmp_path / "specs")
    auto = xen_root / "auto"
    assert watcher.classify(str(auto / "web1")) == Batch(auto=True)
    assert not watcher.classify(str(auto / ".web1.swp"))
    assert watcher.classify(str(tmp_path / "specs" / "sub" / "a.yaml")).specs
    assert not watcher.classify(str(tmp_path / "specs" / "notes.txt"))
    assert not watcher.classify(str(tmp_path / "elsewhere.yaml"))


def test_a_file_without_its_last_newline_counts_as_unfinished(tmp_path: Path) -> None:
    (tmp_path / "half.yaml").write_text("domains:\n  - name: we")
    (tmp_path / "whole.yaml").write_text("domains: []\n")
    (tmp_path / "empty.yaml").write_text("")
    paths = [str(tmp_path / n) for n in ("half.yaml", "whole.yaml", "empty.yaml", "missing.yaml")]
    assert unfinished(paths) == [str(tmp_path / "half.yaml")]


def test_once_asked_to_stop_the_walk_finishes_what_runs_and_starts_nothing_more() -> None:
    stop = threading.Event()
    ran: list[str] = []

    def run(node: str) -> Outcome:
        ran.append(node)
        if node == "a":
            stop.set()  # SIGTERM arrives while a runs
        return Outcome(node, True)

    outcomes = walk(
        {"a": (), "b": ("a",), "c": ("b",)},
        run,
        lambda node, root: Outcome(node, False, skipped_because=root),
        parallelism=1,
        stop=stop,
    )
    assert ran == ["a"]
    assert outcomes["a"].ok
    assert outcomes["b"].skipped_because == STOPPING
    assert outcomes["c"].skipped_because == STOPPING


def test_a_recreated_auto_directory_is_watched_anew(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    (xen_root / "auto").mkdir(parents=True)
    watching(home, xen_root)

    shutil.rmtree(xen_root / "auto")
    (xen_root / "auto").mkdir()
    time.sleep(0.5)  # the watcher finds the new directory between events
    (xen_root / "auto" / "late").write_text(CONFIG.format(name="late"))
    wait_until(lambda: "late" in domains(home), timeout=5)


def test_entries_the_watchers_own_apply_writes_do_not_start_a_domain_declared_stopped(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home, specs = tmp_path / "home", tmp_path / "specs"
    ok(xenctl(home, "host", "init"))
    specs.mkdir()
    (specs / "cold.yaml").write_text(
        "domains:\n  - {name: cold, kernel: /boot/vmlinuz-2.6.18-xen, state: stopped}\nautostart:\n  - {domain: cold}\n"
    )
    watcher = watching(home, xen_root, "--specs", str(specs))
    assert (xen_root / "auto" / "cold").exists()  # the start-up apply wrote its entry

    (xen_root / "auto" / "other").write_text(CONFIG.format(name="other"))
    wait_until(lambda: "other" in domains(home), timeout=5)
    watcher.drain(0.5)
    assert "cold" not in domains(home)  # it starts with the host, not with the watcher's apply


def test_an_entry_dropped_in_while_the_watchers_apply_runs_is_still_started(xen_root: Path, tmp_path: Path) -> None:
    calls = Calls()
    watcher = make_watcher(xen_root, calls, tmp_path)
    auto = AutoDir(str(xen_root))

    def apply_while_an_entry_is_dropped() -> None:
        auto.write("managed", render_entry(domain_config("managed"), Ordering(), "specs/a.yaml"))
        (xen_root / "auto" / "dropped").write_text(CONFIG.format(name="dropped"))

    watcher.apply = apply_while_an_entry_is_dropped
    watcher.handle(Batch(specs={str(tmp_path / "a.yaml")}))
    assert calls.booted_files == []
    watcher.handle(Batch(auto=True))  # the drop's own events, after the apply

    assert calls.booted_files == [{"dropped"}]  # not the apply's own entry: that is the specs' business


def test_a_hand_placed_entry_removed_while_the_watchers_apply_runs_is_reported(xen_root: Path, tmp_path: Path) -> None:
    calls = Calls()
    (xen_root / "auto").mkdir(parents=True)
    (xen_root / "auto" / "mail").write_text(CONFIG.format(name="mail"))
    watcher = make_watcher(xen_root, calls, tmp_path)
    watcher.apply = lambda: (xen_root / "auto" / "mail").unlink()
    watcher.handle(Batch(specs={str(tmp_path / "a.yaml")}))
    watcher.handle(Batch(auto=True))
    assert any("entry mail removed" in line for line in calls.said)


# -- reacting at once, never to half a file -----------------------------------------------------


def test_an_entry_still_open_for_writing_is_not_acted_on_until_its_writer_closes_it(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    (xen_root / "auto").mkdir(parents=True)
    watcher = watching(home, xen_root, "--quiet", "0.05")

    with open(xen_root / "auto" / "slow", "w", encoding="utf-8") as stream:
        stream.write(CONFIG.format(name="slow")[:20])  # half of it, flushed, the file still open
        stream.flush()
        time.sleep(0.4)
        stream.write(CONFIG.format(name="slow")[20:])  # the whole config, still open
        stream.flush()
        time.sleep(0.6)  # many quiet periods: a plain debounce would have acted by now
        assert watcher.drain(0.1)[-1].startswith("Watching")
        assert "slow" not in domains(home)
    watcher.wait_for("slow: started")
    assert "slow" in domains(home)


def test_a_burst_of_writes_to_an_entry_acts_once(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    (xen_root / "auto").mkdir(parents=True)
    watcher = watching(home, xen_root, "--quiet", "0.05")

    for memory in (64, 96, 128, 160, 192):  # an editor saving five times in a row
        (xen_root / "auto" / "busy").write_text(CONFIG.format(name="busy").replace("128", str(memory)))
    watcher.wait_for("busy: started")
    lines = watcher.drain(0.8)

    assert not [line for line in lines if "busy" in line and "changed" in line]
    with connect(home) as host:
        assert [e.obj for e in host.events() if e.op == "create"] == ["busy"]
        assert host.domain("busy").memory == 192  # the last write's, the one the burst ended with


def test_an_entry_moved_into_place_whole_starts_its_domain(
    tmp_path: Path, xen_root: Path, watching: Callable[..., Watching]
) -> None:
    home = tmp_path / "home"
    ok(xenctl(home, "host", "init"))
    (xen_root / "auto").mkdir(parents=True)
    watcher = watching(home, xen_root, "--quiet", "0.05")

    made = tmp_path / "made-elsewhere"
    made.write_text(CONFIG.format(name="moved"))
    os.rename(made, xen_root / "auto" / "moved")  # an IN_MOVED_TO alone: no write, no close here
    watcher.wait_for("moved: started")


# -- the rules of a burst, on virtual time (xenctl.autostart.settle) ------------------------------


class Files:
    """What the burst asks about files: whether each is whole, whether it is still empty."""

    def __init__(self) -> None:
        self.whole: set[str] = set()
        self.empty: set[str] = set()

    def burst(self, **options: float | bool) -> Burst:
        return Burst(lambda p: p in self.whole, lambda p: p in self.empty, **options)  # type: ignore[arg-type]


def test_a_file_written_and_not_closed_is_never_ready_however_long_it_waits() -> None:
    files = Files()
    burst = files.burst(quiet=0.05, grace=2.0, patience=3.0)
    burst.event("created", "a", 0.0)
    burst.event("modified", "a", 0.001)
    files.whole.add("a")  # it even parses already: its writer has not said it is done
    assert not any(burst.ready(t) for t in (0.06, 1.0, 2.5, 10.0, 3600.0))
    burst.event("closed", "a", 3600.0)
    assert not burst.ready(3600.01)  # the burst's last events may still come
    assert burst.ready(3600.06)
    assert burst.take() == ["a"] and not burst


def test_a_dropped_file_is_ready_one_quiet_period_after_its_close() -> None:
    files = Files()
    files.whole.add("web9")
    burst = files.burst(quiet=0.05)
    for kind, at in (("created", 0.0), ("modified", 0.0001), ("closed", 0.0002)):
        burst.event(kind, "web9", at)
    assert not burst.ready(0.03)
    assert burst.wait(0.03) == pytest.approx(0.0202)
    assert burst.ready(0.0503)


def test_a_burst_of_writes_is_one_burst_ready_once_its_last_write_is_closed() -> None:
    files = Files()
    files.whole.add("a")
    burst = files.burst(quiet=0.05, patience=3.0)
    at = 0.0
    for _ in range(5):
        burst.event("modified", "a", at)
        burst.event("closed", "a", at + 0.001)
        at += 0.01
    burst.event("modified", "a", at)  # a sixth write, not closed yet
    assert not burst.ready(at + 1.0)
    burst.event("closed", "a", at + 1.0)
    assert burst.ready(at + 1.06)
    assert burst.take() == ["a"]
    assert not burst.ready(at + 10.0)  # taken: nothing left to act on


def test_a_closed_file_that_does_not_parse_gets_a_grace_period_then_is_reported() -> None:
    files = Files()
    burst = files.burst(quiet=0.05, grace=2.0)
    burst.event("closed", "half.yaml", 0.0)
    assert not burst.ready(0.1) and not burst.ready(1.9)
    assert burst.ready(2.0)  # acted on: the load reports what is wrong with it
    burst.event("closed", "half.yaml", 0.5)
    files.whole.add("half.yaml")  # a second write made it whole
    assert burst.ready(0.55)


def test_a_file_made_and_still_empty_waits_for_its_first_write_and_one_moved_in_does_not() -> None:
    files = Files()
    files.empty.add("new")
    burst = files.burst(quiet=0.05, grace=2.0)
    burst.event("created", "new", 0.0)
    assert not burst.ready(10.0)
    burst.event("modified", "new", 10.0)
    files.empty.discard("new")
    files.whole.add("new")
    burst.event("closed", "new", 10.01)
    assert burst.ready(10.07)
    burst.take()
    files.whole.add("moved-in")
    burst.event("created", "moved-in", 20.0)  # what a rename from outside the directory looks like
    assert burst.ready(20.05)


def test_a_rename_into_place_is_whole_and_its_source_is_gone() -> None:
    files = Files()
    files.whole.add("vm.yaml")
    burst = files.burst(quiet=0.05)
    burst.event("modified", ".vm.yaml.tmp", 0.0)  # the editor's file, not closed in the events seen
    burst.event("moved", ".vm.yaml.tmp", 0.001, "vm.yaml")
    assert burst.ready(0.06)
    assert burst.take() == [".vm.yaml.tmp", "vm.yaml"]


def test_without_closes_a_write_counts_as_done_after_the_fallback_quiet_period() -> None:
    files = Files()
    files.whole.add("a")
    burst = files.burst(quiet=0.05, closes=False, fallback=1.0)
    burst.event("modified", "a", 0.0)
    assert not burst.ready(0.5)
    assert burst.ready(1.0)


def test_events_that_never_stop_for_a_quiet_period_cannot_starve_the_burst() -> None:
    files = Files()
    files.whole.update({"a", "b"})
    burst = files.burst(quiet=0.05, patience=3.0)
    for step in range(150):  # an event every 20 ms for three seconds
        at = step * 0.02
        burst.event("closed", "a" if at < 1.0 else "b", at)
        assert not burst.ready(at + 0.01)
    burst.event("closed", "a", 3.0)
    assert burst.ready(3.01)  # still no quiet period, but three seconds of events: act
    assert burst.take() == ["a", "b"]


def test_a_file_read_ahead_of_its_events_waits_for_them_and_late_events_do_not_act_twice() -> None:
    files = Files()
    files.whole.add("a")
    stat = {"a": 1}
    burst = Burst(lambda p: p in files.whole, lambda p: False, signature=stat.get, quiet=0.05)
    burst.event("closed", "a", 0.0)
    stat["a"] = 2  # written again; its events not taken in yet
    assert not burst.ready(0.1)
    burst.event("modified", "a", 0.1)
    burst.event("closed", "a", 0.1)
    assert burst.ready(0.2)
    assert burst.take() == ["a"]
    burst.event("closed", "a", 0.3)  # a late event of the write already acted on
    assert burst.ready(0.4)
    assert burst.take() == []  # nothing to act on again
    stat["a"] = 3
    burst.event("closed", "a", 0.5)
    assert burst.ready(0.6) and burst.take() == ["a"]


def test_a_writes_later_events_do_not_apply_its_content_twice_but_a_new_content_does(
    tmp_path: Path, xen_root: Path
) -> None:
    calls = Calls()
    specs = tmp_path / "specs"
    specs.mkdir()
    watcher = make_watcher(xen_root, calls, specs)
    spec = specs / "vm.yaml"
    spec.write_text(SPEC)
    watcher.handle(Batch(specs={str(spec)}))
    watcher.handle(Batch(specs={str(spec)}))  # the same write's close, seen after its apply
    assert calls.applied == 1
    assert sum("specs changed" in line for line in calls.said) == 1
    spec.write_text(SPEC.replace("memory: 256M", "memory: 512M"))
    watcher.handle(Batch(specs={str(spec)}))
    assert calls.applied == 2
