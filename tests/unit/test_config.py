"""Configuration: strict loading, errors with file:line:field, both real inventories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.config import geography
from netmon.config.check import check_file
from netmon.config.errors import ConfigError
from netmon.config.inventory import Inventory
from netmon.config.loader import load_agent_settings, load_collector_settings, load_credentials, load_inventory
from netmon.config.secrets import Secret, SecretRef

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
BROKEN = ROOT / "tests" / "data" / "broken-inventory.yaml"


def test_quang_ngai_2021_has_13_districts_and_170_communes() -> None:
    inv = load_inventory(CONFIG / "quang-ngai-2021.yaml")
    assert inv.province.code == "51"
    assert len(inv.districts) == 13
    assert len(inv.index.communes) == 170
    ly_son = next(d for d in inv.districts if "Lý Sơn" in d.name)
    assert ly_son.communes == ()  # no commune level since 2020; its district centre is watched
    assert ly_son.devices


def test_quang_ngai_2025_has_96_communes_and_no_districts() -> None:
    inv = load_inventory(CONFIG / "quang-ngai-2025.yaml")
    assert inv.districts == ()
    assert len(inv.communes) == 96
    assert any(c.name == "Xã Tịnh Khê" for c in inv.communes)
    # every commune device hangs off the province core: no district level is assumed
    assert all(inv.index.commune_district[c] is None for c in inv.index.communes)


def test_national_lists_match_the_official_counts() -> None:
    p21 = geography.provinces("2021")
    assert len(p21) == 63
    assert sum(len(d.children) for p in p21 for d in p.children) == 10051
    assert sum(len(p.children) for p in p21) == 696
    p25 = geography.provinces("2025")
    assert len(p25) == 34
    assert sum(len(p.children) for p in p25) == 3321


def test_broken_inventory_reports_every_problem_with_file_line_field() -> None:
    with pytest.raises(ConfigError) as err:
        load_inventory(BROKEN)
    lines = [str(p) for p in err.value.problems]
    expected = [
        "broken-inventory.yaml:17: districts[0].devices[0].address: invalid address '10.51.35.300'",
        "broken-inventory.yaml:29: districts[0].communes[0].devices[0].colour: unknown field",
        "broken-inventory.yaml:28: districts[0].communes[0].devices[0].parent: unknown device 'ds-ba-to-r1'",
        "broken-inventory.yaml:33: districts[0].communes[1].devices[0].id: duplicate device id 'c21601-cpe1'",
        "broken-inventory.yaml:41: districts[0].communes[1].devices[1].parent: parent cycle: loop-a -> loop-b -> loop-a",
        "broken-inventory.yaml:48: districts[0].communes[1].devices[3].role:",
    ]
    for want in expected:
        assert any(want in line for line in lines), f"{want!r} not in {lines}"


def test_check_config_command_exits_2_and_prints_every_problem() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netmon", "check-config", str(BROKEN)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert out.stderr.count("broken-inventory.yaml:") >= 7
    assert "7 problems found" in out.stderr


def test_check_config_accepts_shipped_examples_without_printing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_SNMP_AUTH_KEY", "very-secret-auth")
    monkeypatch.setenv("NETMON_SNMP_PRIV_KEY", "very-secret-priv")
    monkeypatch.setenv("NETMON_MQTT_PASSWORD", "very-secret-mqtt")
    for name in ("agent.example.yaml", "collector.example.yaml"):
        # the TLS files and state directories they name are the deployed host's
        kind, problems = check_file(CONFIG / name, host=False)
        # the legacy profile's community file lives on the deployed host only
        assert [p for p in problems if "community" not in p.field] == [], problems
    creds = load_credentials(CONFIG / "credentials.example.yaml")
    text = repr(creds) + str(creds.model_dump())
    assert "very-secret" not in text
    assert "env:NETMON_SNMP_AUTH_KEY" in repr(creds.snmp["default"].auth_key)


def test_secret_never_shows_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_SECRET", "hunter2")
    s = SecretRef(env="X_SECRET").resolve()
    assert s.reveal() == "hunter2"
    assert "hunter2" not in f"{s} {s!r} {[s]}"
    assert str(s) == "<secret>"
    assert isinstance(s, Secret)
    with pytest.raises(ValueError, match="X_MISSING is not set"):
        SecretRef(env="X_MISSING").resolve()


def test_settings_paths_are_relative_to_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("agent_id: a1\ninventory: inv.yaml\noutbox: {path: ob.sqlite}\n")
    s = load_agent_settings(tmp_path / "a.yaml")
    assert s.inventory == str(tmp_path / "inv.yaml")
    assert s.outbox.path == str(tmp_path / "ob.sqlite")
    (tmp_path / "c.yaml").write_text("inventory: inv.yaml\nstore: {path: s.sqlite}\n")
    c = load_collector_settings(tmp_path / "c.yaml")
    assert c.store.path == str(tmp_path / "s.sqlite")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("agent_id: a1\ninventory: x\npoll: {interval_s: -1}\n", "a.yaml:3: poll.interval_s"),
        ("agent_id: a1\ninventory: x\nbroker: {url: 'http://x'}\n", "a.yaml:3: broker.url"),
        ("agent_id: A B\ninventory: x\n", "a.yaml:1: agent_id"),
        ("agent_id: a1\ninventory: x\nbrokr: {}\n", "a.yaml:3: brokr: unknown field"),
        ("agent_id: a1\nagent_id: a2\ninventory: x\n", "a.yaml:2: agent_id: duplicate key"),
        ("agent_id: [a1\n", "a.yaml:2: YAML syntax"),
    ],
)
def test_agent_settings_errors_name_line_and_field(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_agent_settings(tmp_path / "a.yaml")
    assert any(needle in str(p) for p in err.value.problems), err.value.problems


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"version": "2c"}, "needs a community"),
        ({"version": 3}, "needs a user"),
        ({"version": 3, "user": "u", "priv_protocol": "AES-128", "priv_key": {"value": "k"}}, "needs authentication"),
        ({"version": 3, "user": "u", "auth_protocol": "SHA"}, "go together"),
        ({"version": "2c", "community": {"value": "c"}, "user": "u"}, "takes no user"),
    ],
)
def test_snmpv3_rules_are_checked_at_load(tmp_path: Path, profile: dict[str, object], message: str) -> None:
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"snmp": {"p": profile}}))
    with pytest.raises(ConfigError, match=message):
        load_credentials(tmp_path / "c.yaml")


def test_unknown_snmp_profile_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "creds.yaml").write_text("snmp:\n  other: {version: 2c, community: {value: x}}\n")
    creds = load_credentials(tmp_path / "creds.yaml")
    with pytest.raises(ConfigError, match="unknown SNMP profile 'default'"):
        load_inventory(CONFIG / "quang-ngai-2025.yaml", creds)


def test_generator_cli_writes_a_loadable_inventory(tmp_path: Path) -> None:
    out = tmp_path / "hn.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netmon",
            "inventory",
            "generate",
            "--province",
            "1",
            "--edition",
            "2025",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    inv = load_inventory(out)
    assert inv.province.code == "01"
    assert all(d.address.endswith(".invalid") for d in inv.index.devices.values())


def test_generator_rejects_unknown_province() -> None:
    with pytest.raises(geography.GeographyError, match="no province with code '99'"):
        geography.generate("99", "2021")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2_000_000))
def test_loopback_addresses_stay_in_127_slash_8_and_off_127_0(n: int) -> None:
    addr = geography.loopback_address("x", n)
    parts = [int(x) for x in addr.split(".")]
    assert parts[0] == 127
    assert parts[1] >= 1
    assert all(0 <= p <= 255 for p in parts)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda kids: (
            st.lists(kids, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["province", "code", "name", "districts", "communes", "devices", "id", "role", "address", "parent"]
                ),
                kids,
                max_size=5,
            )
        ),
        max_leaves=30,
    )
)
def test_inventory_loader_never_crashes_on_arbitrary_yaml(
    tmp_path_factory: pytest.TempPathFactory, data: object
) -> None:
    import yaml

    path = tmp_path_factory.mktemp("fuzz") / "inv.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        inv = load_inventory(path)
    except ConfigError as exc:
        assert all(p.file == str(path) for p in exc.problems)
    else:
        assert isinstance(inv, Inventory)


def test_devices_share_the_names_of_their_fields_set_and_keep_them_apart() -> None:
    inv = Inventory.model_validate(geography.generate("51", "2021"))
    devices = list(inv.index.devices.values())
    # One set per distinct combination, not one per device (memory at national scale).
    assert len({id(d.__pydantic_fields_set__) for d in devices}) < len(devices) / 10
    a, b = [d for d in devices if d.model_fields_set == devices[-1].model_fields_set][:2]
    assert "name" not in a.model_fields_set
    renamed = a.model_copy(update={"name": "đổi tên"})
    assert "name" in renamed.model_fields_set
    assert "name" not in a.model_fields_set
    assert "name" not in b.model_fields_set
    assert "name" not in b.model_dump(exclude_unset=True)
