"""The history page in Chromium: a card per prediction on a phone, thumbnails shown larger,
and Right / Wrong as plain forms that work without JavaScript."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import data_uri, drawn_one, start_server, stop_server
from model_factories import penguins_model
from photo_samples import chelsea_jpeg
from playwright.sync_api import expect
from test_accessibility import check

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def open_context(browser):
    """``open_context(**options)``: a browser context of its own (a visitor with their own
    cookies) that fails the test on any console error; closed at the end."""
    contexts, problems = [], []

    def open_(**options):
        context = browser.new_context(**options)
        context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        context.on("weberror", lambda error: problems.append(str(error.error)))
        contexts.append(context)
        return context

    yield open_
    for context in contexts:
        context.close()
    assert not problems, f"browser console errors: {problems}"


def phone(open_context, **options):
    return open_context(viewport=PHONE, is_mobile=True, has_touch=True, **options).new_page()


def predict(page, url: str, model: str, picture: bytes, mime: str = "image/png") -> dict:
    """A prediction made by the page's visitor (their cookies), as the pages make them."""
    response = page.request.post(
        f"{url}/api/v1/models/{model}/predict",
        data=json.dumps({"image": data_uri(picture, mime)}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert response.ok, response.text()
    return response.json()


def wait_until_listed(page, url: str, *prediction_ids: str) -> None:
    """Predictions are stored by a writer a moment after they are answered."""
    for _ in range(200):
        listed = page.request.get(f"{url}/api/v1/predictions?per_page=100").json()["predictions"]
        if set(prediction_ids) <= {p["id"] for p in listed}:
            return
        time.sleep(0.05)
    raise AssertionError(f"predictions {prediction_ids} never reached the history")


def made_a_drawing_and_a_photo(page, url: str) -> list[str]:
    made = [
        predict(page, url, "digits-knn", drawn_one(size=(240, 320)))["id"],
        predict(page, url, "efficientnet-lite0", chelsea_jpeg(), "image/jpeg")["id"],
    ]
    wait_until_listed(page, url, *made)
    return made


def row_of(page, prediction_id: str):
    return page.locator(f'tr[data-prediction-id="{prediction_id}"]')


def click_thumbnail(page, prediction_id: str) -> None:
    """Where a person clicks: on the picture (the link laid over it takes the click)."""
    box = row_of(page, prediction_id).locator("img").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def inside_horizontally(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


# -- a phone: no sideways scrolling, the time in view -----------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_on_a_phone_each_prediction_fits_with_its_time_in_view(
    open_context, live_server, javascript
):
    page = phone(open_context, java_script_enabled=javascript)
    made = made_a_drawing_and_a_photo(page, live_server.url)
    page.goto(live_server.url + "/history")

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for prediction_id in made:
        row = row_of(page, prediction_id)
        for part in ("time", "img", "td:nth-child(2)", "td:nth-child(4) a", ".history-feedback"):
            expect(row.locator(part)).to_be_visible()
            assert inside_horizontally(page, row.locator(part)), (prediction_id, part)
    feedback = row_of(page, made[0]).locator(".history-feedback")
    if javascript:
        expect(feedback.get_by_role("button", name="Give feedback")).to_be_visible()
        expect(feedback.locator("form")).to_have_count(0)
    else:
        expect(feedback.get_by_role("button", name="Right")).to_be_visible()
        feedback.get_by_text("Wrong? It is: …").click()
        expect(feedback.get_by_label("The right answer")).to_be_visible()
        assert inside_horizontally(page, feedback.get_by_role("button", name="Send"))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture(scope="module")
def penguins_server(tmp_path_factory):
    """A server of its own with a model that takes rows of numbers and words."""
    root = tmp_path_factory.mktemp("history-phone-tabular")
    penguins = penguins_model(root / "models")
    server = start_server(root, root / "models", ("penguins",), args=("--workers", "1"))
    server.penguins = penguins
    yield server
    stop_server(server)


def test_on_a_phone_a_row_of_numbers_fits_too(open_context, penguins_server):
    url = penguins_server.url
    page = phone(open_context, java_script_enabled=False)
    response = page.request.post(
        f"{url}/api/v1/models/penguins/predict",
        data=json.dumps({"inputs": penguins_server.penguins.row(3)}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert response.ok, response.text()
    made = response.json()["id"]
    wait_until_listed(page, url, made)
    page.goto(url + "/history")
    row = row_of(page, made)
    inputs = row.get_by_role("table", name=f"Row sent for prediction {made}")
    expect(inputs.get_by_role("rowheader", name="flipper length (mm)")).to_be_visible()
    for part in (row.locator("time"), inputs, row.get_by_role("button", name="Right")):
        expect(part).to_be_visible()
        assert inside_horizontally(page, part)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_on_a_phone_the_feedback_widget_fits_too(open_context, live_server):
    page = phone(open_context)
    made = made_a_drawing_and_a_photo(page, live_server.url)
    page.goto(live_server.url + "/history")
    for prediction_id in made:
        row = row_of(page, prediction_id)
        row.get_by_role("button", name="Give feedback").click()
        row.get_by_role("button", name="Wrong? It is: …").click()
    expect(row_of(page, made[1]).get_by_label("The right class")).to_be_focused()
    expect(row_of(page, made[0]).locator(".mp-feedback-choice").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_on_a_desktop_the_history_is_still_a_table(open_context, live_server):
    page = open_context(viewport=DESKTOP).new_page()
    made = made_a_drawing_and_a_photo(page, live_server.url)
    page.goto(live_server.url + "/history")
    for header in ("Input", "Answer", "Correction", "Model", "Time"):
        expect(page.get_by_role("columnheader", name=header)).to_be_visible()
    row = row_of(page, made[0])
    assert row.evaluate("tr => getComputedStyle(tr).display") == "table-row"
    answer, when = row.locator("td:nth-child(2)").bounding_box(), row.locator("time").bounding_box()
    assert answer["x"] < when["x"]
    assert answer["y"] <= when["y"] + when["height"] / 2 <= answer["y"] + answer["height"]
    expect(row.locator("td:nth-child(4) .text-secondary")).to_be_visible()  # its version


def test_a_page_past_the_end_links_back_on_a_phone(open_context, live_server):
    page = phone(open_context)
    made = made_a_drawing_and_a_photo(page, live_server.url)
    page.goto(live_server.url + "/history?per_page=1&page=99")
    back = page.get_by_role("link", name=re.compile(r"Go to the last page \(\d+\)"))
    expect(page.locator("#history-empty")).to_contain_text("No predictions match on page 99")
    back.click()
    expect(page.locator("tr[data-prediction-id]")).to_have_count(1)
    expect(row_of(page, made[0])).to_be_visible()  # the oldest of this visitor's two


# -- thumbnails shown larger ------------------------------------------------------------------


def test_a_thumbnail_opens_larger_and_escape_gives_the_focus_back(open_context, live_server):
    page = phone(open_context)
    drawing, photo = made_a_drawing_and_a_photo(page, live_server.url)
    page.goto(live_server.url + "/history")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_hidden()

    link = row_of(page, drawing).get_by_role("link", name="Show the drawing larger")
    link.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    large = dialog.get_by_role("img", name=f"Drawing sent for prediction {drawing}")
    expect(large).to_have_js_property("naturalWidth", 240)
    assert large.evaluate("img => getComputedStyle(img).imageRendering") == "pixelated"
    assert (
        large.bounding_box()["width"]
        > 4 * row_of(page, drawing).locator("img").bounding_box()["width"]
    )
    assert inside_horizontally(page, large)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(link).to_be_focused()

    click_thumbnail(page, photo)
    expect(dialog.get_by_role("img", name=f"Photo sent for prediction {photo}")).to_be_visible()
    large = dialog.locator("img")
    assert large.evaluate("img => getComputedStyle(img).imageRendering") == "auto"
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(row_of(page, photo).locator("a[data-enlarge]")).to_be_focused()


def test_without_script_a_thumbnail_links_to_the_picture_for_its_maker_only(
    browser, open_context, live_server
):
    # Chromium's own viewer for a picture opened on its own styles itself inline, which the
    # picture's CSP refuses in the console: this visitor's console is not watched.
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        drawing, _ = made_a_drawing_and_a_photo(page, live_server.url)
        page.goto(live_server.url + "/history")
        click_thumbnail(page, drawing)
        page.wait_for_url(f"**/api/v1/predictions/{drawing}/input")
        assert page.evaluate("document.images[0].naturalWidth") == 240
        picture = page.request.get(page.url)
        assert picture.status == 200 and picture.headers["content-type"] == "image/png"
    finally:
        context.close()

    someone_else = open_context(viewport=DESKTOP).new_page()
    refused = someone_else.request.get(page.url, headers={"Accept": "application/json"})
    assert refused.status == 404 and refused.json()["error"] == "unknown_prediction"


# -- Right / Wrong without JavaScript ---------------------------------------------------------


def test_without_script_wrong_and_right_are_sent_as_forms(open_context, live_server):
    page = open_context(viewport=DESKTOP, java_script_enabled=False).new_page()
    wrong, right = (predict(page, live_server.url, "digits-knn", drawn_one())["id"] for _ in "ab")
    wait_until_listed(page, live_server.url, wrong, right)
    page.goto(live_server.url + "/history?model=digits-knn")
    predicted = row_of(page, wrong).locator("td:nth-child(2) .fw-semibold").inner_text()
    correction = "7" if predicted != "7" else "4"

    row = row_of(page, wrong)
    row.get_by_text("Wrong? It is: …").click()
    row.get_by_label("The right answer").select_option(correction)
    row.get_by_role("button", name="Send").click()
    page.wait_for_url("**/history?model=digits-knn")
    expect(page.get_by_test_id("flash")).to_contain_text(f"Thanks: recorded as {correction}.")
    judged = row_of(page, wrong).locator(".history-feedback")
    expect(judged).to_contain_text(f"wrong it is {correction}")
    expect(judged).to_contain_text("suggestion")
    expect(judged.locator("form")).to_have_count(0)

    row_of(page, right).get_by_role("button", name="Right").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Thanks: marked right.")
    expect(row_of(page, right).locator(".history-feedback")).to_have_text("right")
    listed = page.request.get(f"{live_server.url}/api/v1/predictions?model=digits-knn").json()
    answers = {p["id"]: p["feedback"]["label"] for p in listed["predictions"] if p["feedback"]}
    assert answers == {wrong: correction, right: predicted}


def test_without_script_a_wrong_answer_needs_a_label(open_context, live_server):
    page = open_context(viewport=DESKTOP, java_script_enabled=False).new_page()
    made = predict(page, live_server.url, "digits-knn", drawn_one())["id"]
    wait_until_listed(page, live_server.url, made)
    page.goto(live_server.url + "/history")
    row = row_of(page, made)
    row.get_by_text("Wrong? It is: …").click()
    row.get_by_role("button", name="Send").click()  # nothing chosen: the browser asks first
    assert row.get_by_label("The right answer").evaluate("select => !select.validity.valid")
    listed = page.request.get(f"{live_server.url}/api/v1/predictions").json()["predictions"]
    assert [p["feedback"] for p in listed if p["id"] == made] == [None]


# -- accessibility of what this page adds ------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_history_with_rows_has_no_serious_violations(
    open_context, live_server, javascript, viewport
):
    context = open_context(
        viewport=viewport, java_script_enabled=javascript, bypass_csp=True, reduced_motion="reduce"
    )
    page = context.new_page()
    drawing, _ = made_a_drawing_and_a_photo(page, live_server.url)
    page.goto(live_server.url + "/history")
    if not javascript:
        row_of(page, drawing).get_by_text("Wrong? It is: …").click()
        # axe is a script: it runs on the same markup in a page where only ours is left out.
        html = page.content()
        scripted = open_context(viewport=viewport, bypass_csp=True, reduced_motion="reduce")
        scripted.add_cookies(context.cookies())
        page = scripted.new_page()
        page.route("**/history", lambda route: route.fulfill(body=html, content_type="text/html"))
        page.route("**/static/js/*.js", lambda route: route.fulfill(body=""))
        page.goto(live_server.url + "/history")
        expect(row_of(page, drawing).get_by_label("The right answer")).to_be_visible()
    check(page, f"/history ({'script' if javascript else 'no script'})")
    if javascript:
        click_thumbnail(page, drawing)
        expect(page.get_by_role("dialog")).to_be_visible()
        check(page, "/history (a picture shown larger)")
