"""The status page and JSON API over the known-outage scenario (aiohttp test server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from netmon.collector.model import Reader
from netmon.collector.web import build_app
from netmon.config.secrets import Secret
from tests.people_scenario import (
    BA_TO,
    HOUR,
    LY_SON,
    MO_DUC,
    NOW,
    SILENT_AT,
    T0,
    TINH_KHE,
    ba_to_communes,
    engine_at,
    inventory,
    silent_agent_engine,
)

DURING_BA_TO = T0 + 14.5 * HOUR


async def _client(reader: Reader, **kw: object) -> TestClient:
    client = TestClient(TestServer(build_app(reader, **kw)))  # type: ignore[arg-type]
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    c = await _client(engine_at(DURING_BA_TO))
    yield c
    await c.close()


async def test_overview_says_why_ba_to_communes_are_down_in_vietnamese(client: TestClient) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert '<html lang="vi">' in html
    assert "không liên lạc được — đường truyền huyện Ba Tơ mất từ 14:00" in html
    api = await (await client.get("/api/v1/overview")).json()
    assert len(api["down"]) == ba_to_communes(inventory())
    assert api["province"]["counts"]["connected"] == 170 - ba_to_communes(inventory())
    assert {d["root_cause"] for d in api["down"]} == {"d535-r1"}


async def test_english_by_the_switch_kept_in_a_cookie(client: TestClient) -> None:
    resp = await client.get("/", params={"lang": "en"})
    html = await resp.text()
    assert '<html lang="en">' in html
    assert "unreachable — uplink of Ba Tơ district down since 14:00" in html
    assert resp.cookies["lang"].value == "en"
    # The cookie persists the choice on the next request without ?lang=.
    html2 = await (await client.get("/")).text()
    assert '<html lang="en">' in html2
    client.session.cookie_jar.clear()
    # The product speaks Vietnamese unless someone chose English: a browser set to English
    # (as most phones and headless Chromium are) does not choose for the user.
    for header in ("en-US,en;q=0.9", "en-GB,en;q=0.9,vi;q=0.5", "fr"):
        html3 = await (await client.get("/", headers={"Accept-Language": header})).text()
        assert '<html lang="vi">' in html3, header
    api = await (await client.get("/api/v1/overview", headers={"Accept-Language": "en-US"})).json()
    assert api["lang"] == "vi"


async def test_a_collector_configured_for_english_speaks_english() -> None:
    c = await _client(engine_at(DURING_BA_TO), language="en")
    try:
        assert '<html lang="en">' in await (await c.get("/")).text()
        assert '<html lang="vi">' in await (await c.get("/", params={"lang": "vi"})).text()
    finally:
        await c.close()


async def test_district_and_site_pages_show_devices_and_outages() -> None:
    c = await _client(engine_at(T0 + 11 * HOUR))
    try:
        html = await (await c.get(f"/commune/{TINH_KHE}")).text()
        assert "Xã Tịnh Khê" in html
        assert "c21211-cpe1" in html
        assert "mất kết nối" in html
        assert "<svg" in html  # the latency chart
        assert "1 giờ" in html  # the outage lasts 1 h so far
        api = await (await c.get(f"/api/v1/communes/{TINH_KHE}")).json()
        assert api["state"] == "down"
        assert api["outages"][0]["end"] is None
        assert api["outages"][0]["duration_s"] == HOUR
        dist = await (await c.get(f"/district/{BA_TO}")).text()
        assert "Huyện Ba Tơ" in dist
        assert "d535-r1" in dist
    finally:
        await c.close()


async def test_search_without_accents_redirects_to_the_commune(client: TestClient) -> None:
    resp = await client.get("/search", params={"q": "tinh khe"}, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == f"/commune/{TINH_KHE}"
    several = await (await client.get("/search", params={"q": "nghia"})).text()
    assert several.count('href="/commune/') > 5
    api = await (await client.get("/api/v1/search", params={"q": "TINH KHE"})).json()
    assert api["results"][0]["code"] == TINH_KHE


async def test_every_value_is_escaped() -> None:
    c = await _client(engine_at(NOW))
    try:
        html = await (await c.get("/search", params={"q": "<script>alert(1)</script>"})).text()
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        site = await (await c.get("/commune/21010")).text()
        assert "UBND &lt;xã&gt;" in site  # an interface alias from the device
    finally:
        await c.close()


async def test_api_errors_are_json_4xx(client: TestClient) -> None:
    cases = [
        ("/api/v1/communes/99999", 404),
        ("/api/v1/devices/nope", 404),
        ("/api/v1/nothing", 404),
        ("/api/v1/search", 400),
        ("/api/v1/outages?from=yesterday", 400),
        ("/api/v1/outages?from=10&to=5", 400),
        ("/api/v1/availability?scope=planet", 400),
        ("/api/v1/availability?scope=commune", 400),
        ("/api/v1/availability?scope=commune&id=1", 404),
        ("/api/v1/coverage?step=0", 400),
        ("/api/v1/coverage?step=1&from=0&to=1000000", 400),
    ]
    for path, status in cases:
        resp = await client.get(path)
        assert resp.status == status, path
        body = await resp.json()
        assert body["error"], path


async def test_availability_and_coverage_api(client: TestClient) -> None:
    q = {"from": str(T0), "to": str(T0 + 14.5 * HOUR)}
    a = await (await client.get("/api/v1/availability", params={"scope": "district", "id": BA_TO, **q})).json()
    n = ba_to_communes(inventory())
    assert a["availability"]["unreachable_s"] == n * 0.5 * HOUR
    cov = await (await client.get("/api/v1/coverage", params={**q, "step": "3600"})).json()
    assert len(cov["points"]) == 15
    assert cov["points"][10]["connected"] == 169  # 10:00, Tịnh Khê down
    iso = await (
        await client.get("/api/v1/outages", params={"from": "2026-10-01T09:00", "to": "2026-10-01T11:00"})
    ).json()
    assert [o["device"] for o in iso["outages"]] == ["c21211-cpe1"]


async def test_bearer_token_is_required_when_set() -> None:
    c = await _client(engine_at(NOW), token=Secret("s3cret"))
    try:
        assert (await c.get("/api/v1/overview")).status == 401
        assert (await c.get("/")).status == 401
        assert (await c.get("/api/v1/overview", headers={"Authorization": "Bearer wrong"})).status == 401
        ok = await c.get("/api/v1/overview", headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200
    finally:
        await c.close()


async def test_openapi_document_lists_every_api_route(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/overview", "/api/v1/communes/{code}", "/api/v1/search", "/api/v1/coverage"):
        assert path in doc["paths"]
    json.dumps(doc)


async def test_pages_are_small_and_compressed(client: TestClient) -> None:
    resp = await client.get("/", headers={"Accept-Encoding": "gzip"})
    raw = await resp.read()
    assert resp.headers.get("Content-Encoding") == "gzip"
    assert len(raw) < 60_000
    assert "no-store" in resp.headers["Cache-Control"]
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_unknown_pages_and_methods(client: TestClient) -> None:
    resp = await client.get("/commune/99999")
    assert resp.status == 404
    assert "Không tìm thấy" in await resp.text()
    post = await client.post("/api/v1/overview", data=b"x")
    assert post.status == 405
    assert (await post.json())["error"]
    assert (await client.get("/api/v1/districts/%3Cscript%3E")).status == 404


async def test_search_index_follows_an_inventory_reload() -> None:
    from dataclasses import replace

    from netmon.collector.model import Snapshot

    snap = engine_at(NOW).snapshot()

    class Renamed:
        """A reader whose snapshot renames one commune (as after an inventory reload)."""

        def __init__(self, s: Snapshot) -> None:
            self.s = s

        def __getattr__(self, name: str) -> object:
            return getattr(engine_at(NOW), name)

        def snapshot(self) -> Snapshot:
            return self.s

    reader = Renamed(snap)
    c = await _client(reader)  # type: ignore[arg-type]
    try:
        first = await (await c.get("/api/v1/search", params={"q": "tinh khe"})).json()
        assert first["results"][0]["code"] == TINH_KHE
        communes = dict(snap.communes)
        communes[TINH_KHE] = replace(communes[TINH_KHE], name="Phường Tịnh Khê Mới")
        reader.s = replace(snap, communes=communes)
        again = await (await c.get("/api/v1/search", params={"q": "tinh khe moi"})).json()
        assert again["results"][0]["name"] == "Phường Tịnh Khê Mới"
    finally:
        await c.close()


async def test_extra_routes_serve_metrics_beside_the_page() -> None:
    from aiohttp import web
    from prometheus_client import CollectorRegistry
    from prometheus_client.parser import text_string_to_metric_families

    from netmon.exporters.prometheus import SnapshotCollector, metrics_handler

    engine = engine_at(NOW)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(engine.snapshot))
    c = await _client(engine, extra_routes=[web.get("/metrics", metrics_handler(registry))])
    try:
        resp = await c.get("/metrics", headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200
        names = {f.name for f in text_string_to_metric_families(await resp.text())}
        assert "netmon_province_communes_connected" in names
    finally:
        await c.close()


# --- issue 14: what the page and the API say must be true, consistent, in good Vietnamese


@pytest.fixture
async def tinh_khe_down() -> AsyncIterator[TestClient]:
    """11:00: Tịnh Khê's CPE is down since 10:00 (three failed rounds; its SNMP answers too)."""
    c = await _client(engine_at(T0 + 11 * HOUR))
    yield c
    await c.close()


