"""Ingestion: MQTT payload → checked batch → engine, exactly once.

:class:`Ingestor` is synchronous and has no MQTT in it (the subscriber feeds it), so it is
tested without a broker. For every message it:

1. finds the agent and kind in the topic (else: invalid ``topic``); with a declared
   ``agents:`` map, refuses an agent that is not in it (``unknown_agent``) before decoding;
2. decodes strictly (:func:`agent.wire.decode_samples`: the payload's agent must equal
   the topic's, timestamps must be sane, every value in its range); an invalid payload is
   counted by reason and ingestion goes on. A sample with an impossible value (``value``,
   ``schema``) or for a device outside its agent's scope (``foreign_device``, see
   :mod:`collector.binding`) is left out of its batch and counted by reason
   (``rejected_samples``); the rest of the batch is applied;
3. drops a batch whose ``(agent, seq)`` the store has already applied (QoS 1
   redelivery, outbox replay after an agent restart); the engine records ``(agent, seq)``
   in the same transaction as the batch's effects, so this holds across collector
   crashes;
4. applies the batch (or the agent's retained status / last will) to the engine and
   calls the listeners (the InfluxDB writer);
5. tells the subscriber whether the message may be acknowledged: not when the store or
   the system failed (full disk), so the broker redelivers it; a bug on one batch is
   dead-lettered (``internal``) and acknowledged, so it cannot block every batch behind it.

**Bad input is shed cheaply.** A flood of garbage (20,000 messages a second from one
login) must not slow the real batches queued behind it: what every rejected message
costs is a failed decode and a counter. The log line and the dead letter (kept for
inspection) are rate-limited: at most one line per reason every :data:`LOG_EVERY_S`
(saying how many were held back), and dead letters at :data:`DEAD_LETTERS_PER_S` with a
burst of :data:`DEAD_LETTER_BURST` (the first ones of a burst are kept).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from netmon.agent import wire
from netmon.collector.binding import Binding
from netmon.collector.ledger import Gaps
from netmon.collector.model import IngestCounters
from netmon.collector.store import ENVIRONMENT_ERRORS

log = logging.getLogger(__name__)

#: Failures of the collector's environment, not of the payload (:data:`ENVIRONMENT_ERRORS`):
#: the message is not acknowledged and comes again (a full disk must not lose a batch the
#: broker accepted).

#: Invalid reasons that can be counted; anything else is counted as ``internal``.
REASONS = (
    "json",
    "schema",
    "version",
    "agent_mismatch",
    "timestamp",
    "value",
    "topic",
    "unknown_agent",
    "internal",
)
#: Why a sample is left out of a batch that is otherwise applied.
SAMPLE_REASONS = ("value", "schema", "foreign_device")

#: At most one log line per rejection reason this often.
LOG_EVERY_S = 10.0
#: Dead letters kept per second on average, and in a burst.
DEAD_LETTERS_PER_S = 5.0
DEAD_LETTER_BURST = 50.0


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


@runtime_checkable
class GapReporter(Protocol):
    """A ledger that can say which batches it has not seen (the SQLite store can)."""

    def ledger_gaps(self) -> dict[str, Gaps]:
        """Per agent, the gaps in its applied sequence numbers."""
        ...


class _Limiter:
    """At most one event per key every ``every_s``; the ones held back are counted."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str, now: float) -> int | None:
        """None to hold this one back; else how many were held back since the last."""
        last = self._last.get(key)
        if last is not None and 0 <= now - last < self.every_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


