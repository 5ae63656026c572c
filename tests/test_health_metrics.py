"""Health, readiness, Prometheus metrics and request ids, through the test client."""

from __future__ import annotations

import json
import logging
import os

import pytest
from conftest import data_uri, drawn_one, make_app
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from modelport.web.observability import JsonLines, access_log


@pytest.fixture(scope="module")
def app(tmp_path_factory, model_store):
    """An app serving only the classic k-NN, which always loads (it trains in a second)."""
    return make_app(tmp_path_factory.mktemp("health"), model_store, ("digits-knn",))


def sample_value(client, name: str, **labels: str) -> float:
    """The current value of one sample of ``/metrics`` (0 when it is not there yet)."""
    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


def test_readyz_is_200_when_every_configured_model_is_loaded_and_warm(client, app):
    response = client.get("/readyz")
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["status"] == "ready"
    assert set(answer["models"]) == set(app.extensions["modelport"].settings.models)
    assert set(answer["models"].values()) == {"ready"}
    assert all(ms > 0 for ms in answer["warmup_ms"].values())


def test_readyz_is_503_with_json_when_a_configured_model_did_not_load(tmp_path, model_store):
    client = make_app(tmp_path, model_store, ("digits-knn", "no-such-model")).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    answer = response.get_json()
    assert answer["error"] == "not_ready"
    assert answer["detail"]
    assert answer["models"]["digits-knn"] == "ready"
    assert answer["models"]["no-such-model"].startswith("failed")
    # Alive all the same: restarting this process would not make the model appear.
    assert client.get("/healthz").status_code == 200
    # The models that did load still serve.
    body = {"image": data_uri(drawn_one()), "model": "digits-knn"}
    assert client.post("/api/predict", json=body).status_code == 200


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/api/v1/models/nope").headers["X-Request-ID"]
    assert len(first) >= 16 and len(second) >= 16
    assert first != second


def test_the_callers_request_id_is_kept_and_a_malformed_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
    assert kept.headers["X-Request-ID"] == "trace-42.a:b"
    odd = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert odd.headers["X-Request-ID"] != "x" * 500
    injected = client.get("/healthz", headers={"X-Request-ID": 'a"} {"admin":true'})
    assert injected.headers["X-Request-ID"].isalnum()


def test_metrics_count_requests_by_route_and_status(client):
    route = {"route": "/api/v1/models/<name>", "method": "GET"}
    ok_before = sample_value(client, "modelport_http_requests_total", status="200", **route)
    missing_before = sample_value(client, "modelport_http_requests_total", status="404", **route)
    client.get("/api/v1/models/digits-knn")
    client.get("/api/v1/models/digits-knn")
    client.get("/api/v1/models/no-such-model")
    assert sample_value(client, "modelport_http_requests_total", status="200", **route) == (
        ok_before + 2
    )
    assert sample_value(client, "modelport_http_requests_total", status="404", **route) == (
        missing_before + 1
    )
    response = client.get("/metrics")
    assert response.mimetype == "text/plain"


def test_metrics_time_predictions_per_model_and_count_refusals(client):
    count = "modelport_prediction_duration_seconds_count"
    before = sample_value(client, count, model="digits-knn")
    body = {"image": data_uri(drawn_one()), "model": "digits-knn"}
    assert client.post("/api/predict", json=body).status_code == 200
    assert sample_value(client, count, model="digits-knn") == before + 1

    failed = "modelport_predictions_failed_total"
    refused_before = sample_value(client, failed, model="digits-knn", error="empty_drawing")
    blank = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    from conftest import png_bytes

    body = {"image": data_uri(png_bytes(blank)), "model": "digits-knn"}
    assert client.post("/api/predict", json=body).status_code == 422
    assert (
        sample_value(client, failed, model="digits-knn", error="empty_drawing")
        == refused_before + 1
    )


def test_metrics_count_the_predictions_recorded(client, app):
    assert app.extensions["modelport"].recorder.flush(timeout=10)  # earlier tests' predictions
    before = sample_value(client, "modelport_predictions_recorded_total")
    for _ in range(3):
        response = client.post("/api/predict", json={"image": data_uri(drawn_one())})
        assert response.status_code == 200
    assert app.extensions["modelport"].recorder.flush(timeout=10)
    assert sample_value(client, "modelport_predictions_recorded_total") == before + 3


def test_metrics_name_every_family(client):
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "modelport_predictions_not_recorded_total",
        "modelport_batch_size",
        "modelport_queue_depth",
        "modelport_requests_in_flight",
        "modelport_http_request_duration_seconds",
    ):
        assert name in text


def test_each_request_is_one_json_log_line_with_its_id(client):
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonLines().format(record))

    handler = Collect()
    access_log.addHandler(handler)
    try:
        response = client.get("/api/v1/models", headers={"X-Request-ID": "log-test-1"})
    finally:
        access_log.removeHandler(handler)
    assert response.status_code == 200
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["request_id"] == "log-test-1"
    assert entry["route"] == "/api/v1/models"
    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert entry["duration_ms"] >= 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_refuse_other_methods_with_json(client, path):
    response = client.post(path)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_a_program_asking_for_json_gets_json_errors_outside_the_api(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    page = client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_request_ids_are_unique_across_threads_and_forked_children():
    from concurrent.futures import ThreadPoolExecutor

    from modelport.web.observability import _Ids

    ids = _Ids()
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: ids.next(), range(2000)))
    assert len(set(made)) == 2000
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only reports its id
        os.write(writer, ids.next().encode())
        os._exit(0)
    os.close(writer)
    from_child = os.read(reader, 64).decode()
    os.waitpid(child, 0)
    assert from_child[:20] != made[0][:20]