async def test_causes_and_units_in_the_page_language_never_doubled(tinh_khe_down: TestClient) -> None:
    html = await (await tinh_khe_down.get(f"/commune/{TINH_KHE}")).text()
    assert "mất kết nối từ 10:00 — 3 lượt thăm dò liên tiếp không có trả lời (hết thời gian chờ)" in html
    assert "mất kết nối — mất kết nối" not in html
    for english in ("failed rounds", "timeout", " min<", " h ", " d "):
        assert english not in html, english
    assert "đang hoạt động" in html  # an interface that is up; never "lên"
    assert ">lên<" not in html
    api = await (await tinh_khe_down.get(f"/api/v1/communes/{TINH_KHE}")).json()
    dev = api["devices"][0]
    assert dev["cause"] == "3 lượt thăm dò liên tiếp không có trả lời (hết thời gian chờ)"
    assert api["outages"][0]["cause"] == dev["cause"]
    assert [i["oper_status_text"] for i in dev["interfaces"]] == ["đang hoạt động", "đang hoạt động", "không hoạt động"]
    en = await (await tinh_khe_down.get(f"/api/v1/communes/{TINH_KHE}", params={"lang": "en"})).json()
    assert en["devices"][0]["cause"] == "3 failed rounds in a row (timeout)"
    assert en["cause_text"] == "down since 10:00 — 3 failed rounds in a row (timeout)"
    en_html = await (await tinh_khe_down.get(f"/commune/{TINH_KHE}", params={"lang": "en"})).text()
    assert "1 h 00" in en_html


