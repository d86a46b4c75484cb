"""Ingestion: MQTT payload → checked batch → engine, exactly once.

:class:`Ingestor` is synchronous and has no MQTT in it (the subscriber feeds it), so it is
tested without a broker. For every message it:

1. finds the agent and kind in the topic (else: invalid ``topic``);
2. decodes strictly (:func:`agent.wire.decode_batch`, the payload's agent must equal the
   topic's, timestamps must be sane); an invalid payload is counted by reason and kept
   in the store's dead-letter table, and ingestion goes on;
3. drops a batch whose ``(agent, seq)`` the store has already applied (QoS 1
   redelivery, outbox replay after an agent restart); the engine records ``(agent, seq)``
   in the same transaction as the batch's effects, so this holds across collector
   crashes;
4. applies the batch (or the agent's retained status / last will) to the engine and
   calls the listeners (the InfluxDB writer);
5. tells the subscriber whether the message may be acknowledged: not when the store or
   the system failed (full disk), so the broker redelivers it; a bug on one batch is
   dead-lettered (``internal``) and acknowledged, so it cannot block every batch behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from netmon.agent import wire
from netmon.collector.model import IngestCounters
from netmon.collector.store import ENVIRONMENT_ERRORS

log = logging.getLogger(__name__)

#: Failures of the collector's environment, not of the payload (:data:`ENVIRONMENT_ERRORS`):
#: the message is not acknowledged and comes again (a full disk must not lose a batch the
#: broker accepted).

#: Invalid reasons that can be counted; anything else is counted as ``internal``.
REASONS = ("json", "schema", "version", "agent_mismatch", "timestamp", "value", "topic", "internal")


class IngestEngine(Protocol):
    """What the ingestor needs from :class:`collector.engine.Engine`."""

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        """Apply a batch (and record its (agent, seq) atomically with its effects)."""

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        """An agent's retained status or last will."""


class IngestLedger(Protocol):
    """What the ingestor needs from :class:`collector.store.SqliteStore`."""

    def is_duplicate(self, agent: str, seq: int) -> bool:
        """Whether batch (agent, seq) was already applied."""

    def dead_letter(self, ts: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        """Keep an invalid payload for inspection."""


class Ingestor:
    """Decodes, checks, de-duplicates and applies MQTT messages; never raises.

    Args:
        engine: Applies batches and agent statuses.
        store: The duplicate ledger and dead-letter store (None: in-memory only —
            de-duplication then only holds within this process).
        prefix: Topic prefix.
        clock: Unix time (received-at and the absurd-timestamp check).

    Attributes:
        listeners: Called with every accepted batch, after the engine applied it; a
            listener's exception is logged and does not stop ingestion.
    """

    def __init__(
        self,
        engine: IngestEngine,
        store: IngestLedger | None,
        *,
        prefix: str = wire.DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._store = store
        self._prefix = prefix
        self._clock = clock
        self.listeners: list[Callable[[wire.SampleBatch], None]] = []
        self._batches = 0
        self._samples = 0
        self._duplicates = 0
        self._dead_letters = 0
        self._invalid: dict[str, int] = {}
        self._statuses = 0
        #: Messages not applied because of the store or the system (redelivered later).
        self.apply_failures = 0
        # Without a store, remember the applied seqs per agent (in memory, this process only).
        self._seen: dict[str, set[int]] = {}

    def handle(self, topic: str, payload: bytes) -> bool:
        """Ingest one message. Never raises (except CancelledError-like BaseExceptions).

        Returns:
            True when the message is done with — applied, a duplicate, or rejected and
            dead-lettered — and may be acknowledged; False when it could not be applied
            for a reason that is not the payload's (:data:`ENVIRONMENT_ERRORS`, e.g. a full
            disk): the caller must not acknowledge it, so that the broker redelivers it.
        """
        now = self._clock()
        parsed = wire.parse_topic(topic, self._prefix)
        if parsed is None:
            self._reject(now, topic, "topic", f"not a netmon topic under {self._prefix!r}", payload)
            return True
        agent, kind = parsed
        try:
            if kind == "status":
                status = wire.decode_status(payload, topic_agent=agent)
                self._engine.agent_status(status, now)
                self._statuses += 1
                return True
            batch = wire.decode_batch(payload, topic_agent=agent, now=now)
        except wire.InvalidBatch as exc:
            self._reject(now, topic, exc.reason, exc.detail, payload)
            return True
        except ENVIRONMENT_ERRORS as exc:
            self.apply_failures += 1
            log.error("agent=%s status not applied, will be redelivered: %s: %s", agent, type(exc).__name__, exc)
            return False
        except Exception as exc:  # an engine bug must not stop ingestion of other agents
            log.exception("agent=%s status could not be applied", agent)
            self._reject(now, topic, "internal", f"{type(exc).__name__}: {exc}"[:200], payload)
            return True
        try:
            if self._is_duplicate(batch.agent, batch.seq):
                self._duplicates += 1
                return True
            self._engine.apply_batch(batch, now)
        except ENVIRONMENT_ERRORS as exc:
            # Not the payload's fault (full disk, I/O error, locked or read-only store): the
            # batch must come again, so the caller does not acknowledge it.
            self.apply_failures += 1
            log.error(
                "agent=%s seq=%d batch not applied, will be redelivered: %s: %s",
                batch.agent,
                batch.seq,
                type(exc).__name__,
                exc,
                exc_info=True,  # the operator sees the store's own words (``database or disk is full``)
            )
            return False
        except Exception as exc:  # a bug on one batch must not block every batch behind it
            log.exception("agent=%s seq=%d batch could not be applied", batch.agent, batch.seq)
            self._reject(now, topic, "internal", f"{type(exc).__name__}: {exc}"[:200], payload)
            return True
        if self._store is None:
            self._seen.setdefault(batch.agent, set()).add(batch.seq)
        self._batches += 1
        self._samples += len(batch.samples)
        for listener in self.listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("ingest listener %r failed", listener)
        return True

    def _is_duplicate(self, agent: str, seq: int) -> bool:
        if self._store is not None:
            return self._store.is_duplicate(agent, seq)
        return seq in self._seen.get(agent, ())

    def _reject(self, now: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        self._invalid[reason] = self._invalid.get(reason, 0) + 1
        log.warning("invalid message topic=%s reason=%s: %s", topic[:200], reason, detail)
        if self._store is None:
            return
        try:
            self._store.dead_letter(now, topic, reason, detail, payload)
            self._dead_letters += 1
        except Exception:
            log.exception("dead-letter store failed topic=%s reason=%s", topic[:200], reason)

    @property
    def statuses(self) -> int:
        """Agent status messages applied."""
        return self._statuses

    def counters(self) -> IngestCounters:
        """A snapshot of the ingestion counters (monotonic)."""
        return IngestCounters(
            batches=self._batches,
            samples=self._samples,
            duplicates=self._duplicates,
            invalid=dict(self._invalid),
            dead_letters=self._dead_letters,
            # The engine knows which samples were late or named no inventory device.
            late_samples=int(getattr(self._engine, "late_samples", 0)),
            unknown_devices=int(getattr(self._engine, "unknown_samples", 0)),
        )
