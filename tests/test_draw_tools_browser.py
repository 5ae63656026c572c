"""The drawing tools in Chromium: answers while the pen moves, brush sizes, the eraser,
example drawings, and /draw with JavaScript off (a picture uploaded, Right as a form)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import SEVEN, canvas_point, checked_page, draw, pen_down_along
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[1] / "src/modelport/web/static/examples/digits"
LINE = [(0.2, 0.5), (0.8, 0.5)]
WIGGLE = [(0.45, 0.82), (0.46, 0.83)]  # the pen moving on at the seven's foot
MAX_WIGGLES = 3000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
INK_PIXELS = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
  return inked;
}"""


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def sized_page(request, browser):
    """A page at a desktop's or a phone's size that fails on any console error."""
    yield from checked_page(browser.new_context(viewport=request.param))


def ink(page) -> int:
    return page.eval_on_selector("#pad", INK_PIXELS)


def test_the_answer_updates_while_the_pen_is_still_down(sized_page, live_server):
    page = sized_page
    page.goto(f"{live_server.url}/draw?model=digits")
    asked: list[dict] = []
    page.on(
        "request",
        lambda r: asked.append(r.post_data_json) if r.url.endswith("/api/predict") else None,
    )
    pen_down_along(page, SEVEN)
    expect(page.locator("#digit")).not_to_have_text("")  # the pen has not lifted yet
    assert asked, "no answer was asked for during the stroke"
    assert all(body["draft"] is True for body in asked)  # answered, not stored
    with page.expect_response("**/api/predict") as lifted:
        page.mouse.up()  # the pen lifting always asks once more, for the whole stroke
    assert lifted.value.ok
    assert lifted.value.request.post_data_json["draft"] is False
    assert lifted.value.json()["id"]  # the whole drawing is stored, once
    expect(page.locator("#digit")).to_have_text("7")


def test_the_answer_comes_while_the_pen_keeps_moving(page, live_server):
    page.goto(f"{live_server.url}/draw?model=digits")
    pen_down_along(page, SEVEN)
    digit = page.locator("#digit")
    for move in range(MAX_WIGGLES):  # never still long enough for a pause to trigger it
        if digit.inner_text():
            break
        page.mouse.move(*canvas_point(page, *WIGGLE[move % 2]))
    assert digit.inner_text(), f"no answer during {MAX_WIGGLES} moves of the pen"
    page.mouse.up()


def test_an_answer_to_a_drawing_gone_never_replaces_the_newer_one(page, live_server):
    page.goto(f"{live_server.url}/draw?model=digits")
    held = []

    def hold(route) -> None:
        held.append(route)

    page.route("**/api/predict", hold)
    with page.expect_request("**/api/predict"):
        draw(page, SEVEN)  # its answer is held back on the way
    draw(page, LINE)
    page.get_by_role("button", name="Undo").click()  # the line goes: that answer is stale
    while not held:  # the route handler runs as Playwright dispatches its events
        page.wait_for_timeout(20)
    with page.expect_request("**/api/predict"):
        held[0].continue_()  # the stale answer arrives, then the seven alone is asked for
    assert page.locator("#digit").inner_text() == ""
    expect(page.locator("#placeholder")).to_be_visible()
    for route in held[1:]:
        route.continue_()
    page.unroute("**/api/predict", hold)  # lets through any request not yet held
    expect(page.locator("#digit")).to_have_text("7")


def test_a_thicker_brush_draws_a_wider_line(page, live_server):
    page.goto(f"{live_server.url}/draw")
    widths = {}
    for size in ("Thin", "Medium", "Thick"):
        button = page.get_by_role("button", name=size, exact=True)
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        draw(page, LINE)
        widths[size] = ink(page)
        page.get_by_role("button", name="Clear").click()
        assert ink(page) == 0
    assert page.get_by_role("button", name="Thin", exact=True).get_attribute("aria-pressed") == (
        "false"
    )
    assert widths["Thin"] * 1.5 < widths["Medium"] and widths["Medium"] * 1.3 < widths["Thick"]