async def test_last_answer_is_the_last_time_it_answered_not_the_last_poll(tinh_khe_down: TestClient) -> None:
    api = await (await tinh_khe_down.get("/api/v1/devices/c21211-cpe1")).json()
    assert api["last_seen"] == T0 + 11 * HOUR - 600  # polled at 10:50 ...
    assert api["last_ok"] == T0 + 10 * HOUR - 600  # ... last answered at 09:50
    html = await (await tinh_khe_down.get(f"/commune/{TINH_KHE}")).text()
    assert '<dt>Trả lời lần cuối</dt><dd class="last-ok">09:50</dd>' in html


async def test_values_older_than_the_last_round_are_marked_stale(tinh_khe_down: TestClient) -> None:
    api = await (await tinh_khe_down.get("/api/v1/devices/c21211-cpe1")).json()
    assert api["probe"] == {"at": T0 + 11 * HOUR - 600, "current": True}  # 100 % loss, of the last round
    assert api["loss_ratio"] == 1.0
    stale = {"at": T0 + 10 * HOUR - 600, "current": False}
    assert api["snmp"] == stale
    assert api["interfaces_measured"] == stale
    html = await (await tinh_khe_down.get(f"/commune/{TINH_KHE}")).text()
    assert '<table class="ifs stale">' in html
    assert "<caption>số liệu cũ lúc 09:50</caption>" in html
    assert '<span class="stale">10 giờ 6 phút <small>(số liệu cũ lúc 09:50)</small></span>' in html  # SNMP uptime
    # Back up: nothing is stale.
    up = await _client(engine_at(T0 + 13 * HOUR))
    try:
        again = await (await up.get("/api/v1/devices/c21211-cpe1")).json()
        assert again["snmp"]["current"]
        assert again["interfaces_measured"]["current"]
        assert again["probe"]["current"]
        assert 'class="stale"' not in await (await up.get(f"/commune/{TINH_KHE}")).text()
    finally:
        await up.close()


