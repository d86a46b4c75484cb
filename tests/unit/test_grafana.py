"""The Grafana dashboards and provisioning files: generated from one source, consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from netmon.collector.glossary import interface_state, term
from netmon.collector.model import State
from netmon.exporters.grafana.dashboards import DATASOURCE_UID, LANGUAGES, build

GRAFANA = Path(__file__).resolve().parents[2] / "exporters" / "grafana"


def test_committed_json_is_what_the_source_generates() -> None:
    """Regenerate with ``python -m exporters.grafana.dashboards --write``."""
    for lang in LANGUAGES:
        files = {
            p.name: json.loads(p.read_text(encoding="utf-8")) for p in (GRAFANA / "dashboards" / lang).glob("*.json")
        }
        assert files == build(lang), lang


def test_dashboards_are_well_formed() -> None:
    uids = set()
    for lang in LANGUAGES:
        for board in build(lang).values():
            assert board["uid"] not in uids
            uids.add(board["uid"])
            assert len(board["uid"]) <= 40  # Grafana's limit
            ids = [p["id"] for p in board["panels"]]
            assert len(ids) == len(set(ids))
            cells: set[tuple[int, int]] = set()
            for p in board["panels"]:
                g = p["gridPos"]
                assert g["x"] >= 0
                assert g["x"] + g["w"] <= 24
                area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
                assert not area & cells, (board["uid"], p["title"])  # no overlapping panels
                cells |= area
                assert p["datasource"]["uid"] == DATASOURCE_UID
                assert all(t["datasource"]["uid"] == DATASOURCE_UID for t in p["targets"])
                refs = [t["refId"] for t in p["targets"]]
                assert len(refs) == len(set(refs))


def test_vietnamese_and_english_titles() -> None:
    vi = [p["title"] for b in build("vi").values() for p in b["panels"]]
    en = [p["title"] for b in build("en").values() for p in b["panels"]]
    assert len(vi) == len(en)
    assert all(a != b for a, b in zip(vi, en, strict=True) if a not in ("netmon",))
    assert "Tỷ lệ xã kết nối" in vi
    assert "Commune coverage" in en


def test_provisioning_files() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "netmon.yaml").read_text(encoding="utf-8"))
    assert [d["uid"] for d in ds["datasources"]] == [DATASOURCE_UID]
    assert ds["datasources"][0]["type"] == "prometheus"
    boards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "netmon.yaml").read_text(encoding="utf-8"))
    paths = [p["options"]["path"] for p in boards["providers"]]
    # One provider per language, each pointing at a directory named like the shipped one.
    assert sorted(Path(p).name for p in paths) == sorted(LANGUAGES)
    assert all((GRAFANA / "dashboards" / Path(p).name).is_dir() for p in paths)


def _panels(lang: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Panels by (file, English title), in the given language."""
    en = {name: [p["title"] for p in board["panels"]] for name, board in build("en").items()}
    assert all(len(set(titles)) == len(titles) for titles in en.values())  # one panel per title
    return {(name, en[name][i]): p for name, board in build(lang).items() for i, p in enumerate(board["panels"])}


def test_coverage_turns_red_below_the_target() -> None:
    for lang in LANGUAGES:
        panels = _panels(lang)
        for key in (
            ("netmon-province.json", "Commune coverage"),
            ("netmon-province.json", "Worst districts by coverage"),
            ("netmon-district.json", "Commune coverage"),
        ):
            p = panels[key]
            steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert [s["color"] for s in steps] == ["red", "green"], key
            assert steps[1]["value"] == 1  # the default target, until the target query answers
            assert p["fieldConfig"]["defaults"]["color"] == {"mode": "thresholds"}
            # The step follows the configured target (netmon_coverage_target_ratio).
            (config,) = [t for t in p["transformations"] if t["id"] == "configFromData"]
            ref = config["options"]["configRefId"]
            (target,) = [t for t in p["targets"] if t["refId"] == ref]
            assert "netmon_coverage_target_ratio" in target["expr"]
            assert config["options"]["mappings"] == [{"fieldName": "Value", "handlerKey": "threshold1"}]


