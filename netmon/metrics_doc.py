"""The README's metric tables, generated from the metric specifications the code emits.

    python -m netmon.metrics_doc                  # print the tables
    python -m netmon.metrics_doc --write README.md   # rewrite them in place
    python -m netmon.metrics_doc --check README.md   # exit 1 when the README differs

Each table sits between ``<!-- metrics:NAME begin -->`` and ``<!-- metrics:NAME end -->``
in the README; everything outside the markers is left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from netmon.agent import selfmetrics
from netmon.config.metricspec import MetricSpec
from netmon.exporters import influx, prometheus

#: The tables: the collector's /metrics (snapshot and InfluxDB writer) and the agent's.
SECTIONS: dict[str, Sequence[MetricSpec]] = {
    "collector": [*prometheus.FAMILIES, *influx.TABLE.families],
    "agent": selfmetrics.FAMILIES,
}


def table(specs: Sequence[MetricSpec]) -> str:
    """A Markdown table of the families: sample name, type, labels, HELP text."""
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for spec in specs:
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        meaning = spec.help.replace("|", "\\|")  # a pipe would end the cell
        rows.append(f"| `{spec.sample_name}` | {spec.type} | {labels} | {meaning} |")
    return "\n".join(rows)


def _markers(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- metrics:{name} begin[^>]*-->\n)(.*?)(<!-- metrics:{name} end -->)", re.S)


def update(text: str) -> str:
    """``text`` with every generated table replaced by the current one.

    Raises:
        ValueError: A table's markers are missing.
    """
    for name, specs in SECTIONS.items():
        pattern = _markers(name)
        if not pattern.search(text):
            raise ValueError(f"no '<!-- metrics:{name} begin -->' ... '<!-- metrics:{name} end -->' markers")
        text = pattern.sub(lambda m, s=specs: m.group(1) + table(s) + "\n" + m.group(3), text)  # type: ignore[misc]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Print, write or check the tables; 1 when ``--check`` finds a difference."""
    ap = argparse.ArgumentParser(prog="python -m netmon.metrics_doc", description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", metavar="README", help="rewrite the tables of this file")
    mode.add_argument("--check", metavar="README", help="exit 1 when this file's tables differ from the code")
    args = ap.parse_args(argv)
    path = args.write or args.check
    if path is None:
        for name, specs in SECTIONS.items():
            print(f"<!-- metrics:{name} -->\n{table(specs)}\n")
        return 0
    text = Path(path).read_text(encoding="utf-8")
    try:
        new = update(text)
    except ValueError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if args.write:
        if new != text:
            Path(path).write_text(new, encoding="utf-8")
        return 0
    if new != text:
        print(f"{path}: the metric tables differ from the code; run python -m netmon.metrics_doc --write {path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
