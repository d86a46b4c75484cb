"""Coverage-guided fuzzing (atheris) of the two decoders of hostile input.

    pip install atheris
    python tests/fuzz/fuzz_decoders.py wire   -max_total_time=300 corpus-wire/
    python tests/fuzz/fuzz_decoders.py config -max_total_time=300 corpus-config/

``wire``: :func:`agent.wire.decode_batch` must return a batch or raise ``InvalidBatch``.
``config``: every loader must raise ``ConfigError`` and nothing else. Any other exception
is a finding (atheris stops and writes the input as ``crash-*``). The property tests in
``tests/unit/test_fuzz_*.py`` run in the default suite; this harness is for long runs.
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
    from netmon.agent import wire
    from netmon.config.errors import ConfigError
    from netmon.config.loader import load_agent_settings, load_collector_settings, load_credentials, load_inventory

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


def main() -> None:
    target = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in ("wire", "config") else "wire"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    atheris.Setup(sys.argv, fuzz_wire if target == "wire" else fuzz_config)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
