"""The OpenAPI 3 document of the JSON API (``/api/v1/openapi.json``); pure data."""

from __future__ import annotations

from typing import Any

from netmon.collector.model import State

Schema = dict[str, Any]

_STATES = [s.value for s in State]


def _nullable(t: str) -> Schema:
    return {"type": t, "nullable": True}


def _obj(props: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {"type": "object", "properties": props, "required": required if required is not None else list(props)}


_NUM = {"type": "number"}
_INT = {"type": "integer", "minimum": 0}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_NSTR = _nullable("string")
_NNUM = _nullable("number")
_STATE = {"type": "string", "enum": _STATES}

COUNTS = _obj(
    {
        "communes": _INT,
        "provisioned": _INT,
        "connected": _INT,
        # None for a unit without communes (Lý Sơn): it has no coverage, not 0 %.
        "coverage_ratio": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1},
        "by_state": {"type": "object", "additionalProperties": _INT},
    }
)
AVAILABILITY = _obj(
    {
        "up_s": _NUM,
        "down_s": _NUM,
        "unreachable_s": _NUM,
        "unknown_s": _NUM,
        "maintenance_s": _NUM,
        "ratio": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1},
    }
)
OUTAGE = _obj(
    {
        "device": _STR,
        "commune": _NSTR,
        "commune_name": _NSTR,
        "district": _NSTR,
        "district_name": _NSTR,
        "where": _STR,
        "state": _STATE,
        "start": _NUM,
        "end": _NNUM,
        "duration_s": _NUM,
        "cause": _STR,
        "root_cause": _NSTR,
    }
)
REBOOT = _obj(
    {
        "device": _STR,
        "where": _STR,
        # When the device came back: the reporting sample's time minus the uptime it read.
        "ts": _NUM,
        "reported_at": _NUM,
        "agent": _STR,
        "uptime_s": _NNUM,
        # The device's state around it: up means too short to be counted as an outage.
        "counted_as": {"type": "string", "nullable": True, "enum": [*_STATES, None]},
        "outage": _BOOL,
        "note": _STR,
    }
)
#: Reboots over a page's range: how many, how many left the device up, in a sentence (empty
#: when no uptime is read: no reboot could be seen), and the newest of them.
REBOOTS = _obj(
    {
        "count": _INT,
        "not_outages": _INT,
        "text": _STR,
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Reboot"}},
    }
)
INTERFACE = _obj(
    {
        "index": {"type": "integer"},
        "name": _STR,
        "alias": _STR,
        "oper_status": {"type": "integer"},
        "oper_status_text": _STR,
        "admin_status": {"type": "integer"},
        "speed_bps": _nullable("integer"),
        "in_bps": _NNUM,
        "out_bps": _NNUM,
        "in_errors": _nullable("integer"),
        "out_errors": _nullable("integer"),
    }
)
COMMUNE_BRIEF_PROPS: dict[str, Schema] = {
    "code": _STR,
    "name": _STR,
    "district": _NSTR,
    "district_name": _NSTR,
    "state": _STATE,
    "since": _NUM,
    "connected": _BOOL,
    "provisioned": _BOOL,
    "root_cause": _NSTR,
    "agent": _NSTR,
    "cause_text": _STR,
}
#: When a group of values was measured, and whether it belongs to the device's last round.
MEASURED = _obj({"at": _NNUM, "current": _BOOL})
RANGE = _obj(
    {
        "key": {"type": "string", "enum": ["24h", "7d", "30d", "custom"]},
        "from": _NUM,
        "to": _NUM,
        "label": _STR,
        "availability": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1},
    }
)
DEVICE_BRIEF_PROPS: dict[str, Schema] = {
    "id": _STR,
    "role": _STR,
    "role_text": _STR,
    "name": _STR,
    "address": _STR,
    "commune": _NSTR,
    "district": _NSTR,
    "parent": _NSTR,
    "agent": _NSTR,
    "state": _STATE,
    "since": _NUM,
    "cause": _STR,
    "root_cause": _NSTR,
    "cause_text": _STR,
    "flapping": _BOOL,
    "last_seen": _NNUM,
    "last_ok": _NNUM,
    "latency_source": {"type": "string", "nullable": True, "enum": ["icmp", "snmp", None]},
    "probe": {"$ref": "#/components/schemas/Measured"},
    "snmp": {"$ref": "#/components/schemas/Measured"},
    "interfaces_measured": {"$ref": "#/components/schemas/Measured"},
    "rtt_avg_s": _NNUM,
    "rtt_max_s": _NNUM,
    "jitter_s": _NNUM,
    "loss_ratio": _NNUM,
    "response_s": _NNUM,
    "sys_uptime_s": _NNUM,
    "reboots_total": _INT,
    "last_reboot": _NNUM,
    "sys_name": _NSTR,
    "is_access": _BOOL,
    "interfaces": {"type": "array", "items": {"$ref": "#/components/schemas/Interface"}},
    "interfaces_unread": {"type": "object", "additionalProperties": _STR},
    "availability_24h": _NNUM,
}
HISTORY_POINT = _obj({"ts": _NUM, "ok": _BOOL, "rtt_avg_s": _NNUM, "loss_ratio": _NNUM, "jitter_s": _NNUM})
DEVICE = _obj(
    {
        **DEVICE_BRIEF_PROPS,
        "taken_at": _NUM,
        "range": {"$ref": "#/components/schemas/Range"},
        "history_from": _NUM,
        "history": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryPoint"}},
        "outages": {"type": "array", "items": {"$ref": "#/components/schemas/Outage"}},
        "reboots": {"$ref": "#/components/schemas/Reboots"},
    }
)
COMMUNE = _obj(
    {
        **COMMUNE_BRIEF_PROPS,
        "taken_at": _NUM,
        "lang": _STR,
        "availability_24h": _NNUM,
        "range": {"$ref": "#/components/schemas/Range"},
        "devices": {"type": "array", "items": {"$ref": "#/components/schemas/Device"}},
        "outages": {"type": "array", "items": {"$ref": "#/components/schemas/Outage"}},
        "reboots": {"$ref": "#/components/schemas/Reboots"},
    }
)
DISTRICT = _obj(
    {
        "taken_at": _NUM,
        "lang": _STR,
        "code": _STR,
        "name": _STR,
        "counts": {"$ref": "#/components/schemas/Counts"},
        "no_data": _INT,
        "availability_24h": _NNUM,
        "range": {"$ref": "#/components/schemas/Range"},
        "devices": {"type": "array", "items": _obj(DEVICE_BRIEF_PROPS)},
        "communes": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
        "outages": {"type": "array", "items": {"$ref": "#/components/schemas/Outage"}},
    }
)
OVERVIEW = _obj(
    {
        "taken_at": _NUM,
        "lang": _STR,
        "province": _obj(
            {
                "code": _STR,
                "name": _STR,
                "edition": _STR,
                "counts": {"$ref": "#/components/schemas/Counts"},
                "no_data": _INT,
                "availability_24h": _NNUM,
            }
        ),
        "coverage_target": _NUM,
        "store": _obj({"ok": {"type": "boolean"}, "since": _NNUM, "error": _STR}),
        "districts": {
            "type": "array",
            "items": _obj(
                {
                    "code": _STR,
                    "name": _STR,
                    "counts": {"$ref": "#/components/schemas/Counts"},
                    "no_data": _INT,
                    "availability_24h": _NNUM,
                }
            ),
        },
        "communes": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
        "down": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
        "down_groups": {
            "type": "array",
            "items": _obj(
                {
                    "root_cause": _NSTR,
                    "state": _STATE,
                    "cause_text": _STR,
                    "communes": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
                }
            ),
        },
        # Communes nothing is heard of (UNKNOWN): a monitoring gap, grouped by their agent.
        "no_data": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
        "no_data_groups": {
            "type": "array",
            "items": _obj(
                {
                    "agent": _NSTR,
                    "state": _STATE,
                    "since": _NUM,
                    "cause_text": _STR,
                    "communes": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
                }
            ),
        },
        "maintenance": {"type": "array", "items": {"$ref": "#/components/schemas/CommuneBrief"}},
    }
)
SEARCH = _obj(
    {
        "query": _STR,
        "results": {
            "type": "array",
            "items": _obj(
                {
                    "kind": {"type": "string", "enum": ["commune", "district"]},
                    "code": _STR,
                    "name": _STR,
                    "district": _NSTR,
                    "district_name": _NSTR,
                    "rank": _INT,
                    "state": {"type": "string", "nullable": True, "enum": [*_STATES, None]},
                    "connected": _nullable("boolean"),
                }
            ),
        },
    }
)
OUTAGES = _obj(
    {"from": _NUM, "to": _NUM, "outages": {"type": "array", "items": {"$ref": "#/components/schemas/Outage"}}}
)
AVAILABILITY_ANSWER = _obj(
    {
        "scope": {"type": "string", "enum": ["device", "commune", "district", "province"]},
        "id": _STR,
        "from": _NUM,
        "to": _NUM,
        "availability": {"$ref": "#/components/schemas/Availability"},
        "time_weighted_coverage": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1},
    }
)
COVERAGE = _obj(
    {
        "from": _NUM,
        "to": _NUM,
        "step": _NUM,
        "time_weighted_coverage": {"type": "number", "minimum": 0, "maximum": 1},
        "points": {
            "type": "array",
            "items": _obj(
                {
                    "ts": _NUM,
                    "connected": _INT,
                    "communes": _INT,
                    "ratio": {"type": "number", "minimum": 0, "maximum": 1},
                }
            ),
        },
    }
)
ERROR = _obj({"error": _STR, "detail": _STR})

