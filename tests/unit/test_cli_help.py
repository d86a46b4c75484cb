"""Every subcommand's help as argparse prints it: no stray ``%%`` (argparse %-formats only
help strings, so a ``%%`` anywhere else is printed as is)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from netmon.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str = "netmon") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_help_is_free_of_doubled_percent_signs() -> None:
    found = dict(_parsers(build_parser()))
    assert {"netmon report", "netmon inventory generate", "netmon check-config"} <= set(found)
    for path, parser in found.items():
        assert "%%" not in parser.format_help(), path
        assert "%%" not in parser.format_usage(), path


def test_the_report_help_names_the_goal_of_every_commune() -> None:
    help_text = dict(_parsers(build_parser()))["netmon report"].format_help()
    assert "100% of communes" in " ".join(help_text.split())
