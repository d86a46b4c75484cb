"""``netmon check-config``: every problem of every file, at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from netmon.config.agents_map import unknown_codes
from netmon.config.credentials import Credentials
from netmon.config.errors import Problem
from netmon.config.inventory import Inventory
from netmon.config.loader import YamlDoc, check_inventory_doc, raw_inventory_problems, read_yaml, resolve_path, validate
from netmon.config.secrets import SecretRef
from netmon.config.settings import AgentSettings, CollectorSettings

Kind = str


def detect_kind(data: Any) -> Kind:
    """Guess a file's kind from its top-level keys."""
    if not isinstance(data, dict):
        return "unknown"
    if "province" in data:
        return "inventory"
    if "agent_id" in data:
        return "agent"
    if "inventory" in data:
        return "collector"
    if "snmp" in data or "mqtt" in data:
        return "credentials"
    return "unknown"


def _secret_problems(doc: YamlDoc, obj: BaseModel, loc: tuple[str | int, ...] = ()) -> list[Problem]:
    """Resolve every SecretRef in a model; report the ones that cannot be read."""
    out: list[Problem] = []
    base = Path(doc.file).parent
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        items: list[tuple[tuple[str | int, ...], Any]]
        if isinstance(value, dict):
            items = [((*loc, name, k), v) for k, v in value.items()]
        elif isinstance(value, tuple | list):
            items = [((*loc, name, i), v) for i, v in enumerate(value)]
        else:
            items = [((*loc, name), value)]
        for sub_loc, v in items:
            if isinstance(v, SecretRef):
                try:
                    v.resolve(base)
                except ValueError as exc:
                    from netmon.config.loader import field_path

                    out.append(Problem(doc.file, doc.line_of(sub_loc), field_path(sub_loc), str(exc)))
            elif isinstance(v, BaseModel):
                out += _secret_problems(doc, v, sub_loc)
    return out


def check_file(path: str | Path, *, resolve_secrets: bool = True) -> tuple[Kind, list[Problem]]:
    """Check one file of any kind; settings files also check the files they name."""
    doc, problems = read_yaml(path)
    if doc.data is None:
        return "unknown", problems
    kind = detect_kind(doc.data)
    if kind == "unknown":
        return kind, [
            *problems,
            Problem(
                doc.file,
                doc.line_of(()),
                "",
                "cannot tell what this file is: "
                "an inventory has 'province', agent settings 'agent_id', "
                "collector settings 'inventory', credentials 'snmp' or 'mqtt'",
            ),
        ]
    if kind == "inventory":
        inv, more = validate(doc, Inventory)
        problems += more
        problems += check_inventory_doc(doc, inv, None) if inv is not None else raw_inventory_problems(doc)
        return kind, problems
    if kind == "credentials":
        creds, more = validate(doc, Credentials)
        problems += more
        if creds is not None and resolve_secrets:
            problems += _secret_problems(doc, creds)
        return kind, problems

    model: type[AgentSettings] | type[CollectorSettings] = AgentSettings if kind == "agent" else CollectorSettings
    settings, more = validate(doc, model)
    problems += more
    if settings is None:
        return kind, problems
    if resolve_secrets:
        problems += _secret_problems(doc, settings)
    creds_obj: Credentials | None = None
    if settings.credentials is not None:
        cpath = resolve_path(settings.credentials, doc.file)
        cdoc, cprob = read_yaml(cpath)
        creds_obj, more = validate(cdoc, Credentials)
        problems += cprob + more
        if creds_obj is not None and resolve_secrets:
            problems += _secret_problems(cdoc, creds_obj)
        if (
            creds_obj is not None
            and settings.broker.credential is not None
            and settings.broker.credential not in creds_obj.mqtt
        ):
            problems.append(
                Problem(
                    doc.file,
                    doc.line_of(("broker", "credential")),
                    "broker.credential",
                    f"no MQTT credential {settings.broker.credential!r} in {cpath}",
                )
            )
    elif settings.broker.credential is not None:
        problems.append(
            Problem(
                doc.file,
                doc.line_of(("broker", "credential")),
                "broker.credential",
                "names a credential but the file names no credentials file",
            )
        )
    ipath = resolve_path(settings.inventory, doc.file)
    idoc, iprob = read_yaml(ipath)
    inv, more = validate(idoc, Inventory)
    problems += iprob + more
    if inv is None:
        problems += raw_inventory_problems(idoc)
    else:
        profiles = set(creds_obj.snmp) if creds_obj is not None else None
        problems += check_inventory_doc(idoc, inv, profiles)
        if isinstance(settings, AgentSettings):
            idx = inv.index
            for field, known in (("districts", idx.districts), ("communes", idx.communes), ("devices", idx.devices)):
                for i, code in enumerate(getattr(settings.scope, field)):
                    if code not in known:
                        problems.append(
                            Problem(
                                doc.file,
                                doc.line_of(("scope", field, i)),
                                f"scope.{field}[{i}]",
                                f"not in the inventory: {code!r}",
                            )
                        )
        elif settings.agents is not None:  # the collector's agents map
            for agent, scope in settings.agents.items():
                for field, i, code in unknown_codes(scope, inv.index):
                    where: tuple[str | int, ...] = ("agents", agent, field, i)
                    message = f"not in the inventory: {code!r}"
                    problems.append(Problem(doc.file, doc.line_of(where), f"agents.{agent}.{field}[{i}]", message))
    # de-duplicate problems reported through several settings files naming the same inventory
    seen: set[Problem] = set()
    unique = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return kind, unique


def check_files(paths: list[str]) -> list[Problem]:
    """Check several files; problems of a file named twice are reported once."""
    seen: set[Problem] = set()
    out: list[Problem] = []
    for path in paths:
        for p in check_file(path)[1]:
            if p not in seen:
                seen.add(p)
                out.append(p)
    return out
