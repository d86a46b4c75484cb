"""The JSON API under a property-based fuzzer (schemathesis): no 5xx, answers match the schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from netmon.collector.web.openapi import document
from tests.people_scenario import HOUR, T0, engine_at
from tests.services_web import serve_app

schema = schemathesis.openapi.from_dict(document())

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_app(engine_at(T0 + 14.5 * HOUR)) as url:
        yield url


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_conforms(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/communes/21211",
        "/api/v1/districts/535",
        "/api/v1/devices/d535-r1",
        "/api/v1/search?q=tinh%20khe",
        "/api/v1/availability?scope=province",
        "/api/v1/coverage?step=3600",
    ],
)
def test_real_answers_conform_to_the_schema(path: str, base_url: str) -> None:
    # The fuzzer rarely guesses a real code; these requests exercise the full answers.
    op_path = path.split("?", maxsplit=1)[0]
    for template in schema.raw_schema["paths"]:
        prefix = template.split("{")[0]
        if op_path == template or (
            "{" in template and op_path.startswith(prefix) and op_path.count("/") == template.count("/")
        ):
            break
    else:
        raise AssertionError(path)
    op = schema[template]["GET"]
    params = dict(p.split("=") for p in path.split("?")[1].split("&")) if "?" in path else {}
    path_parameters = {}
    if "{" in template:
        name = template.split("{")[1].rstrip("}")
        path_parameters[name] = op_path.rsplit("/", 1)[1]
    case = op.Case(path_parameters=path_parameters, query={k: v.replace("%20", " ") for k, v in params.items()})
    response = case.call_and_validate(base_url=base_url, checks=CHECKS)
    assert response.status_code == 200
