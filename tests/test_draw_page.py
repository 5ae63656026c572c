"""The drawing page in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import pytest
from browser_support import SEVEN, draw
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CROSS = [[(0.22, 0.22), (0.78, 0.78)], [(0.78, 0.22), (0.22, 0.78)]]  # no digit at all


def draw_seven(page) -> None:
    draw(page, SEVEN)


def test_drawing_a_seven_with_the_mouse_shows_seven(page, live_server):
    page.goto(f"{live_server.url}/draw")
    draw_seven(page)
    digit = page.locator("#digit")
    digit.wait_for(state="visible")
    expect(digit).not_to_have_text("")  # matchers, not eval: the CSP allows no eval
    assert digit.inner_text().strip() == "7"
    assert page.locator("#bars .prob-row").count() == 10
    assert page.locator("#top3 li").count() == 3
    assert page.locator("#unsure").is_hidden()
    expect(page.locator("#preview")).to_have_js_property("naturalWidth", 28)
    assert "digits" in page.locator("#meta").inner_text()


def test_a_drawing_that_is_no_digit_is_answered_not_sure(page, live_server):
    page.goto(f"{live_server.url}/draw")
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/predict") else None)
    draw(page, *CROSS)
    seen = -1
    while seen != len(answers):  # the answer to the whole cross is the last one
        seen = len(answers)
        page.wait_for_timeout(500)
    assert answers[-1].json()["top"][0]["score"] < 0.6
    page.locator("#unsure").wait_for(state="visible")
    assert page.locator("#unsure").inner_text() == "not sure"
    assert page.locator("#top3 li").count() == 3


def test_undo_and_clear_bring_back_the_empty_state(page, live_server):
    page.goto(f"{live_server.url}/draw")
    draw_seven(page)
    page.locator("#result").wait_for(state="visible")
    page.get_by_role("button", name="Undo").click()
    page.locator("#placeholder").wait_for(state="visible")
    draw_seven(page)
    page.locator("#result").wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator("#placeholder").wait_for(state="visible")
    assert page.locator("#result").is_hidden()


def test_the_classic_knn_can_be_chosen(page, live_server):
    page.goto(f"{live_server.url}/draw?model=digits-knn")
    draw_seven(page)
    expect(page.locator("#meta")).to_contain_text("digits-knn")
    expect(page.locator("#preview")).to_have_js_property("naturalWidth", 8)


def test_the_page_does_not_scroll_while_drawing_on_a_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/draw")
        touch_action = page.eval_on_selector("#pad", "el => getComputedStyle(el).touchAction")
        assert touch_action == "none"
        width = page.eval_on_selector("#pad", "el => el.getBoundingClientRect().width")
        assert 200 <= width <= 390
    finally:
        context.close()


def test_model_list_links_to_the_drawing_page(page, live_server):
    page.goto(live_server.url)
    page.get_by_role("link", name="Draw a digit").first.click()
    page.wait_for_url("**/draw**")
    assert page.locator("#pad").is_visible()
