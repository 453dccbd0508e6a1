"""The plan's graph as an SVG picture: layered by longest path, coloured by action, escaped, quick."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from starlette.testclient import TestClient

from xenctl.reconcile.changes import Action
from xenctl.web.graph import COLOURS, layers, render_svg

SVG = "{http://www.w3.org/2000/svg}"
SPEC = """\
storage:
  volumes:
    - {name: db1-disk, file: {path: db1.img, size: 1G}}
domains:
  - name: db1
    memory: 128M
    kernel: /boot/vmlinuz-2.6.18-xen
    disks:
      - {volume: db1-disk, vdev: xvda}
"""


def test_each_node_sits_one_layer_after_its_longest_path() -> None:
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("x", "c")]
    assert layers(["a", "b", "c", "x", "alone"], edges) == {"a": 0, "b": 1, "c": 2, "x": 0, "alone": 0}


def test_the_api_draws_the_plans_graph(client: TestClient, specs: Path) -> None:
    (specs / "db1.yaml").write_text(SPEC)
    answer = client.get("/api/v1/plan/graph.svg")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    svg = ET.fromstring(answer.text)
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert labels == ["create domain.db1", "create volume.db1-disk"]
    rects = {r.get("x"): r.get("fill") for r in svg.iter(f"{SVG}rect")}
    assert rects == {"10": COLOURS[Action.CREATE], "300": COLOURS[Action.CREATE]}  # the volume first, then db1
    (line,) = svg.iter(f"{SVG}line")
    assert (line.get("x1"), line.get("x2")) == ("240", "300")


def test_the_plan_page_shows_the_picture(client: TestClient, specs: Path) -> None:
    (specs / "db1.yaml").write_text(SPEC)
    page = client.get("/plan").text
    assert "<svg" in page and "create volume.db1-disk</text>" in page


def test_every_text_is_escaped() -> None:
    hostile = 'domain.<script>alert("x")</script>&'
    drawn = render_svg({hostile: Action.DELETE}, [])
    assert "<script>" not in drawn
    ET.fromstring(drawn)  # still well-formed XML


def test_hundreds_of_changes_draw_in_well_under_a_second() -> None:
    actions = {f"domain.d{i:04d}": Action.CREATE for i in range(800)}
    actions |= {f"volume.v{i:04d}": Action.UPDATE for i in range(800)}
    edges = [(f"volume.v{i:04d}", f"domain.d{i:04d}") for i in range(800)]
    edges += [(f"domain.d{i:04d}", f"domain.d{i + 1:04d}") for i in range(0, 799, 7)]
    started = time.perf_counter()
    drawn = render_svg(actions, edges)
    assert time.perf_counter() - started < 0.3
    assert drawn.count("<rect") == 1600 and drawn.count("<line") == len(edges)
