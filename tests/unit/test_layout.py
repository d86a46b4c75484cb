"""The source layout and the installed names agree: everything imports under ``netmon``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("agent", "collector", "exporters", "config")


def _setuptools() -> dict[str, object]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return doc["tool"]["setuptools"]  # type: ignore[no-any-return]


def test_every_package_folder_is_installed_under_netmon() -> None:
    st = _setuptools()
    package_dir: dict[str, str] = st["package-dir"]  # type: ignore[assignment]
    listed = set(st["packages"])  # type: ignore[arg-type]
    found = set()
    for name, folder in package_dir.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if any(part in TOP for part in rel.parts[:1]) and name == "netmon":
                continue  # the links from netmon/ to the top-level folders
            found.add(".".join((name, *rel.parts)))
    assert found == listed


def test_the_checkout_links_match_the_mapping() -> None:
    for top in TOP:
        link = ROOT / "netmon" / top
        assert link.is_symlink(), link
        assert link.resolve() == (ROOT / top).resolve()
    assert _setuptools()["package-dir"] == {"netmon": "netmon", **{f"netmon.{t}": t for t in TOP}}


def test_no_module_imports_a_generic_top_level_name() -> None:
    bad = re.compile(rf"^\s*(from|import) ({'|'.join(TOP)})(\.|\s)", re.M)
    offenders = []
    for folder in ("netmon", *TOP, "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "netmon") and path.parent.name in TOP:
                continue
            for m in bad.finditer(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}: {m.group(0).strip()}")
    assert not offenders