_TIME_DESC = "Unix seconds or ISO 8601 (without an offset: Asia/Ho_Chi_Minh)"


def _time_param(name: str, default: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{_TIME_DESC}; default {default}",
        "schema": {"type": "string"},
    }


_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["vi", "en"]},
    "description": "language of texts (cause_text, cause, where); default the collector's http.language (Vietnamese)",
}
_RANGE = [
    {
        "name": "range",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["24h", "7d", "30d", "custom"]},
        "description": "time range of outages, availability and history; default 7d (custom: from/to)",
    },
    _time_param("from", "'to' minus 7 days; a date alone is its midnight"),
    _time_param("to", "now; a date alone means the end of that day"),
]


def _op(summary: str, schema: str, params: list[Schema], errors: tuple[int, ...] = (400, 401)) -> Schema:
    responses: dict[str, Schema] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }
    for code in errors:
        responses[str(code)] = {
            "description": {400: "bad parameter", 401: "token required", 404: "not found"}[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return {
        "get": {
            "summary": summary,
            "operationId": schema[0].lower() + schema[1:],
            "parameters": params,
            "responses": responses,
        }
    }


def _path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def document() -> Schema:
    """The OpenAPI 3.0 document."""
    window = [_time_param("from", "'to' minus 1 day"), _time_param("to", "now")]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "netmon collector API",
            "version": "1",
            "description": "Read-only state of the province's dedicated data network: communes, districts, "
            "devices, outages, availability and coverage. Times are Unix seconds.",
        },
        "paths": {
            "/api/v1/overview": _op("The province: coverage per district, what is down", "Overview", [_LANG]),
            "/api/v1/districts/{code}": _op(
                "A district and its communes", "District", [_path_param("code"), _LANG, *_RANGE], (400, 401, 404)
            ),
            "/api/v1/communes/{code}": _op(
                "A commune (the site page): devices, history, outages, reboots",
                "Commune",
                [_path_param("code"), _LANG, *_RANGE],
                (400, 401, 404),
            ),
            "/api/v1/devices/{id}": _op(
                "A device: its state, history, outages and reboots",
                "Device",
                [_path_param("id"), _LANG, *_RANGE],
                (400, 401, 404),
            ),
            "/api/v1/search": _op(
                "Communes and districts by name (diacritics optional) or GSO code",
                "Search",
                [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 200}},
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
            ),
            "/api/v1/outages": _op(
                "Outages overlapping a window, newest first",
                "Outages",
                [
                    *window,
                    _LANG,
                    {"name": "device", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "commune", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "district", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10000},
                    },
                ],
            ),
            "/api/v1/availability": _op(
                "Time in each state of a unit over a window",
                "AvailabilityAnswer",
                [
                    {
                        "name": "scope",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["device", "commune", "district", "province"]},
                    },
                    {
                        "name": "id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "device id or unit code; not needed for the province",
                    },
                    *window,
                ],
                (400, 401, 404),
            ),
            "/api/v1/coverage": _op(
                "Province coverage over a window",
                "Coverage",
                [
                    *window,
                    {
                        "name": "step",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                        "description": "seconds between points (at most 5000 points)",
                    },
                ],
            ),
        },
        "components": {
            "schemas": {
                "Counts": COUNTS,
                "Availability": AVAILABILITY,
                "Outage": OUTAGE,
                "Reboot": REBOOT,
                "Reboots": REBOOTS,
                "Interface": INTERFACE,
                "HistoryPoint": HISTORY_POINT,
                "Measured": MEASURED,
                "Range": RANGE,
                "CommuneBrief": _obj(COMMUNE_BRIEF_PROPS),
                "Device": DEVICE,
                "Commune": COMMUNE,
                "District": DISTRICT,
                "Overview": OVERVIEW,
                "Search": SEARCH,
                "Outages": OUTAGES,
                "AvailabilityAnswer": AVAILABILITY_ANSWER,
                "Coverage": COVERAGE,
                "Error": ERROR,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
