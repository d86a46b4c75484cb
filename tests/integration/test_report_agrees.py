"""The report's numbers equal the JSON API's and the Prometheus exposition's for the same
period and snapshot (the scenario's day is exactly the standard 1-day window ending now)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netmon.collector.web import build_app
from netmon.exporters.prometheus import SnapshotCollector
from netmon.exporters.report import Period, ReportModel, build_report
from tests.people_scenario import INTERVAL_S, NOW, T0, engine_at


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_report(engine_at(NOW), Period(T0, NOW, "day"), poll_interval_s=INTERVAL_S)


async def test_report_equals_api(model: ReportModel) -> None:
    client = TestClient(TestServer(build_app(engine_at(NOW))))
    await client.start_server()
    try:
        window = {"from": str(T0), "to": str(NOW)}
        units = [("province", model.province)] + [("district", d) for d in model.districts]
        for scope, row in units:
            params = {"scope": scope, "id": row.code, **window}
            body = await (await client.get("/api/v1/availability", params=params)).json()
            a = body["availability"]
            assert a["ratio"] == pytest.approx(row.availability), row.code
            assert a["unknown_s"] == pytest.approx(row.unknown_s)
            assert a["down_s"] + a["unreachable_s"] == pytest.approx(row.outage_s), row.code
            if row.communes:
                assert body["time_weighted_coverage"] == pytest.approx(row.time_weighted_coverage)
            else:  # no communes, no coverage (the report's None; the API answers 0.0 or None)
                assert row.time_weighted_coverage is None
                assert not body["time_weighted_coverage"]
        for c in model.communes:
            params = {"scope": "commune", "id": c.code, **window}
            body = await (await client.get("/api/v1/availability", params=params)).json()
            assert body["availability"]["ratio"] == pytest.approx(c.availability), c.code
        overview = await (await client.get("/api/v1/overview")).json()
        assert overview["province"]["counts"]["connected"] == model.province.connected_end
        for d in overview["districts"]:
            assert d["counts"]["connected"] == next(r for r in model.districts if r.code == d["code"]).connected_end
        cov = await (await client.get("/api/v1/coverage", params=window)).json()
        assert cov["time_weighted_coverage"] == pytest.approx(model.province.time_weighted_coverage)
    finally:
        await client.close()


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _one(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    found = [value for lab, value in samples if all(lab.get(k) == want for k, want in labels.items())]
    assert len(found) == 1, (labels, found)
    return found[0]


def test_report_equals_prometheus_exposition(model: ReportModel) -> None:
    engine = engine_at(NOW)
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(engine.snapshot))
    s = _samples(generate_latest(registry).decode())
    window = next(
        lab["window"] for lab, _v in s["netmon_province_availability_ratio"] if lab["window"] in ("1d", "24h", "86400")
    )
    assert _one(s["netmon_province_availability_ratio"], window=window) == pytest.approx(model.province.availability)
    assert _one(s["netmon_province_communes_connected"]) == model.province.connected_end
    assert _one(s["netmon_province_communes"]) == model.province.communes
    assert _one(s["netmon_province_communes_provisioned"]) == model.province.provisioned
    for d in model.districts:
        if d.availability is None:  # a district without communes (Lý Sơn): nothing observed, no sample
            assert not [v for lab, v in s["netmon_district_availability_ratio"] if lab["district"] == d.code]
            continue
        assert _one(s["netmon_district_availability_ratio"], district=d.code, window=window) == pytest.approx(
            d.availability
        )
        assert _one(s["netmon_district_communes_connected"], district=d.code) == d.connected_end
    for c in model.communes:
        assert _one(s["netmon_commune_availability_ratio"], commune=c.code, window=window) == pytest.approx(
            c.availability
        )
