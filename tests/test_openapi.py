"""OpenAPI 3.1 at /openapi.json, Swagger UI at /docs, and Schemathesis against the live server."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from modelport.web.openapi import documented, openapi_path

REQUEST_TIMEOUT_S = 15  # a request that takes longer is a hang, and fails the case
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def spec(app) -> dict:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_api_route_is_in_the_document(app, spec):
    rules = [rule for rule in app.url_map.iter_rules() if documented(rule.rule)]
    assert len(rules) > 20
    for rule in rules:
        operations = spec["paths"].get(openapi_path(rule.rule))
        assert operations is not None, rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = operations.get(method.lower())
            assert operation is not None, f"{method} {rule.rule}"
            succeeds = any(code.startswith("2") for code in operation["responses"])
            assert succeeds or rule.endpoint == "v2.no_such_route", f"{method} {rule.rule}"
            assert any(code.startswith("4") for code in operation["responses"]), rule.rule


def test_predict_describes_every_input_form_and_the_loaded_models(app, spec):
    predict = spec["paths"]["/api/v1/models/{name}/predict"]["post"]
    content = predict["requestBody"]["content"]
    assert set(content) == {
        "application/json",
        "multipart/form-data",
        "image/png",
        "image/jpeg",
        "application/octet-stream",
    }
    name = next(p for p in predict["parameters"] if p["name"] == "name")
    models = [m.name for m in app.extensions["modelport"].registry]
    assert name["schema"]["enum"] == models
    assert set(content["application/json"]["examples"]) == set(models)
    for model in app.extensions["modelport"].registry:
        assert f"**{model.name}**" in predict["description"]
        assert model.labels[0] in predict["description"]
    limited = predict["responses"]["429"]
    assert "Retry-After" in limited["headers"]
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "detail"}
    assert predict["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.browser
def test_the_docs_page_shows_every_route(live_server, page):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="API", exact=True).click()
    page.wait_for_url("**/docs")
    page.locator(".opblock").first.wait_for(timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    shown = {path.replace("\u200b", "").strip() for path in paths}
    for path in (
        "/api/predict",
        "/api/v1/models/{name}/predict",
        "/api/v1/predictions",
        "/v2/models/{name}/infer",
        "/healthz",
        "/metrics",
    ):
        assert path in shown, (path, shown)


@pytest.fixture(scope="module")
def live_schema(live_server):
    return schemathesis.openapi.from_url(live_server.url + "/openapi.json", timeout=30)


@pytest.mark.slow
def test_every_operation_keeps_its_contract(live_schema):
    """Schemathesis on every operation of the live server: no 5xx, every answer as
    documented (429 included), none slower than the timeout. (Its pytest plugin does not
    run under pytest 9, so each operation runs as a Hypothesis test here.)"""
    problems = []
    operations = [result.ok() for result in live_schema.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure can be reproduced
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def keeps_its_contract(case):
            case.call_and_validate(
                checks=[not_a_server_error, response_schema_conformance],
                timeout=REQUEST_TIMEOUT_S,
            )

        try:
            keeps_its_contract()
        except Exception as exc:  # noqa: BLE001 - every operation's failure, then one report
            problems.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not problems, "\n\n".join(problems)


@pytest.mark.browser
def test_a_model_page_shows_its_api_calls(live_server, page):
    page.goto(live_server.url + "/models/digits")
    box = page.locator("#use-the-api")
    box.wait_for()
    assert box.is_visible()
    text = box.inner_text()
    assert f"curl -F file=@drawing.png {live_server.url}/api/v1/models/digits/predict" in text
    assert f'Client("{live_server.url}").predict("digits", "drawing.png")' in text
    assert box.get_by_role("link", name="Every route, in the API docs").is_visible()
