"""Issue "A person's first hour" in Chromium: doubt, the photo form, feedback focus, phones."""

from __future__ import annotations

import re

import pytest
from photo_samples import coffee_jpeg, encode, truncated_jpeg
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def choose(page, url: str, folder, name: str, data: bytes) -> None:
    photo = folder / name
    photo.write_bytes(data)
    if not page.url.endswith("/photo"):
        page.goto(f"{url}/photo")
    page.locator("#file").set_input_files(str(photo))


def grey_png() -> bytes:
    return encode(Image.new("RGB", (224, 224), (128, 128, 128)), "PNG")


def stored_for(page, url: str, prediction_id: str) -> int:
    listed = page.request.get(f"{url}/api/v1/predictions?limit=100").json()["predictions"]
    return sum(1 for p in listed if p["id"] == prediction_id)


def test_a_doubtful_photo_is_marked_not_sure_and_a_clear_one_is_not(page, live_server, tmp_path):
    choose(page, live_server.url, tmp_path, "grey.png", grey_png())
    expect(page.locator("#result")).to_be_visible()
    expect(page.get_by_test_id("unsure")).to_be_visible()
    expect(page.get_by_test_id("unsure")).to_have_text("not sure")
    choose(page, live_server.url, tmp_path, "coffee.jpg", coffee_jpeg())
    expect(page.locator("#best")).to_have_text("espresso")
    expect(page.get_by_test_id("unsure")).to_be_hidden()


def test_with_javascript_the_drop_zone_replaces_the_native_input(page, live_server):
    page.goto(f"{live_server.url}/photo")
    expect(page.locator("#dropzone")).to_be_visible()
    expect(page.locator("#file")).to_be_hidden()
    expect(page.locator("#submit")).to_be_visible()


def test_classify_after_the_automatic_answer_stores_no_duplicate(page, live_server, tmp_path):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    choose(page, live_server.url, tmp_path, "coffee.jpg", coffee_jpeg())
    expect(page.locator("#result")).to_have_attribute("data-prediction-id", re.compile(r".+"))
    first = page.locator("#result").get_attribute("data-prediction-id")
    expect(page.locator("#submit")).to_be_hidden()  # answered: nothing more to press
    page.locator("#photo-form").evaluate("form => form.requestSubmit()")
    page.wait_for_timeout(300)
    assert sum("/predict" in u for u in requests) == 1
    assert page.locator("#result").get_attribute("data-prediction-id") == first
    assert stored_for(page, live_server.url, first) == 1


def test_the_chosen_photo_can_be_removed(page, live_server, tmp_path):
    choose(page, live_server.url, tmp_path, "coffee.jpg", coffee_jpeg())
    expect(page.locator("#result")).to_be_visible()
    page.get_by_role("button", name="Remove photo").click()
    expect(page.locator("#preview-figure")).to_be_hidden()
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#placeholder")).to_be_visible()
    expect(page.locator("#submit")).to_be_visible()
    assert page.locator("#file").evaluate("input => input.files.length") == 0
    choose(page, live_server.url, tmp_path, "coffee.jpg", coffee_jpeg())  # again, same file
    expect(page.locator("#best")).to_have_text("espresso")


def test_a_damaged_photo_shows_the_error_without_a_broken_preview(page, live_server, tmp_path):
    choose(page, live_server.url, tmp_path, "damaged.jpg", truncated_jpeg())
    expect(page.get_by_test_id("error")).to_be_visible()
    expect(page.locator("#preview-figure")).to_be_hidden()
    expect(page.locator("#result")).to_be_hidden()
    # The browser logs the API's refusal (HTTP 422) as a console error: expected here.
    page.console_problems[:] = [p for p in page.console_problems if "status of 422" not in p]


def test_wrong_puts_the_focus_in_the_class_search(page, live_server, tmp_path):
    choose(page, live_server.url, tmp_path, "coffee.jpg", coffee_jpeg())
    page.get_by_role("button", name="Wrong? It is: …").click()
    search = page.get_by_label("The right class")
    expect(search).to_be_focused()
    page.keyboard.type("cup")
    expect(search).to_have_value("cup")


@pytest.mark.parametrize("path", ["/photo", "/draw"])
def test_phones_see_no_desktop_only_hints(browser, live_server, path):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}{path}")
        hints = phone.get_by_test_id("desktop-hint")
        expect(hints).to_have_count(1)
        expect(hints).to_be_hidden()
        expect(phone.get_by_text("Ctrl")).to_be_hidden()
    finally:
        context.close()


def test_desktops_still_see_the_hints(page, live_server):
    page.goto(f"{live_server.url}/photo")
    expect(page.get_by_test_id("desktop-hint")).to_be_visible()