def test_interface_and_device_states_are_words_not_numbers() -> None:
    for lang in LANGUAGES:
        panels = _panels(lang)
        ifs = panels[("netmon-site.json", "Interface status")]["fieldConfig"]["defaults"]["mappings"][0]["options"]
        assert {int(k): v["text"] for k, v in ifs.items()} == {c: interface_state(c, lang) for c in range(1, 8)}
        assert ifs["1"]["color"] == "green"
        assert ifs["2"]["color"] == "red"
        states = panels[("netmon-site.json", "State")]["fieldConfig"]["defaults"]["mappings"][0]["options"]
        assert {v["text"] for v in states.values()} == {term(f"state.{s.value}", lang) for s in State}
    assert interface_state(1, "vi") == "đang hoạt động"


def test_vietnamese_dashboards_have_vietnamese_legends_and_columns() -> None:
    """No English legend in the vi dashboards: static legends differ from the English ones,
    and no legend shows a raw code label (state, window) that the reader would see in English."""
    vi = _panels("vi")
    en = _panels("en")
    for key, p in vi.items():
        for tv, te in zip(p["targets"], en[key]["targets"], strict=True):
            legend = tv["legendFormat"]
            assert "{{state}}" not in legend, (key, legend)
            assert "{{window}}" not in legend, (key, legend)
            static = re.sub(r"\{\{\w+\}\}", "", legend).strip()
            if static and static != "__auto":
                assert legend != te["legendFormat"], (key, legend)
        for t in p.get("transformations", []):
            if t["id"] == "organize":
                names = set(t["options"]["renameByName"].values())
                en_names = {
                    x
                    for e in en[key].get("transformations", [])
                    if e["id"] == "organize"
                    for x in e["options"]["renameByName"].values()
                }
                assert names.isdisjoint(en_names), (key, names & en_names)


def test_units_are_picked_by_name_with_the_code_behind() -> None:
    for lang in LANGUAGES:
        boards = build(lang)
        district = {v["name"]: v for v in boards["netmon-district.json"]["templating"]["list"]}
        assert district["district_name"]["definition"] == "label_values(netmon_district_communes, district_name)"
        assert "hide" not in district["district_name"]
        assert district["district"]["hide"] == 2
        assert 'district_name="$district_name"' in district["district"]["definition"]
        site = {v["name"]: v for v in boards["netmon-site.json"]["templating"]["list"]}
        assert site["commune_name"]["definition"] == "label_values(netmon_device_info, commune_name)"
        assert site["commune_name"]["includeAll"]  # "All": routers above the communes too
        assert 'commune_name=~"$commune_name"' in site["device"]["definition"]


def test_drill_down_links_go_to_the_dashboard_of_the_same_language() -> None:
    for lang in LANGUAGES:
        panels = _panels(lang)
        worst = panels[("netmon-province.json", "Worst districts by coverage")]["fieldConfig"]["defaults"]["links"]
        assert worst[0]["url"].startswith(
            f"/d/netmon-district-{lang}?var-district_name=${{__field.labels.district_name}}"
        )
        for key in (
            ("netmon-province.json", "Disconnected communes, since"),
            ("netmon-province.json", "Devices down now, since"),
            ("netmon-district.json", "Communes"),
            ("netmon-district.json", "Commune availability (1 day)"),
            ("netmon-district.json", "Devices down now, since"),
        ):
            links = panels[key]["fieldConfig"]["defaults"]["links"]
            assert links[0]["url"].startswith(f"/d/netmon-site-{lang}?var-"), key
        uids = {b["uid"] for b in build(lang).values()}
        assert {f"netmon-district-{lang}", f"netmon-site-{lang}"} <= uids


def test_outages_are_whole_counts() -> None:
    p = _panels("vi")[("netmon-site.json", "Outages in the time range")]
    assert "round(increase(netmon_device_outages_total" in p["targets"][0]["expr"]
    assert p["fieldConfig"]["defaults"]["decimals"] == 0
