"""The coverage report over the known-outage scenario: numbers checked against values
computed by hand from the scenario, and each renderer checked for the same numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon.collector import availability as av
from netmon.collector.model import Availability, Outage, State
from netmon.exporters.report import (
    DATA_START_RESOLUTION_S,
    NoData,
    Period,
    PeriodError,
    ReportModel,
    build_report,
    disconnections,
    first_observed,
    period_from,
)
from netmon.exporters.report_render import (
    coverage_chart_rows,
    data_statement,
    partial_warning,
    render_csv,
    render_html,
    write_report,
)
from netmon.exporters.report_xlsx import render_xlsx
from tests.people_scenario import (
    BA_TO,
    DAY,
    HOUR,
    INTERVAL_S,
    LE_HONG_PHONG,
    NOW,
    T0,
    TINH_KHE,
    ba_to_communes,
    engine_at,
    inventory,
    scenario_engine,
)

N = 170


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_report(engine_at(NOW), Period(T0, NOW, "day"), poll_interval_s=INTERVAL_S, availability_target=0.99)


def test_province_numbers_match_the_scenario(model: ReportModel) -> None:
    nb = ba_to_communes(inventory())
    p = model.province
    assert (p.communes, p.provisioned, p.connected_end) == (N, N, N - 1)
    # Tịnh Khê 2 h down, Ba Tơ's communes 1 h unreachable each, Lê Hồng Phong 1 h down at the end.
    assert p.down_s == 2 * HOUR + 1 * HOUR
    assert p.unreachable_s == nb * HOUR
    assert p.unknown_s == 0
    assert p.availability == pytest.approx((N * DAY - (3 + nb) * HOUR) / (N * DAY))
    assert p.time_weighted_coverage == pytest.approx(p.availability)
    assert p.outages == 2 + nb
    assert p.outage_s == (3 + nb) * HOUR
    assert p.meeting_objective == N - 2 - nb


def test_district_numbers_match_the_scenario(model: ReportModel) -> None:
    nb = ba_to_communes(inventory())
    ba_to = next(d for d in model.districts if d.code == BA_TO)
    assert ba_to.communes == nb
    assert ba_to.availability == pytest.approx(23 / 24)
    assert ba_to.time_weighted_coverage == pytest.approx(23 / 24)
    assert (ba_to.outages, ba_to.outage_s, ba_to.meeting_objective) == (nb, nb * HOUR, 0)
    city = next(d for d in model.districts if d.code == "522")
    assert (city.outages, city.outage_s) == (2, 3 * HOUR)
    assert city.connected_end == city.communes - 1
    assert city.meeting_objective == city.communes - 2
    assert sum(d.communes for d in model.districts) == N


def test_worst_communes_and_distribution(model: ReportModel) -> None:
    assert model.worst[0].code == TINH_KHE
    assert model.worst[0].availability == pytest.approx(22 / 24)
    lhp = next(r for r in model.communes if r.code == LE_HONG_PHONG)
    assert not lhp.connected_end
    assert (lhp.outages, lhp.outage_s) == (1, HOUR)
    dist = dict(model.distribution)
    nb = ba_to_communes(inventory())
    assert dist["≥ 99.9%"] == N - 2 - nb
    assert dist["95–99%"] == nb + 1  # 23/24 ≈ 95.8%
    assert dist["90–95%"] == 1  # Tịnh Khê, 22/24 ≈ 91.7%
    # Coverage over time dips to N - nb during Ba Tơ's hour.
    assert min(r for _t, r in model.coverage_series) == pytest.approx((N - nb) / N)


def test_a_period_reaching_past_now_is_cut_at_now() -> None:
    inv = inventory()
    m = build_report(engine_at(NOW), period_from(month="2026-10"), poll_interval_s=INTERVAL_S)
    assert m.data.end == NOW
    assert m.period_open
    assert m.province.connected_end == N - 1
    assert m.province.outages == 2 + ba_to_communes(inv)


def test_time_before_the_first_data_is_stated_not_counted() -> None:
    # Monitoring starts at T0: a report from T0 - 1 day has data for half of its period, and
    # its figures are those of the day with data (not a coverage halved by the day without).
    inv = inventory()
    m = build_report(engine_at(NOW), Period(T0 - DAY, NOW, "2 days"), poll_interval_s=INTERVAL_S)
    assert m.data.start == pytest.approx(T0, abs=DATA_START_RESOLUTION_S)
    assert m.data.end == NOW
    assert m.data.ratio == pytest.approx(0.5, abs=1e-4)
    assert not m.data.complete
    assert m.province.unknown_s == 0
    assert m.province.availability == pytest.approx((N * DAY - (3 + ba_to_communes(inv)) * HOUR) / (N * DAY))
    assert m.province.time_weighted_coverage == pytest.approx(m.province.availability)


def test_a_period_with_minutes_of_data_is_computed_over_them_and_says_so() -> None:
    # 15 minutes of data in October: the figures are those of the 15 minutes (all connected),
    # not a time-weighted coverage of 0.03% beside 170/170 connected.
    engine = scenario_engine(evs=[], until=T0 + 15 * 60)
    m = build_report(engine, period_from(month="2026-10"), poll_interval_s=INTERVAL_S)
    assert (m.data.start, m.data.end) == (T0, T0 + 15 * 60)
    assert m.data.ratio == pytest.approx(15 * 60 / (31 * DAY))
    assert not m.data.complete
    assert m.period_open
    assert m.province.time_weighted_coverage == pytest.approx(1.0)
    assert m.province.connected_end == N
    html = render_html(m, "vi")
    assert "Dữ liệu giám sát chỉ phủ 0.03% kỳ báo cáo: từ 01/10/2026 00:00 đến 01/10/2026 00:15 (15 phút)" in html
    assert "Kỳ báo cáo chưa kết thúc." in html
    assert partial_warning(m, "en") == (
        "warning: monitoring data covers only 0.03% of 2026-10 (from 2026-10-01 00:00 to 2026-10-01 00:15)."
    )
    info = dict(csv.reader(io.StringIO(render_csv(m, "en")["info.csv"])))
    assert info["Data until"] == "2026-10-01 00:15:00"
    assert float(info["Share of the period with data"]) == pytest.approx(m.data.ratio, abs=1e-6)


def test_a_minute_of_data_in_a_month_is_not_zero_percent_of_it() -> None:
    engine = scenario_engine(evs=[], until=T0 + 60)
    m = build_report(engine, period_from(month="2026-10"), poll_interval_s=INTERVAL_S)
    assert m.data.end - m.data.start == pytest.approx(60, abs=DATA_START_RESOLUTION_S)
    assert data_statement(m, "en").startswith("Monitoring data covers only < 0.01% of the period")


def test_a_stopped_collectors_store_says_nothing_after_its_last_sample(tmp_path: Path) -> None:
    # The collector stopped at NOW; a report read from its store a week later must not extend
    # the last states (Lê Hồng Phong down) over the week nobody watched.
    from netmon.collector.engine import Engine
    from netmon.collector.store import SqliteStore
    from tests.people_scenario import Clock, engine_settings

    path = str(tmp_path / "netmon.sqlite")
    scenario_engine(path).close()
    later = Engine(inventory(), engine_settings(path), SqliteStore.open(path), clock=Clock(NOW + 7 * DAY))
    m = build_report(later, period_from(month="2026-10"), poll_interval_s=INTERVAL_S)
    assert m.data.end == NOW
    assert m.data.ratio == pytest.approx(1 / 31)
    lhp = next(r for r in m.communes if r.code == LE_HONG_PHONG)
    assert lhp.outage_s == HOUR
    assert m.province.outage_s == (3 + ba_to_communes(inventory())) * HOUR


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (
            period_from(month="2025-01"),
            "Không có dữ liệu giám sát trong kỳ 2025-01 (01/01/2025 00:00 – 01/02/2025 00:00). "
            "Dữ liệu đầu tiên sau kỳ này: 01/10/2026 00:00.",
        ),
        (
            period_from(month="2026-11"),
            "Không có dữ liệu giám sát trong kỳ 2026-11 (01/11/2026 00:00 – 01/12/2026 00:00). "
            "Dữ liệu gần nhất: 02/10/2026 00:00.",
        ),
        (
            Period(NOW + HOUR, NOW + 2 * HOUR, "later today"),
            "Không có dữ liệu giám sát trong kỳ later today (02/10/2026 01:00 – 02/10/2026 02:00). "
            "Dữ liệu gần nhất: 02/10/2026 00:00.",
        ),
    ],
)
def test_a_period_without_data_is_refused(period: Period, message: str) -> None:
    with pytest.raises(NoData) as exc:
        build_report(engine_at(NOW), period, poll_interval_s=INTERVAL_S)
    assert exc.value.message("vi") == message


def test_an_empty_store_is_refused() -> None:
    with pytest.raises(NoData) as exc:
        build_report(scenario_engine(evs=[], until=T0), period_from(month="2026-10"), poll_interval_s=INTERVAL_S)
    assert exc.value.last_data is None
    assert exc.value.message("en").endswith("The store holds no monitoring data yet.")


class _Timelines:
    """A stand-in Reader answering availability from given commune timelines (pure)."""

    def __init__(self, timelines: dict[str, list[tuple[float, State]]]) -> None:
        self.timelines = timelines

    def availability(self, scope: str, ident: str, start: float, end: float) -> Availability:
        return av.total(av.device_availability(tl, start, end) for tl in self.timelines.values())


@given(st.lists(st.floats(0, 50_000), min_size=1, max_size=4), st.floats(0, 60_000))
def test_first_observed_is_the_first_data_to_the_second(starts: list[float], lo: float) -> None:
    hi = 60_000.0
    reader = _Timelines({str(i): [(t, State.UP), (t + 30, State.UNKNOWN)] for i, t in enumerate(starts)})
    found = first_observed(reader, "51", lo, hi)  # type: ignore[arg-type]
    # The data in [lo, hi): each commune observed over [t, t + 30).
    spans = [(max(t, lo), min(t + 30, hi)) for t in starts if max(t, lo) < min(t + 30, hi)]
    if not spans:
        assert found is None
        return
    first = min(a for a, _b in spans)
    assert found is not None
    assert abs(found - first) <= DATA_START_RESOLUTION_S


def test_the_district_chart_draws_the_time_weighted_coverage(model: ReportModel) -> None:
    # Ba Tơ was connected at the end of the day, but only 23 hours of 24.
    ba_to = next(d for d in model.districts if d.code == BA_TO)
    assert ba_to.coverage_end == 1.0
    assert dict(coverage_chart_rows(model))[ba_to.name] == pytest.approx(23 / 24)
    chart = render_html(model, "en").split('<section class="chart">')[1]
    bar = chart.split(f">{ba_to.name}</text>")[1].split("</text>")[0]
    assert bar.endswith(">95.8%")


def test_a_district_without_communes_has_no_coverage(model: ReportModel) -> None:
    ly_son = next(d for d in model.districts if d.communes == 0)
    assert (ly_son.coverage_end, ly_son.time_weighted_coverage, ly_son.availability) == (None, None, None)
    assert ly_son.name not in dict(coverage_chart_rows(model))
    units = list(csv.reader(io.StringIO(render_csv(model, "en")["units.csv"])))
    col = dict(zip(units[0], next(r for r in units if r[0] == ly_son.code), strict=True))
    assert (col["Commune coverage at end"], col["Time-weighted commune coverage"], col["Availability"]) == ("", "", "")
    html = render_html(model, "en")
    row = html.split(f'data-code="{ly_son.code}"')[1].split("</tr>")[0]
    assert row.count(">–</td>") == 2


def test_works_for_the_2025_structure_without_districts() -> None:
    from netmon.config.loader import load_inventory
    from tests.people_scenario import INVENTORY_PATH

    inv = load_inventory(INVENTORY_PATH.with_name("quang-ngai-2025.yaml"))
    m = build_report(
        scenario_engine(inv=inv, evs=[], until=T0 + 2 * HOUR),
        Period(T0, T0 + 2 * HOUR, "2 h"),
        poll_interval_s=INTERVAL_S,
    )
    assert m.districts == []
    assert m.province.communes == len(inv.communes)
    assert m.province.availability == 1.0
    assert "<svg" in render_html(m, "en")


def test_csv_xlsx_and_html_carry_the_same_numbers(model: ReportModel, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    files = render_csv(model, "en")
    units = list(csv.reader(io.StringIO(files["units.csv"])))
    province = units[-1]
    assert province[0] == "51"
    assert int(province[4]) == model.province.connected_end
    assert float(province[7]) == pytest.approx(model.province.availability, abs=1e-6)
    assert float(province[10]) == pytest.approx(model.province.outage_s / 3600)
    assert len(list(csv.reader(io.StringIO(files["communes.csv"])))) == N + 1

    wb = load_workbook(io.BytesIO(render_xlsx(model, "vi")))
    ws = wb["Đơn vị"]
    last = [c.value for c in ws[ws.max_row]]
    assert last[0] == "51"
    assert last[7] == pytest.approx(model.province.availability)
    assert ws.cell(row=1, column=8).value == "Độ khả dụng"

    html = render_html(model, "vi")
    assert '<html lang="vi">' in html
    assert f"{model.province.availability * 100:.2f}%" in html
    assert "Xã Tịnh Khê" in html
    assert "@media print" in html
    # Self-contained: no stylesheet, script, image or font fetched from anywhere.
    assert "<link" not in html
    assert "<script" not in html
    assert 'src="' not in html
    assert "url(" not in html
    assert "Availability" in render_html(model, "en")

    written = write_report(model, tmp_path, formats=["html", "csv", "xlsx"], lang="en")
    assert len(written) == 7
    assert all(p.stat().st_size > 0 for p in written)


def test_reboots_per_commune_and_unit_with_those_too_short_to_be_outages(model: ReportModel) -> None:
    from openpyxl import load_workbook

    # Lê Hồng Phong's CPE restarted between two polls (never DOWN); Tịnh Khê's came back from its outage.
    rows = {r.code: r for r in model.communes}
    assert (rows[LE_HONG_PHONG].reboots, rows[LE_HONG_PHONG].short_reboots) == (1, 1)
    assert (rows[TINH_KHE].reboots, rows[TINH_KHE].short_reboots) == (1, 0)
    assert sum(r.reboots for r in model.communes) == 2
    city = next(d for d in model.districts if d.code == "522")
    assert (city.reboots, city.short_reboots) == (2, 1)
    assert (model.province.reboots, model.province.short_reboots) == (2, 1)
    assert [r.code for r in model.rebooted] == [LE_HONG_PHONG, TINH_KHE]  # the short one first

    communes = {r["Code"]: r for r in csv.DictReader(io.StringIO(render_csv(model, "en")["communes.csv"]))}
    assert (
        communes[LE_HONG_PHONG]["Reboots"],
        communes[LE_HONG_PHONG]["Reboots not long enough to be counted as down"],
    ) == ("1", "1")
    units = list(csv.DictReader(io.StringIO(render_csv(model, "en")["units.csv"])))
    assert (units[-1]["Reboots"], units[-1]["Reboots not long enough to be counted as down"]) == ("2", "1")

    ws = load_workbook(io.BytesIO(render_xlsx(model, "vi")))["Xã"]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == LE_HONG_PHONG)
    assert row[header.index("Khởi động lại")] == 1
    assert row[header.index("Khởi động lại không đủ lâu để bị tính là mất kết nối")] == 1

    html = render_html(model, "vi")
    assert (
        '<div class="kpi"><span>Khởi động lại</span><b>2</b><span>1 lần không đủ lâu để bị tính là mất kết nối</span></div>'
        in html
    )
    assert "<h2>Các xã có thiết bị khởi động lại nhiều nhất</h2>" in html
    assert f'<tr data-code="{LE_HONG_PHONG}"><td class="l" data-label="Mã">{LE_HONG_PHONG}</td>' in html


@pytest.mark.parametrize(
    ("kw", "start", "end"),
    [
        ({"month": "2026-10"}, "2026-10-01T00:00:00+07:00", "2026-11-01T00:00:00+07:00"),
        ({"month": "2026-12"}, "2026-12-01T00:00:00+07:00", "2027-01-01T00:00:00+07:00"),
        ({"quarter": "2026Q3"}, "2026-07-01T00:00:00+07:00", "2026-10-01T00:00:00+07:00"),
        ({"quarter": "2026Q4"}, "2026-10-01T00:00:00+07:00", "2027-01-01T00:00:00+07:00"),
        ({"start": "2026-10-01", "end": "2026-10-08"}, "2026-10-01T00:00:00+07:00", "2026-10-08T00:00:00+07:00"),
    ],
)
def test_periods(kw: dict[str, str], start: str, end: str) -> None:
    from datetime import datetime

    p = period_from(**kw)
    assert p.start == datetime.fromisoformat(start).timestamp()
    assert p.end == datetime.fromisoformat(end).timestamp()


@pytest.mark.parametrize(
    "kw",
    [
        {"month": "2026-13"},
        {"quarter": "2026Q5"},
        {"start": "2026-10-02", "end": "2026-10-01"},
        {"start": "x", "end": "y"},
        {},
    ],
)
def test_bad_periods_raise(kw: dict[str, str]) -> None:
    with pytest.raises(PeriodError):
        period_from(**kw)


spans = st.lists(st.tuples(st.integers(0, 100), st.integers(1, 50)), max_size=6)


@given(st.lists(spans, min_size=1, max_size=3))
def test_disconnections_are_when_every_access_device_is_out(devs: list[list[tuple[int, int]]]) -> None:
    outs = [[Outage("d", None, None, State.DOWN, float(a), float(a + n)) for a, n in dev] for dev in devs]
    gaps = disconnections(outs, 0.0, 200.0)
    for t in range(200):
        x = t + 0.5
        everyone_out = all(any(o.start <= x < (o.end or 200.0) for o in dev) for dev in outs)
        inside = any(a <= x < b for a, b in gaps)
        assert everyone_out == inside
    assert all(a < b for a, b in gaps)
    assert all(gaps[i][1] < gaps[i + 1][0] for i in range(len(gaps) - 1))
