"""``netmon demo``: the whole system on one machine, on a simulated province.

Simulated SNMP devices on loopback addresses (:mod:`netmon.demo.simulator`), a seeded
scenario of outages (:mod:`netmon.demo.scenario`), its ground truth
(:mod:`netmon.demo.truth`), and the runner that starts a broker, one agent per district
and the collector around them (:mod:`netmon.demo.runner`).
"""

from __future__ import annotations

import argparse


def cli_main(args: argparse.Namespace) -> int:
    """Run ``netmon demo`` with parsed arguments; returns the exit code."""
    from netmon.demo.runner import cli_main as run

    return run(args)
