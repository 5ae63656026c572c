"""Correcting a prediction from the history page in Chromium: a visitor's correction is a
suggestion, and the model learns it once an operator accepts it on the review page."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from conftest import bearer, cli, cli_token, data_uri, drawn_one, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def learning_server(tmp_path_factory):
    """A server of its own (2 workers): what its digits-knn learns stays in its own store."""
    root = tmp_path_factory.mktemp("history-browser")
    server = start_server(root, root / "models", ("digits-knn",), args=("--workers", "2"))
    # An operator, made as one is on a server: a person who signs in, and a program's token.
    cli(root, "users", "create", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
    server.token = cli_token(root, "operator")
    yield server
    stop_server(server)


OPERATOR, PASSWORD = "olga", "reviewing since 1999"


def wait_until_listed(server, prediction_id: str) -> None:
    """The writer stores predictions in batches every few tens of milliseconds."""
    request = urllib.request.Request(
        server.url + "/api/v1/predictions?per_page=100", headers=bearer(server.token)
    )
    for _ in range(100):
        with urllib.request.urlopen(request, timeout=10) as r:
            if any(p["id"] == prediction_id for p in json.loads(r.read())["predictions"]):
                return
        time.sleep(0.05)
    raise AssertionError(f"prediction {prediction_id} never reached the history")


def predict_in(page, url: str, drawing: bytes) -> dict:
    """A prediction made by the page's visitor (their cookies), as draw.js makes it."""
    response = page.request.post(
        url + "/api/predict",
        data=json.dumps({"image": data_uri(drawing)}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert response.ok, response.text()
    return response.json()


def predict(url: str, drawing: bytes) -> dict:
    request = urllib.request.Request(
        url + "/api/predict",
        data=json.dumps({"image": data_uri(drawing)}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_correct_a_drawing_from_the_history_page(learning_server, page, browser):
    url = learning_server.url
    drawing = drawn_one(size=(240, 320))
    made = predict_in(page, url, drawing)
    correction = "7" if made["digit"] != 7 else "4"
    wait_until_listed(learning_server, made["id"])

    page.goto(url + "/history")
    assert page.get_by_role("heading", name="Your predictions").is_visible()
    row = page.locator(f'tr[data-prediction-id="{made["id"]}"]')
    row.get_by_role("button", name="Give feedback").click()
    row.get_by_role("button", name="Wrong? It is: …").click()
    row.get_by_role("button", name=correction, exact=True).click()
    status = row.get_by_role("status")
    status.filter(has_text="Thanks").wait_for()
    assert f"recorded as {correction}" in status.inner_text()
    assert "suggestion until an operator reviews it" in status.inner_text()
    assert "learned" not in status.inner_text()

    page.goto(url + "/history?corrected=true")
    corrected = page.locator(f'tr[data-prediction-id="{made["id"]}"]')
    assert correction in corrected.locator(".history-feedback").inner_text()
    assert "suggestion" in corrected.locator(".history-feedback").inner_text()
    image = corrected.locator("img")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 240

    # A suggestion teaches nothing: both workers still answer as before, for everyone.
    assert {predict(url, drawing)["digit"] for _ in range(8)} == {made["digit"]}

    # An operator signs in, finds it on the review page and accepts it.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        review = context.new_page()
        review.goto(url + "/review")  # sent to sign in first, and back
        review.get_by_label("Name").fill(OPERATOR)
        review.get_by_label("Password").fill(PASSWORD)
        review.get_by_role("button", name="Sign in").click()
        review.wait_for_url(url + "/review")
        assert f"Signed in as {OPERATOR} (operator)" in review.locator("#signed-in").inner_text()
        suggestion = review.locator(f'tr[data-prediction-id="{made["id"]}"]')
        assert correction in suggestion.inner_text()
        shown = suggestion.locator("img")
        assert shown.evaluate("img => img.complete && img.naturalWidth") == 240
        suggestion.get_by_role("button", name="Accept").click()
        review.get_by_role("status").filter(has_text="has learned").wait_for()
        assert review.locator(f'tr[data-prediction-id="{made["id"]}"]').count() == 0
        review.get_by_role("button", name="Sign out").click()
        review.get_by_role("link", name="Sign in").wait_for()
    finally:
        context.close()

    # Both workers answer the same drawing with the correction now: each reads what was
    # learned every 0.2 s, so within the second they are given.
    deadline = time.monotonic() + 1.0
    while (answers := {predict(url, drawing)["digit"] for _ in range(8)}) != {int(correction)}:
        assert time.monotonic() < deadline, answers


def test_the_class_search_for_models_with_many_labels(learning_server, page):
    url = learning_server.url
    page.goto(url + "/history")
    made = predict_in(page, url, drawn_one())
    labels = [str(d) for d in range(10)] + [f"not a digit {i}" for i in range(10)]
    page.evaluate(
        """([id, labels, predicted]) => {
            const box = document.createElement("div");
            box.id = "widget";
            document.querySelector("main").prepend(box);
            window.modelportFeedback.mount(box, {
                predictionId: id, model: "digits-knn", labels: labels, predicted: predicted});
        }""",
        [made["id"], labels, str(made["digit"])],
    )
    widget = page.locator("#widget")
    widget.get_by_role("button", name="Wrong? It is: …").click()
    search = widget.get_by_label("The right class")
    search.fill("no such class")
    widget.get_by_role("button", name="Send").click()
    widget.get_by_role("status").filter(has_text="Pick one of the model's classes").wait_for()
    search.fill("3")
    widget.get_by_role("button", name="Send").click()
    widget.get_by_role("status").filter(has_text="Thanks").wait_for()
    listed = page.request.get(url + "/api/v1/predictions?corrected=true").json()["predictions"]
    assert [p["feedback"]["label"] for p in listed if p["id"] == made["id"]] == ["3"]
