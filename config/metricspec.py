"""What a metric family is, as data: name, type, help and label names.

The collector's exposition (:mod:`exporters.prometheus`) and the agent's self-metrics
(:mod:`agent.selfmetrics`) declare every family they emit as a :class:`MetricSpec` and
emit through it (the family's name, type and help come from the spec; label blocks are
formatted from its label names), and the README's metric tables are generated from the
same specs (``python -m netmon.metrics_doc``), so code and documentation cannot differ.
It lives in the lowest layer because both the agent and the exporters use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

__all__ = ["MetricSpec", "MetricTable", "MetricType", "StatValue", "escape_label", "label_block"]

MetricType = Literal["gauge", "counter", "info", "histogram"]

#: The suffix Prometheus gives a family's samples, by type.
_SUFFIX: dict[str, str] = {"counter": "_total", "info": "_info", "gauge": "", "histogram": ""}


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family.

    Attributes:
        name: Family name, without the ``_total`` / ``_info`` suffix of its samples.
        type: ``gauge``, ``counter``, ``info`` or ``histogram``.
        help: The HELP text: what the value means, in base units.
        labels: Label names of every series, in the order they are written.
    """

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()

    @property
    def sample_name(self) -> str:
        """The name of the family's samples (``netmon_device_outages_total``); for a
        histogram, the stem of its ``_bucket``, ``_sum`` and ``_count`` samples."""
        return self.name + _SUFFIX[self.type]

    def block(self, *values: str) -> str:
        """The ``{name="value",...}`` block of one series (values escaped), ``""`` without labels.

        Raises:
            ValueError: Not one value per label.
        """
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name} has labels {self.labels}, got {len(values)} values")
        return label_block(zip(self.labels, values, strict=True))


class HistogramValue(Protocol):
    """What a histogram field offers: cumulative buckets and the sum of observations."""

    total: float

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, ``+Inf`` last."""
        ...


@dataclass(frozen=True, slots=True)
class StatValue:
    """A family with one series whose value is a field of a stats object.

    Attributes:
        spec: The family.
        source: Which object holds the value (a name the emitter maps to the object).
        field: The attribute; a :class:`HistogramValue` for a histogram family.
    """

    spec: MetricSpec
    source: str
    field: str


@dataclass
class MetricTable:
    """The families one exporter emits, in exposition order.

    Declaring a family is one line: ``X = TABLE.family(name, type, help, labels)``, or, for
    a value read from a stats object by field name, ``TABLE.stat(..., source, field)``
    (emitted by :meth:`stat_families` with no further code).
    """

    families: list[MetricSpec] = field(default_factory=list)
    stats: list[StatValue] = field(default_factory=list)

    def family(self, name: str, typ: MetricType, help_text: str, labels: tuple[str, ...] = ()) -> MetricSpec:
        """Declare a family and return its spec."""
        if any(f.name == name for f in self.families):
            raise ValueError(f"metric family {name} declared twice")
        spec = MetricSpec(name, typ, help_text, labels)
        self.families.append(spec)
        return spec

    def stat(  # noqa: PLR0917 - one declaration per line reads best positionally
        self, name: str, typ: MetricType, help_text: str, labels: tuple[str, ...], source: str, field: str
    ) -> MetricSpec:
        """Declare a one-series family whose value is ``getattr(sources[source], field)``."""
        spec = self.family(name, typ, help_text, labels)
        self.stats.append(StatValue(spec, source, field))
        return spec

    def stat_families(self, sources: Mapping[str, object], *label_values: str) -> Iterator[Metric]:
        """The families of the declared stats whose source is given, one series each.

        Args:
            sources: The stats objects by source name; stats of other sources are skipped.
            label_values: The series' label values, in the order of the specs' labels.
        """
        values = list(label_values)
        for stat in self.stats:
            if stat.source not in sources:
                continue
            spec = stat.spec
            value = getattr(sources[stat.source], stat.field)
            fam: Metric
            if spec.type == "histogram":
                fam = HistogramMetricFamily(spec.name, spec.help, labels=list(spec.labels))
                fam.add_metric(values, value.buckets(), value.total)
            elif spec.type == "counter":
                fam = CounterMetricFamily(spec.name, spec.help, labels=list(spec.labels))
                fam.add_metric(values, float(value))
            else:
                fam = GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
                fam.add_metric(values, float(value))
            yield fam


def escape_label(value: str) -> str:
    """A label value escaped for the exposition formats (backslash, quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def label_block(pairs: Iterable[tuple[str, str]]) -> str:
    """``{k="v",...}`` of ``(name, value)`` pairs, escaped; ``""`` for none."""
    inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""
