"""Screenshots of Modelport's pages for the README, at a desktop's and a phone's size.

    .venv/bin/python scripts/screenshots.py [--output docs/screenshots]

Starts ``modelport serve`` with the three built-in models on a free port of 127.0.0.1, in a
fresh temporary instance folder, and uses it as a visitor would, in Debian's Chromium through
Playwright: a 7 drawn with the mouse, the example photos classified, a few answers judged
and one corrected, so that the history and the model card have something to show. Then it
saves /, /draw, /photo, /history and /models/digits at 1280x800 and 390x844 as small PNG
files, and stops the server. Nothing is downloaded; it gives up after ten minutes.
"""

from __future__ import annotations

import argparse
import io
import re
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from browser_support import draw as draw_strokes  # noqa: E402
from serving import Server, start  # noqa: E402

MODELS = "digits,digits-knn,efficientnet-lite0"
SERVER_ARGS = ["--workers", "1", "--threads", "4"]
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
TIME_LIMIT_S = 600
ANSWER_TIMEOUT_MS = 30_000
MAX_PNG_BYTES = 150 * 1024
PHONE_BELOW_PX = 768  # Bootstrap's md breakpoint: narrower, the columns stack
CLIP_MARGIN_PX = 12  # around a clip, and above an element scrolled to the top
SETTLE_MS = 300  # for the last layout and image decoding after the answer is in
Clip = dict[str, float]
EXAMPLES = ROOT / "src/modelport/web/static/examples"
# Strokes as fractions of the canvas, drawn with the mouse. A 7: the bar, then the stem.
SEVEN = [[(0.25, 0.22), (0.5, 0.21), (0.74, 0.22), (0.62, 0.45), (0.52, 0.66), (0.46, 0.84)]]
# A 1 with a long flag, which the digits model reads as a 7 (67%): the visitor corrects it.
FLAGGED_ONE = [[(0.3, 0.34), (0.55, 0.15), (0.55, 0.85)]]
# Example digits judged right, for the model card's confusion matrix.
JUDGED_DIGITS = ("0", "3", "5", "8")


def main() -> None:
    args = parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    give_up_after(TIME_LIMIT_S)
    with tempfile.TemporaryDirectory(prefix="modelport-screenshots-") as store:
        server = start(MODELS, Path(store), SERVER_ARGS)
        try:
            take_screenshots(server.url, args.output)
        finally:
            stop(server)
    print(f"saved {len(PAGES) * len(SIZES)} screenshots in {args.output}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "screenshots",
        help="folder for the PNG files (default: docs/screenshots)",
    )
    return parser.parse_args()


def give_up_after(seconds: int) -> None:
    def time_is_up(signum, frame):
        raise TimeoutError(f"the screenshots took more than {seconds} s")

    signal.signal(signal.SIGALRM, time_is_up)
    signal.alarm(seconds)


def stop(server: Server) -> None:
    """SIGTERM to the server's pid, then its temporary instance folder removed."""
    server.stop()
    print(f"stopped the server (pid {server.process.pid})")


