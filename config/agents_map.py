"""The collector's ``agents:`` map against the inventory.

What the map names that the inventory lacks (``check-config`` reports it with file and
line), and what the map lets agents speak for (``check-config --security-report``): no
map at all, agents whose scope is the whole inventory, devices no agent may speak for.
"""

from __future__ import annotations

from collections.abc import Mapping

from netmon.config.errors import ConfigError
from netmon.config.inventory import InventoryIndex
from netmon.config.loader import load_collector_settings, load_credentials, load_inventory
from netmon.config.settings import Scope

#: Devices named in a report line before "and N more".
SHOWN = 10


def unknown_codes(scope: Scope, index: InventoryIndex) -> list[tuple[str, int, str]]:
    """``(field, position, code)`` of each district, commune or device of ``scope`` that the
    inventory does not have."""
    known: dict[str, Mapping[str, object]] = {
        "districts": index.districts,
        "communes": index.communes,
        "devices": index.devices,
    }
    return [
        (field, i, code)
        for field, ids in known.items()
        for i, code in enumerate(getattr(scope, field))
        if code not in ids
    ]


def report(agents: Mapping[str, Scope] | None, index: InventoryIndex) -> list[str]:
    """What the map lets agents speak for, one line each (none when every device is bound
    to an agent and no agent may speak for everything)."""
    if agents is None:
        return [
            "agents: no agents map declared: any agent may speak for any device "
            "(declare `agents:` in the collector settings, each agent with its scope)"
        ]
    lines = [
        f"agents: {agent} may speak for every device (its scope is empty)"
        for agent, scope in sorted(agents.items())
        if scope.everything
    ]
    bound = {d.id for scope in agents.values() for d in scope.select(index)}
    unbound = [d for d in index.devices if d not in bound]
    if unbound:
        more = f" and {len(unbound) - SHOWN} more" if len(unbound) > SHOWN else ""
        lines.append(
            f"agents: {len(unbound)} devices in no agent's scope, their samples are dropped: "
            f"{', '.join(unbound[:SHOWN])}{more}"
        )
    return lines


def report_files(kinds: Mapping[str, str]) -> list[str]:
    """``file: line`` for each collector settings file among ``kinds`` (path → kind) whose
    settings and inventory load; files that do not are left to ``check-config``'s checks."""
    lines: list[str] = []
    for path, kind in kinds.items():
        if kind != "collector":
            continue
        try:
            settings = load_collector_settings(path)
            creds = load_credentials(settings.credentials) if settings.credentials else None
            index = load_inventory(settings.inventory, creds).index
        except ConfigError:
            continue
        found = report(settings.agents, index)
        if settings.agents is not None and not found:
            found = [f"agents: {len(settings.agents)} agents declared, every device bound to at least one of them"]
        lines += [f"{path}: {line}" for line in found]
    return lines
