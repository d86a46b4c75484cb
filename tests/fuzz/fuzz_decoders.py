"""Coverage-guided fuzzing (atheris) of the decoders of hostile input.

    pip install atheris
    python tests/fuzz/fuzz_decoders.py wire   -max_total_time=300 corpus-wire/
    python tests/fuzz/fuzz_decoders.py config -max_total_time=300 corpus-config/
    python tests/fuzz/fuzz_decoders.py usm    -max_total_time=300 corpus-usm/
    python tests/fuzz/fuzz_decoders.py snmp   -max_total_time=300 corpus-snmp/

``wire``: :func:`agent.wire.decode_batch` must return a batch or raise ``InvalidBatch``.
``config``: every loader must raise ``ConfigError`` and nothing else.
``usm``: the SNMPv3 message parser (:func:`agent.snmp.parse_v3`), then opening the message
with no keys and with authPriv keys (:func:`agent.snmp.open_v3`: digest, decryption,
scoped PDU) and the time-window check, must return or raise ``BerError`` (``UsmFailure``
is one) and nothing else. ``snmp``: the v1/v2c response and notification decoders, and
the trap receiver's whole path from datagram to verdict, likewise. Any other exception
is a finding (atheris stops and writes the input as ``crash-*``). The property tests in
``tests/unit/test_fuzz_*.py``, ``test_snmp_codec.py`` and ``test_traps.py`` run in the
default suite; this harness is for long runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    from netmon.agent import snmp, wire
    from netmon.agent.snmp.codec import PDU_INFORM, PDU_REPORT, PDU_RESPONSE, PDU_TRAP
    from netmon.agent.traps import Sender, TrapValidator
    from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
    from netmon.config.errors import ConfigError
    from netmon.config.loader import load_agent_settings, load_collector_settings, load_credentials, load_inventory
    from netmon.config.secrets import Secret, SecretRef

NOW = 1_800_000_000.0
_tmp = Path(tempfile.mkdtemp(prefix="netmon-fuzz-")) / "input.yaml"


def fuzz_wire(data: bytes) -> None:
    try:
        batch = wire.decode_batch(data, topic_agent="d522", now=NOW)
    except wire.InvalidBatch:
        return
    if batch.agent != "d522" or batch.seq < 0 or batch.v != wire.SCHEMA_VERSION:
        raise AssertionError(f"decode_batch accepted an invalid batch: {batch!r}")


def fuzz_config(data: bytes) -> None:
    _tmp.write_bytes(data)
    for load in (load_inventory, load_credentials, load_agent_settings, load_collector_settings):
        with contextlib.suppress(ConfigError):
            load(_tmp)


ENGINE_ID = b"\x80\x00\x1f\x88\x04fuzz-engine"
KEYS = (
    snmp.UserKeys(),
    snmp.user_keys(AuthProtocol.SHA, PrivProtocol.AES128, b"auth-secret-1", b"priv-secret-1", ENGINE_ID),
    snmp.user_keys(AuthProtocol.SHA512, PrivProtocol.AES256, b"auth-secret-1", b"priv-secret-1", ENGINE_ID),
)
TAGS = (PDU_RESPONSE, PDU_REPORT, PDU_TRAP, PDU_INFORM)


def fuzz_usm(data: bytes) -> None:
    try:
        env = snmp.parse_v3(data)
    except snmp.BerError:
        return
    snmp.RemoteEngine(engine_id=env.engine_id).check(env.boots, env.time, 1000.0)
    for keys in KEYS:
        with contextlib.suppress(snmp.BerError):
            snmp.open_v3(data, env, keys, TAGS)


_REF = SecretRef(value="unused")
TRAPS = TrapValidator(
    snmp.LocalEngine(ENGINE_ID, 9, 0.0),
    {
        "10.0.0.1": [
            Sender(
                "v2", snmp.resolve_profile("v2", SnmpProfile(version="2c", community=_REF), {"community": Secret("c")})
            ),
            Sender(
                "v3",
                snmp.resolve_profile(
                    "v3",
                    SnmpProfile(
                        version="3",
                        user="netmon",
                        auth_protocol=AuthProtocol.SHA,
                        auth_key=_REF,
                        priv_protocol=PrivProtocol.AES128,
                        priv_key=_REF,
                    ),
                    {"auth_key": Secret("auth-secret-1"), "priv_key": Secret("priv-secret-1")},
                ),
            ),
        ]
    },
)


def fuzz_snmp(data: bytes) -> None:
    with contextlib.suppress(snmp.BerError):
        snmp.decode_response(data)
    with contextlib.suppress(snmp.BerError):
        snmp.decode_community_notification(data)
    TRAPS.judge(data, "10.0.0.1", NOW, 1000.0)  # a verdict, never an exception


TARGETS = {"wire": fuzz_wire, "config": fuzz_config, "usm": fuzz_usm, "snmp": fuzz_snmp}


def main() -> None:
    target = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in TARGETS else "wire"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    atheris.Setup(sys.argv, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