def test_the_eraser_removes_ink_and_undo_brings_it_back(sized_page, live_server):
    page = sized_page
    page.goto(f"{live_server.url}/draw?model=digits")
    draw(page, SEVEN)
    expect(page.locator("#digit")).to_have_text("7")
    drawn = ink(page)
    eraser = page.get_by_role("button", name="Eraser")
    eraser.click()
    expect(eraser).to_have_attribute("aria-pressed", "true")
    draw(page, SEVEN)
    assert ink(page) < drawn * 0.02
    expect(page.locator("#placeholder")).to_be_visible()  # nothing left to answer
    page.get_by_role("button", name="Undo").click()  # the erasing was one stroke
    assert ink(page) == drawn
    expect(page.locator("#digit")).to_have_text("7")
    page.keyboard.press("e")
    expect(eraser).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Control+z")
    expect(page.locator("#placeholder")).to_be_visible()
    assert ink(page) == 0


def test_an_example_is_drawn_answered_and_undone(sized_page, live_server):
    page = sized_page
    page.goto(f"{live_server.url}/draw?model=digits")
    examples = page.get_by_role("group", name="Try an example").get_by_role("button")
    expect(examples).to_have_count(5)
    draw(page, LINE)
    expect(page.locator("#result")).to_be_visible()
    line_ink = ink(page)
    page.get_by_role("button", name="A handwritten 3").click()
    expect(page.locator("#digit")).to_have_text("3")
    assert ink(page) not in (0, line_ink)
    page.get_by_role("button", name="Undo").click()  # back to the line drawn before it
    expect(page.locator("#digit")).not_to_have_text("3")
    assert ink(page) == line_ink
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_a_sketch_model_page_offers_the_examples_too(page, live_server):
    page.goto(f"{live_server.url}/models/digits-knn")
    page.get_by_role("button", name="A handwritten 7").click()
    expect(page.locator("#digit")).to_have_text("7")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_without_javascript_an_uploaded_digit_is_answered_and_judged(
    browser, live_server, viewport
):
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/draw")
        # Playwright's text and role locators skip <noscript>: its parts are found by id.
        expect(page.get_by_test_id("nojs-message")).to_contain_text("Drawing needs JavaScript")
        expect(page.locator("#pad")).to_be_hidden()  # no canvas that cannot draw
        page.locator("#upload-model").select_option("digits")
        page.locator("#upload-file").set_input_files(EXAMPLES / "7.png")
        page.locator("#upload-form [type=submit]").click()
        expect(page.locator("#digit")).to_have_text("7")
        expect(page.locator("#unsure")).to_be_hidden()
        expect(page.locator("#top3 li")).to_have_count(3)
        expect(page.locator("#bars .prob-row")).to_have_count(10)
        action = page.locator("#feedback-right").get_attribute("action")
        prediction_id = re.fullmatch(r"/predictions/([0-9a-f]{20})/feedback", action).group(1)
        page.get_by_role("button", name="Right", exact=True).click()
        expect(page.get_by_text("Thanks: marked right.")).to_be_visible()
        assert page.url.endswith("/draw?model=digits")
        listed = context.request.get(f"{live_server.url}/api/v1/predictions?model=digits").json()
        judged = next(p for p in listed["predictions"] if p["id"] == prediction_id)
        assert judged["feedback"]["label"] == "7" and judged["feedback"]["is_correct"] is True
    finally:
        context.close()


def test_without_javascript_a_bad_upload_is_a_friendly_message(browser, live_server, tmp_path):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/draw")
        notes = tmp_path / "notes.txt"
        notes.write_text("not a picture")
        page.locator("#upload-file").set_input_files(notes)
        with page.expect_response(f"{live_server.url}/draw") as answered:
            page.locator("#upload-form [type=submit]").click()
        assert answered.value.status == 415
        expect(page.get_by_role("alert")).to_contain_text("notes.txt is not")
        expect(page.locator("#upload-file")).to_be_visible()  # to try another
    finally:
        context.close()
