"""CPU % from CPU time between two reads, and the small graphs of a domain's last minutes."""

from __future__ import annotations

import dataclasses
import re
import time
import xml.etree.ElementTree as ET

from starlette.testclient import TestClient

from xenctl.app.host import Host
from xenctl.web.stats import MAX_SAMPLES, MIN_GAP, WINDOW, Stats, graphs

URL = "sim:///h"


def test_cpu_percent_is_cpu_time_over_the_time_between_two_reads(served: Host) -> None:
    web1 = served.driver.domain("web1")
    stats = Stats()
    stats.record(URL, 1000.0, [dataclasses.replace(web1, cpu_time=10.0)])
    assert stats.cpu_percent(URL, web1) is None  # one read says nothing of a rate
    stats.record(URL, 1002.0, [dataclasses.replace(web1, cpu_time=11.0)])
    assert stats.cpu_percent(URL, web1) == 50.0
    stats.record(URL, 1002.0 + MIN_GAP / 2, [dataclasses.replace(web1, cpu_time=99.0)])  # too soon: no sample
    assert stats.cpu_percent(URL, web1) == 50.0
    again = dataclasses.replace(web1, domid=web1.domid + 7, cpu_time=0.5)  # created again: a new ring
    stats.record(URL, 1004.0, [again])
    assert stats.cpu_percent(URL, again) is None and len(stats.samples(URL, "web1")) == 1


def test_the_ring_is_bounded_in_length_and_in_time(served: Host) -> None:
    web1 = served.driver.domain("web1")
    stats = Stats()
    for i in range(MAX_SAMPLES * 2):
        stats.record(URL, 1000.0 + i * MIN_GAP, [dataclasses.replace(web1, cpu_time=i * 0.1)])
    kept = stats.samples(URL, "web1")
    assert len(kept) <= MAX_SAMPLES and kept[-1].at - kept[0].at <= WINDOW


def test_the_graphs_are_svg_polylines_within_their_box(served: Host) -> None:
    web1 = served.driver.domain("web1")
    stats = Stats()
    for i, cpu in enumerate([0.0, 0.5, 1.5, 1.6]):
        stats.record(URL, 1000.0 + i, [dataclasses.replace(web1, cpu_time=cpu, memory=256 + i * 64)])
    drawn = graphs(stats.samples(URL, "web1"), maxmem=512, vcpus=1)
    for svg in drawn.values():
        (line,) = ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}polyline")
        points = [tuple(map(float, p.split(","))) for p in str(line.get("points")).split()]
        assert all(0 <= x <= 240 and 0 <= y <= 48 for x, y in points)
    assert len(re.findall(r"\d,", drawn["cpu"])) == 3 and len(re.findall(r"\d,", drawn["memory"])) == 4


def test_the_domain_list_shows_cpu_percent_from_its_second_read(client: TestClient) -> None:
    first = client.get("/fragments/domains").text
    assert "<th title=" in first and ">CPU %</th>" in first
    time.sleep(MIN_GAP + 0.1)
    second = client.get("/fragments/domains").text
    row = second[second.index('href="/domains/web1"') :].split("</tr>")[0]
    assert re.search(r'<td class="num">\d+\.\d</td>\s*$', row), row


def test_the_details_page_draws_cpu_and_memory_graphs_and_refreshes_them(client: TestClient) -> None:
    page = client.get("/domains/web1").text
    assert 'hx-trigger="every 2s"' in page and page.count('class="sparkline"') == 2
    time.sleep(MIN_GAP + 0.1)
    live = client.get("/fragments/domains/web1").text
    assert live.count('class="sparkline"') == 2 and "% now)" in live
