"""A collector killed with SIGKILL at any moment never changes a closed window.

The driver (:mod:`tests.crash_driver`) is a real process with a real store file, fed a
deterministic stream on a simulated clock; it kills itself at a chosen SQL statement —
inside a batch's transaction, inside a checkpoint, between two — and is started again on
the same store, which it continues from what its ledger says was applied (the broker
redelivers the rest). After several kills the transition log and the availability of
every closed window must equal those of a run that was never killed.

(Before: staleness was dated from a ``last_seen`` saved only on state changes and every
300 s, so after a restart the tick declared devices UNKNOWN from long before the kill and
closed windows lost their up time: 0.936 -> 0.410 for a province window.)
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _drive(store: Path, kill_at: int, seed: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.crash_driver", str(store), str(kill_at), str(seed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _clean(tmp: Path, seed: int) -> dict[str, Any]:
    done = _drive(tmp / f"clean-{seed}.sqlite", 0, seed)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kills_at_random_statements_change_no_closed_window(tmp_path: Path, seed: int) -> None:
    expected = _clean(tmp_path, seed)
    rnd = random.Random(seed)
    store = tmp_path / f"killed-{seed}.sqlite"
    kills = 0
    for _ in range(40):
        # Far enough apart that the driver gets through a few rounds between two kills,
        # near enough that it is killed inside checkpoints and batches alike.
        done = _drive(store, rnd.randint(20, 400), seed)
        if done.returncode == 0:
            break
        assert done.returncode == -9, done.stderr[-3000:]
        kills += 1
    else:
        pytest.fail("the driver never got to the end of the stream")
    got = json.loads(done.stdout)
    assert kills >= 3
    assert got["windows"] == expected["windows"]
    assert got["transitions"] == expected["transitions"]