@pytest.fixture
async def silent() -> AsyncIterator[TestClient]:
    """03:00, ICMP off (SNMP only), Mộ Đức's agent silent since 02:00."""
    c = await _client(silent_agent_engine())
    yield c
    await c.close()


async def test_snmp_response_time_is_the_latency_when_icmp_is_off(silent: TestClient) -> None:
    api = await (await silent.get("/api/v1/devices/c21211-cpe1")).json()
    assert api["latency_source"] == "snmp"
    assert api["rtt_avg_s"] is None
    assert api["history"]
    assert {p["rtt_avg_s"] for p in api["history"]} == {0.05}
    html = await (await silent.get(f"/commune/{TINH_KHE}")).text()
    assert '<dt>Độ trễ (phản hồi SNMP)</dt><dd class="rtt">50.0 ms' in html
    assert "Thời gian phản hồi SNMP, 24 giờ gần nhất" in html
    assert "<polyline" in html


async def test_a_silent_agent_is_a_monitoring_gap_grouped_under_the_agent(silent: TestClient) -> None:
    mo_duc = [c.code for c in inventory().index.districts[MO_DUC].communes]
    api = await (await silent.get("/api/v1/overview")).json()
    assert api["down"] == []  # nothing is known to be down
    assert len(api["no_data_groups"]) == 1
    group = api["no_data_groups"][0]
    assert group["agent"] == f"agent-d{MO_DUC}"
    assert sorted(c["code"] for c in group["communes"]) == sorted(mo_duc)
    assert group["cause_text"] == "không có dữ liệu giám sát — trạm giám sát huyện Mộ Đức im lặng từ 01:50"
    # The coverage definition stands (a commune nobody hears is not connected) ...
    assert api["province"]["counts"]["connected"] == 170 - len(mo_duc)
    # ... and the gap is shown apart.
    assert api["province"]["no_data"] == len(mo_duc)
    html = await (await silent.get("/")).text()
    assert "Đang mất kết nối (0)" in html
    assert f"Không có dữ liệu giám sát ({len(mo_duc)})" in html
    assert "Mất giám sát, không phải mất kết nối" in html
    assert html.count('<details id="agent-') == 1
    district = await (await silent.get(f"/api/v1/districts/{MO_DUC}")).json()
    assert district["no_data"] == len(mo_duc)
    en = await (await silent.get("/api/v1/overview", params={"lang": "en"})).json()
    assert en["no_data_groups"][0]["cause_text"] == (
        "no monitoring data — the monitoring agent of Mộ Đức district silent since 01:50"
    )
    assert SILENT_AT == T0 + 2 * HOUR


