"""Reboots on the site page, its API and ``netmon site``, over the known-outage scenario
(Lê Hồng Phong's CPE restarts between two polls at 05:06 and is never DOWN; Tịnh Khê's
comes back from its outage at 11:58, rebooted)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from rich.console import Console

from netmon.collector.web import build_app
from netmon.site import render_commune
from tests.people_scenario import BOOTS, HOUR, LE_HONG_PHONG, NOW, T0, TINH_KHE, engine_at


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    c = TestClient(TestServer(build_app(engine_at(NOW))))
    await c.start_server()
    yield c
    await c.close()


async def test_a_short_reboot_is_on_the_site_page_with_its_time_and_what_it_was(client: TestClient) -> None:
    api = await (await client.get(f"/api/v1/communes/{LE_HONG_PHONG}", params={"range": "30d"})).json()
    assert api["reboots"]["text"] == "khởi động lại 1 lần trong 30 ngày qua (không đủ lâu để bị tính là mất kết nối)"
    (event,) = api["reboots"]["events"]
    assert event["ts"] == BOOTS["c21010-cpe1"][0]
    assert (event["counted_as"], event["outage"], event["uptime_s"]) == ("up", False, 200.0)
    (dev,) = api["devices"]
    assert dev["reboots"]["count"] == 1
    assert dev["reboots_total"] == 1
    assert dev["last_reboot"] == BOOTS["c21010-cpe1"][0]
    page = await (await client.get(f"/commune/{LE_HONG_PHONG}", params={"range": "30d"})).text()
    assert '<div class="reboots">khởi động lại 1 lần trong 30 ngày qua (không đủ lâu' in page
    assert (
        '<li class="short"><time>05:06 01/10</time> — khởi động lại (không đủ lâu để bị tính là mất kết nối)</li>'
        in page
    )


async def test_a_reboot_that_ended_an_outage_says_it_was_counted(client: TestClient) -> None:
    api = await (await client.get(f"/api/v1/communes/{TINH_KHE}", params={"lang": "en"})).json()
    assert api["reboots"]["text"] == "1 reboot in the last 7 days"
    (event,) = api["reboots"]["events"]
    assert (event["counted_as"], event["outage"], event["note"]) == ("down", True, "counted as down")
    page = await (await client.get(f"/commune/{TINH_KHE}")).text()
    assert '<li class="outage"><time>11:58 01/10</time> — khởi động lại (đã được tính là mất kết nối)</li>' in page


async def test_a_range_without_reboots_says_so_and_a_device_without_uptime_says_nothing(client: TestClient) -> None:
    q = {"range": "custom", "from": str(T0 + 6 * HOUR), "to": str(T0 + 11 * HOUR)}
    api = await (await client.get(f"/api/v1/communes/{LE_HONG_PHONG}", params=q)).json()
    assert api["reboots"]["count"] == 0
    assert api["reboots"]["text"] == "không khởi động lại lần nào từ 06:00 01/10 đến 11:00 01/10"
    # An ICMP-only CPE: its uptime is never read, so no reboot could be seen: no claim.
    other = await (await client.get("/api/v1/communes/21400")).json()
    assert [d["reboots"]["text"] for d in other["devices"]] == [""]
    page = await (await client.get("/commune/21400")).text()
    assert 'class="reboots"' not in page


async def test_netmon_site_lists_the_reboots(client: TestClient) -> None:
    for lang, line in (
        ("vi", r"05:06 01/10 — khởi động lại \(không đủ lâu để bị tính là mất kết nối\)"),
        ("en", r"05:06 01/10 — reboot \(not long enough to be counted as down\)"),
    ):
        api = await (await client.get(f"/api/v1/communes/{LE_HONG_PHONG}", params={"lang": lang})).json()
        console = Console(record=True, width=160, color_system=None)
        console.print(render_commune(api, lang))
        out = console.export_text()
        assert re.search(line, out), out
        assert api["reboots"]["text"] in out
