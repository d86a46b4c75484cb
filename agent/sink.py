"""Where the poller puts its samples.

The poller speaks only to :class:`SampleSink`; the MQTT batcher (``agent.publisher``)
implements it, and :class:`JsonlSink` writes JSON lines for tests and offline runs.
A sink never blocks the event loop for long and never raises into the poller: a sink
that cannot keep up drops and counts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

import msgspec

from netmon.agent import wire

log = logging.getLogger(__name__)


@runtime_checkable
class SampleSink(Protocol):
    """Receives every sample the poller produces."""

    def submit(self, sample: wire.Sample) -> None:
        """Take one sample; never blocks and never raises."""


class MemorySink:
    """Keeps samples in a bounded list (tests, ``poll_all_once``, the demo).

    Attributes:
        samples: Samples received, oldest first.
        dropped: Samples dropped because ``limit`` was reached.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self.samples: list[wire.Sample] = []
        self.dropped = 0
        self._limit = limit

    def submit(self, sample: wire.Sample) -> None:
        """Keep the sample unless the list is full (then count a drop)."""
        if len(self.samples) >= self._limit:
            self.dropped += 1
            return
        self.samples.append(sample)


class JsonlSink:
    """Writes one JSON object per line (the wire encoding of :class:`~agent.wire.Sample`).

    Args:
        target: A path (opened for appending, line-buffered) or a text stream.

    Attributes:
        written: Lines written.
        errors: Samples lost to write errors (a full disk must not stop polling).
    """

    def __init__(self, target: str | Path | IO[str]) -> None:
        self._own = isinstance(target, str | Path)
        if isinstance(target, str | Path):
            self._fh: IO[str] = open(target, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - closed in close()
        else:
            self._fh = target
        self._encoder = msgspec.json.Encoder()
        self.written = 0
        self.errors = 0

    def submit(self, sample: wire.Sample) -> None:
        """Write the sample as one line; a write error is counted and logged, not raised."""
        try:
            self._fh.write(self._encoder.encode(sample).decode() + "\n")
        except (OSError, ValueError) as exc:
            self.errors += 1
            if self.errors == 1 or self.errors % 1000 == 0:
                log.error("jsonl sink write failed errors=%d: %s", self.errors, exc)
            return
        self.written += 1

    def close(self) -> None:
        """Close the file if this sink opened it."""
        if self._own:
            self._fh.close()


def read_jsonl(path: str | Path) -> list[wire.Sample]:
    """Read samples back from a :class:`JsonlSink` file (tests and tools)."""
    dec = msgspec.json.Decoder(wire.Sample)
    with open(path, encoding="utf-8") as fh:
        return [dec.decode(line) for line in fh if line.strip()]