async def test_a_unit_without_communes_has_no_coverage(client: TestClient) -> None:
    api = await (await client.get(f"/api/v1/districts/{LY_SON}")).json()
    assert api["counts"]["communes"] == 0
    assert api["counts"]["coverage_ratio"] is None
    assert api["availability_24h"] is None
    overview = await (await client.get("/api/v1/overview")).json()
    ly_son = next(d for d in overview["districts"] if d["code"] == LY_SON)
    assert ly_son["counts"]["coverage_ratio"] is None
    html = await (await client.get(f"/district/{LY_SON}")).text()
    assert "0/0" not in html
    assert "0.0%" not in html
    assert "không có cấp xã" in html


async def test_outage_tables_name_the_commune(tinh_khe_down: TestClient) -> None:
    api = await (await tinh_khe_down.get("/api/v1/outages")).json()
    (o,) = api["outages"]
    assert (o["device"], o["commune_name"], o["where"]) == ("c21211-cpe1", "Xã Tịnh Khê", "Xã Tịnh Khê")
    district = await (await tinh_khe_down.get("/district/522")).text()
    assert "<tr><td>Xã Tịnh Khê <small><code>c21211-cpe1</code></small>" in district
    ba_to = await _client(engine_at(T0 + 14.5 * HOUR))
    try:
        outages = (await (await ba_to.get("/api/v1/outages", params={"device": "d535-r1"})).json())["outages"]
        assert outages[0]["where"] == "router huyện — Huyện Ba Tơ"
        behind = (await (await ba_to.get("/api/v1/outages", params={"commune": "21484"})).json())["outages"]
        assert behind[0]["cause"] == "do router huyện — Huyện Ba Tơ mất kết nối"
    finally:
        await ba_to.close()


async def test_district_and_site_pages_take_a_time_range(tinh_khe_down: TestClient) -> None:
    later = await _client(engine_at(NOW))
    try:
        # Tịnh Khê's outage (10:00–12:00 on day one) is in the last 7 days and the last 24 hours;
        # a custom range before it has none.
        week = await (await later.get(f"/api/v1/communes/{TINH_KHE}", params={"range": "7d"})).json()
        day = await (await later.get(f"/api/v1/communes/{TINH_KHE}", params={"range": "24h"})).json()
        assert week["range"]["key"] == "7d"
        assert len(week["outages"]) == len(day["outages"]) == 1
        assert day["range"]["availability"] == pytest.approx(22 / 24)
        morning = await (
            await later.get(
                f"/api/v1/communes/{TINH_KHE}", params={"from": "2026-10-01T00:00", "to": "2026-10-01T09:00"}
            )
        ).json()
        assert morning["range"]["key"] == "custom"
        assert morning["outages"] == []
        assert morning["range"]["availability"] == 1.0
        assert all(p["ts"] <= T0 + 9 * HOUR for p in morning["devices"][0]["history"])
        html = await (await later.get(f"/commune/{TINH_KHE}", params={"range": "30d"})).text()
        assert '<a href="?range=30d" class="on" aria-current="true">30 ngày</a>' in html
        assert "Sự cố (30 ngày)" in html
        dist = await (await later.get(f"/district/{BA_TO}", params={"range": "24h"})).text()
        assert "Độ khả dụng (24 giờ)" in dist
        # A whole day by date: the form's date inputs.
        one_day = await (
            await later.get(
                f"/api/v1/districts/{BA_TO}", params={"range": "custom", "from": "2026-10-01", "to": "2026-10-01"}
            )
        ).json()
        assert (one_day["range"]["from"], one_day["range"]["to"]) == (T0, NOW)
        assert (await later.get(f"/district/{BA_TO}", params={"range": "1y"})).status == 400
        assert (
            await later.get(f"/api/v1/districts/{BA_TO}", params={"from": "2026-10-02", "to": "2026-10-01"})
        ).status == 400
    finally:
        await later.close()
