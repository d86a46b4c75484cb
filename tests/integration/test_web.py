"""The status page and JSON API over the known-outage scenario (aiohttp test server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from netmon.collector.model import Reader
from netmon.collector.web import build_app
from netmon.config.secrets import Secret
from tests.people_scenario import BA_TO, HOUR, NOW, T0, TINH_KHE, ba_to_communes, engine_at, inventory

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


async def test_english_by_query_cookie_and_accept_language(client: TestClient) -> None:
    resp = await client.get("/", params={"lang": "en"})
    html = await resp.text()
    assert '<html lang="en">' in html
    assert "unreachable — uplink of Ba Tơ district down since 14:00" in html
    assert resp.cookies["lang"].value == "en"
    # The cookie persists the choice on the next request without ?lang=.
    html2 = await (await client.get("/")).text()
    assert '<html lang="en">' in html2
    client.session.cookie_jar.clear()
    html3 = await (await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,vi;q=0.5"})).text()
    assert '<html lang="en">' in html3
    html4 = await (await client.get("/", headers={"Accept-Language": "fr"})).text()
    assert '<html lang="vi">' in html4


async def test_district_and_site_pages_show_devices_and_outages() -> None:
    c = await _client(engine_at(T0 + 11 * HOUR))
    try:
        html = await (await c.get(f"/commune/{TINH_KHE}")).text()
        assert "Xã Tịnh Khê" in html
        assert "c21211-cpe1" in html
        assert "mất kết nối" in html
        assert "<svg" in html  # the latency chart
        assert "1 h 00" in html  # the outage lasts 1 h so far
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