def take_screenshots(url: str, output: Path) -> None:
    expect.set_options(timeout=ANSWER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            visitor = seed_history(browser, url)
            for size in SIZES:
                screenshot_size(browser, url, size, visitor, output)
        finally:
            browser.close()


def screenshot_size(browser: Browser, url: str, size: str, visitor: dict, output: Path) -> None:
    """Every page at ``size``. Only /history is seen as the seeded visitor: the drawing and
    the photo made for the other screenshots, by another visitor, stay out of it."""
    seeded = open_context(browser, size, visitor)
    passer_by = open_context(browser, size)
    for name, show in PAGES.items():
        page = (seeded if name == "history" else passer_by).new_page()
        clip = show(page, url)
        save(page, output / f"{name}-{size}.png", clip)
        page.close()
    seeded.close()
    passer_by.close()


def open_context(browser: Browser, size: str, storage_state: dict | None = None) -> BrowserContext:
    """A browser at ``size``, as the visitor of ``storage_state`` (their session cookie)."""
    return browser.new_context(
        **SIZES[size], reduced_motion="reduce", storage_state=storage_state, locale="en-GB"
    )


# Seeding: what a visitor does before the screenshots --------------------------------------


def seed_history(browser: Browser, url: str) -> dict:
    """Predictions and feedback as one visitor, oldest first; returns their cookies."""
    context = open_context(browser, "desktop")
    page = context.new_page()
    for digit in JUDGED_DIGITS:
        prediction = predict_example_digit(page, url, digit)
        send_feedback(page, url, prediction["id"], digit)
    page.goto(f"{url}/photo")
    for photo in ("palace.jpg", "daisy.jpg", "coffee.jpg"):
        classify_example_photo(page, photo)
    mark_right(page)
    page.goto(f"{url}/draw")
    draw(page, SEVEN, "7")
    mark_right(page)
    page.goto(f"{url}/draw")
    correct_a_misread_one(page)
    state = context.storage_state()
    context.close()
    return state


def predict_example_digit(page: Page, url: str, digit: str) -> dict:
    response = page.request.post(
        f"{url}/api/v1/models/digits/predict",
        data=(EXAMPLES / "digits" / f"{digit}.png").read_bytes(),
        headers={"Content-Type": "image/png", "Accept": "application/json"},
    )
    assert response.ok, response.text()
    return response.json()


def send_feedback(page: Page, url: str, prediction_id: str, label: str) -> None:
    response = page.request.post(
        f"{url}/api/v1/predictions/{prediction_id}/feedback", data={"label": label}
    )
    assert response.ok, response.text()


def mark_right(page: Page) -> None:
    feedback = page.locator("#feedback")
    feedback.get_by_role("button", name="Right").click()
    expect(feedback.get_by_role("status")).to_contain_text("marked right")


def correct_a_misread_one(page: Page) -> None:
    draw(page, FLAGGED_ONE)
    if page.locator("#digit").text_content() == "1":
        print("note: the flagged 1 was read right this time: no correction in the history")
        return
    feedback = page.locator("#feedback")
    feedback.get_by_role("button", name="Wrong? It is: …").click()
    feedback.get_by_role("button", name="1", exact=True).click()
    expect(feedback.get_by_role("status")).to_contain_text("recorded as 1")


# The pages, each in the state worth showing; on a phone, scrolled to the part that matters
# or clipped from the whole page (a clip in page coordinates, None for the viewport) ---------


def show_home(page: Page, url: str) -> Clip | None:
    page.goto(url)
    return None


def show_drawn_seven(page: Page, url: str) -> Clip | None:
    """The drawing and its answer: on a phone, taller than the screen, hence a clip."""
    page.goto(f"{url}/draw")
    draw(page, SEVEN, "7")
    if is_phone(page):
        drawing = page.locator("#draw-app .card").first
        return clip_between(page, drawing, page.locator("#feedback"))
    return None


def show_classified_photo(page: Page, url: str) -> Clip | None:
    page.goto(f"{url}/photo")
    classify_example_photo(page, "cat.jpg")
    if is_phone(page):
        scroll_to_top(page.locator("#preview-figure"))
    return None


def show_history(page: Page, url: str) -> Clip | None:
    page.goto(f"{url}/history")
    rows = page.locator("tr[data-prediction-id]")
    expect(rows.first).to_be_visible()
    if is_phone(page):
        scroll_to_top(rows.first)
    return None


def show_model_card(page: Page, url: str) -> Clip | None:
    page.goto(f"{url}/models/digits")
    matrix = page.locator("#confusion-matrix")
    expect(matrix).to_have_js_property("complete", True)
    heading = page.locator("#card-heading")
    if is_phone(page):
        return clip_between(page, heading, page.locator("#confusion-full-size"))
    scroll_to_top(heading)
    return None


PAGES: dict[str, Callable[[Page, str], Clip | None]] = {
    "home": show_home,
    "draw": show_drawn_seven,
    "photo": show_classified_photo,
    "history": show_history,
    "model-card": show_model_card,
}


def draw(page: Page, strokes: list[list[tuple[float, float]]], answer: str = "") -> None:
    """``strokes`` drawn with the mouse; returns once the page has answered (``answer``)."""
    draw_strokes(page, *strokes, steps=6)
    if answer:
        expect(page.locator("#digit")).to_have_text(answer)
    expect(page.locator("#feedback").get_by_role("button", name="Right")).to_be_visible()


def classify_example_photo(page: Page, photo: str) -> None:
    page.locator(f'.example-photo[data-src$="/{photo}"]').click()
    expect(page.locator("#preview-name")).to_contain_text(photo)
    expect(page.locator("#best")).to_have_text(re.compile(r"\S"))
    expect(page.locator("#feedback").get_by_role("button", name="Right")).to_be_visible()


def is_phone(page: Page) -> bool:
    return page.viewport_size["width"] < PHONE_BELOW_PX


def scroll_to_top(element: Locator) -> None:
    """``element`` at the top of the viewport, a margin above it."""
    element.evaluate(
        "(element, margin) => { element.scrollIntoView({block: 'start'}); scrollBy(0, -margin); }",
        CLIP_MARGIN_PX,
    )


def clip_between(page: Page, top: Locator, bottom: Locator) -> Clip:
    """The page's full width from ``top``'s top to ``bottom``'s bottom, with a margin."""
    first, last = page_box(top), page_box(bottom)
    y = max(0, first["y"] - CLIP_MARGIN_PX)
    end = last["y"] + last["height"] + CLIP_MARGIN_PX
    return {"x": 0, "y": y, "width": page.viewport_size["width"], "height": end - y}


def page_box(element: Locator) -> Clip:
    return element.evaluate(
        "element => { const box = element.getBoundingClientRect();"
        " return {x: box.left + scrollX, y: box.top + scrollY,"
        " width: box.width, height: box.height}; }"
    )


# Saving ----------------------------------------------------------------------------------


def save(page: Page, path: Path, clip: Clip | None = None) -> None:
    """The viewport (or ``clip`` of the whole page) as a PNG: as it is if small enough, else
    reduced to 256 colours."""
    page.wait_for_timeout(SETTLE_MS)
    shot = page.screenshot(clip=clip, full_page=clip is not None)
    image = Image.open(io.BytesIO(shot))
    data = png_bytes(image.convert("RGB"))
    if len(data) > MAX_PNG_BYTES:
        data = png_bytes(image.convert("RGB").quantize(256))
    path.write_bytes(data)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {len(data)} bytes")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