class _TokenBucket:
    """``rate`` events a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at: float | None = None

    def take(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Ingestor:
    """Decodes, checks, de-duplicates and applies MQTT messages; never raises.

    Args:
        engine: Applies batches and agent statuses.
        store: The duplicate ledger and dead-letter store (None: in-memory only —
            de-duplication then only holds within this process).
        prefix: Topic prefix.
        clock: Unix time (received-at, the absurd-timestamp check, the rate limits).
        binding: Which agent may speak for which device (the declared ``agents:`` map);
            None: any agent for any device.

    Attributes:
        listeners: Called with every accepted batch, after the engine applied it; a
            listener's exception is logged and does not stop ingestion.
        binding: Replaced when the inventory is reloaded.
    """

    def __init__(
        self,
        engine: IngestEngine,
        store: IngestLedger | None,
        *,
        prefix: str = wire.DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
        binding: Binding | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._prefix = prefix
        self._clock = clock
        self.binding = binding
        self.listeners: list[Callable[[wire.SampleBatch], None]] = []
        self._batches = 0
        self._samples = 0
        self._duplicates = 0
        self._dead_letters = 0
        self._invalid: dict[str, int] = {}
        self._rejected_samples: dict[str, int] = {}
        self._statuses = 0
        #: Messages not applied because of the store or the system (redelivered later).
        self.apply_failures = 0
        self._log_limit = _Limiter(LOG_EVERY_S)
        self._letters = _TokenBucket(DEAD_LETTERS_PER_S, DEAD_LETTER_BURST)
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
        binding = self.binding
        if binding is not None and not binding.declares(agent):
            self._reject(now, topic, "unknown_agent", f"agent {agent[:64]!r} is not in the agents map", payload)
            return True
        try:
            if kind == "status":
                status = wire.decode_status(payload, topic_agent=agent)
                self._engine.agent_status(status, now)
                self._statuses += 1
                return True
            decoded = wire.decode_samples(payload, topic_agent=agent, now=now)
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
        batch = decoded.batch
        foreign: list[str] = []
        try:
            if self._is_duplicate(batch.agent, batch.seq):
                self._duplicates += 1
                return True
            if binding is not None:
                split = binding.split(agent, batch.samples)
                if split.foreign:
                    foreign = split.foreign
                    batch = msgspec.structs.replace(batch, samples=split.kept)
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
        if foreign or decoded.rejected:
            self._left_out(now, topic, payload, batch=batch, foreign=foreign, rejected=decoded.rejected)
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

    def _left_out(
        self,
        now: float,
        topic: str,
        payload: bytes,
        *,
        batch: wire.SampleBatch,
        foreign: list[str],
        rejected: tuple[wire.RejectedSample, ...],
    ) -> None:
        """Count, log and keep the samples a batch that was applied had to leave out."""
        counts = self._rejected_samples
        for r in rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        parts = []
        if foreign:
            counts["foreign_device"] = counts.get("foreign_device", 0) + len(foreign)
            parts.append(
                f"{len(foreign)} sample(s) for devices outside agent {batch.agent}'s scope "
                f"({', '.join(sorted(set(foreign))[:5])}{', ...' if len(set(foreign)) > 5 else ''})"
            )
        if rejected:
            first = rejected[0]
            parts.append(f"{len(rejected)} sample(s) refused, e.g. device {first.device!r}: {first.detail}")
        reason = "foreign_device" if foreign else rejected[0].reason
        detail = f"agent {batch.agent} seq {batch.seq}: " + "; ".join(parts) + " (the rest of the batch applied)"
        self._keep(now, topic, reason, detail, payload, what="samples left out")

    def _reject(self, now: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        self._invalid[reason] = self._invalid.get(reason, 0) + 1
        self._keep(now, topic, reason, detail, payload, what="invalid message")

    def _keep(self, now: float, topic: str, reason: str, detail: str, payload: bytes, *, what: str) -> None:
        """The rate-limited part of a rejection: a log line, a dead letter."""
        held = self._log_limit.allow(reason, now)
        if held is not None:
            log.warning(
                "%s topic=%s reason=%s: %s%s",
                what,
                topic[:200],
                reason,
                detail,
                f" ({held} more with this reason in the last {LOG_EVERY_S:.0f} s)" if held else "",
            )
        if self._store is None or not self._letters.take(now):
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
        """A snapshot of the ingestion counters (monotonic) and the ledger's gaps."""
        gaps: dict[str, Gaps] = self._store.ledger_gaps() if isinstance(self._store, GapReporter) else {}
        return IngestCounters(
            batches=self._batches,
            samples=self._samples,
            duplicates=self._duplicates,
            invalid=dict(self._invalid),
            dead_letters=self._dead_letters,
            # The engine knows which samples were late or named no inventory device.
            late_samples=int(getattr(self._engine, "late_samples", 0)),
            unknown_devices=int(getattr(self._engine, "unknown_samples", 0)),
            # every reason, zeros included, so that the series exist before the first one
            rejected_samples={reason: self._rejected_samples.get(reason, 0) for reason in SAMPLE_REASONS},
            ledger_gaps=sum(g.gaps for g in gaps.values()),
            missing_batches={agent: g.missing for agent, g in gaps.items()},
        )
