"""The photo page in a real browser: Debian's Chromium uploads the cat and reads the answer."""

from __future__ import annotations

import pytest
from photo_samples import CAT_CLASSES, chelsea_jpeg
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def upload_chelsea(page, url: str, folder) -> None:
    photo = folder / "chelsea.jpg"
    photo.write_bytes(chelsea_jpeg())
    page.goto(f"{url}/photo")
    page.locator("#file").set_input_files(str(photo))
    page.locator("#result").wait_for(state="visible")


def test_uploading_chelsea_on_the_photo_page_shows_a_cat(page, live_server, tmp_path):
    upload_chelsea(page, live_server.url, tmp_path)
    assert page.locator("#best").inner_text().strip() in CAT_CLASSES
    rows = page.locator("#bars [data-testid=class-row]")
    assert rows.count() == 5
    assert rows.first.locator("[data-testid=class-label]").inner_text() in CAT_CLASSES
    assert rows.first.locator(".bar-percent").inner_text().endswith("%")
    expect(page.locator("#preview")).to_have_js_property("naturalWidth", 451)
    assert page.url.endswith("/photo")  # answered in place, without a form POST
    assert "efficientnet-lite0" in page.locator("#meta").inner_text()


def test_a_wrong_photo_answer_is_corrected_by_searching_the_classes(page, live_server, tmp_path):
    upload_chelsea(page, live_server.url, tmp_path)
    prediction_id = page.locator("#result").get_attribute("data-prediction-id")
    page.get_by_role("button", name="Wrong? It is: …").click()
    search = page.get_by_label("The right class")
    search.fill("lynx")
    search.press("Enter")
    page.get_by_text("Thanks: recorded as lynx.").wait_for()
    listed = page.request.get(f"{live_server.url}/api/v1/predictions?corrected=true").json()
    mine = [p for p in listed["predictions"] if p["id"] == prediction_id]
    assert mine and mine[0]["feedback"]["label"] == "lynx"
