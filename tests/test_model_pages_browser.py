"""Models added by hand, tried on their own pages in Chromium against ``modelport serve``."""

from __future__ import annotations

import pytest
from conftest import start_server, stop_server
from model_factories import colours_model, penguins_model, solid_png
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def own_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-models-browser")
    penguins = penguins_model(root / "models")
    colours_model(root / "models")
    server = start_server(root, root / "models", ("penguins", "colours"), args=("--workers", "1"))
    yield server, penguins
    stop_server(server)


def fill_in(page, row: dict) -> None:
    for name, value in row.items():
        field = page.locator(f'#tabular-form [name="{name}"]')
        if isinstance(value, str):
            field.select_option(value)
        else:
            field.fill(f"{value:g}")


def answer(page) -> str:
    page.locator("#result").wait_for(state="visible")
    return page.locator("#best").inner_text().strip()


@pytest.mark.parametrize("index", [0, 5, 42])
def test_a_row_filled_in_is_answered_as_the_pipeline_answers_it(own_models, page, index):
    server, penguins = own_models
    row = penguins.row(index)
    page.goto(f"{server.url}/models/penguins")
    fill_in(page, row)
    page.get_by_role("button", name="Predict").click()
    assert answer(page) == penguins.predict(row)
    rows = page.locator("#bars [data-testid=class-row]")
    assert rows.count() == 3
    assert rows.first.locator(".bar-percent").inner_text().endswith("%")
    assert page.url.endswith("/models/penguins")  # answered in place by the JSON API
    assert "penguins 2.1" in page.locator("#meta").inner_text()


def test_the_form_works_with_javascript_off(own_models, browser):
    server, penguins = own_models
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        row = penguins.row(3)
        page.goto(f"{server.url}/models/penguins")
        fill_in(page, row)
        page.get_by_role("button", name="Predict").click()
        page.wait_for_load_state()
        assert answer(page) == penguins.predict(row)
        value = page.locator('[name="bill length (mm)"]').input_value()
        assert float(value) == row["bill length (mm)"]  # kept, to change and send again
    finally:
        context.close()


def test_a_png_uploaded_on_the_photo_models_page_is_named(own_models, page, tmp_path):
    server, _ = own_models
    picture = tmp_path / "sky.png"
    picture.write_bytes(solid_png((30, 60, 220)))
    page.goto(f"{server.url}/models/colours")
    page.locator("#file").set_input_files(str(picture))
    assert answer(page) == "blue"
    assert page.locator("#bars [data-testid=class-row]").count() == 3
    expect(page.locator("#preview")).to_have_js_property("naturalWidth", 48)


def test_an_answer_marked_wrong_is_stored_and_counted_on_the_card(own_models, page):
    server, penguins = own_models
    row = penguins.row(9)
    page.goto(f"{server.url}/models/penguins")
    fill_in(page, row)
    page.get_by_role("button", name="Predict").click()
    said = answer(page)
    prediction_id = page.locator("#result").get_attribute("data-prediction-id")
    other = next(label for label in ("Adelie", "Chinstrap", "Gentoo") if label != said)
    page.get_by_role("button", name="Wrong? It is: …").click()
    choices = page.locator("#feedback .mp-feedback-choice")
    assert sorted(choices.all_inner_texts()) == sorted({"Adelie", "Chinstrap", "Gentoo"} - {said})
    page.get_by_role("button", name=other, exact=True).click()
    page.get_by_text(f"Thanks: recorded as {other}.").wait_for()

    # The page's visitor sees their own predictions (the page's cookies go along).
    listed = page.request.get(f"{server.url}/api/v1/predictions?model=penguins&corrected=true")
    listed = listed.json()
    mine = [p for p in listed["predictions"] if p["id"] == prediction_id]
    assert mine and mine[0]["feedback"]["label"] == other and mine[0]["inputs"] == row
    page.reload()
    assert "0 right of 1 judged" in page.locator("#live-accuracy").inner_text()
    page.locator("#confusion-matrix").wait_for()

    page.goto(f"{server.url}/history?model=penguins&corrected=true")
    stored = page.locator(f'tr[data-prediction-id="{prediction_id}"]')
    assert "bill length (mm)" in stored.locator(".history-inputs").inner_text()
    assert other in stored.locator(".history-feedback").inner_text()
