"""The photo page in a real browser: Debian's Chromium uploads the cat and reads the answer."""

from __future__ import annotations

import pytest
from photo_samples import CAT_CLASSES, chelsea_jpeg

pytestmark = pytest.mark.browser


def test_uploading_chelsea_on_the_photo_page_shows_a_cat(page, live_server, tmp_path):
    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(chelsea_jpeg())
    page.goto(f"{live_server.url}/photo")
    page.locator("#file").set_input_files(str(photo))
    page.locator("#result").wait_for(state="visible")
    assert page.locator("#best").inner_text().strip() in CAT_CLASSES
    rows = page.locator("#bars [data-testid=class-row]")
    assert rows.count() == 5
    assert rows.first.locator("[data-testid=class-label]").inner_text() in CAT_CLASSES
    assert rows.first.locator(".bar-percent").inner_text().endswith("%")
    page.wait_for_function("document.querySelector('#preview').naturalWidth === 451")
    assert page.url.endswith("/photo")  # answered in place, without a form POST
    assert "efficientnet-lite0" in page.locator("#meta").inner_text()
