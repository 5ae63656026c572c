"""Screenshot for the README: an added tabular model's page, a row filled in and answered.

    .venv/bin/python scripts/screenshot_model_page.py docs/added-model.png

Builds the penguins test model (a scikit-learn pipeline, tests/model_factories.py) into a
throwaway model store, serves it with ``modelport serve`` as a user would, fills in the
form in Debian's Chromium (through Playwright, as the browser tests do) and saves the page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from model_factories import penguins_model  # noqa: E402
from serving import start  # noqa: E402

MODEL = "penguins"
ROW = {
    "bill length (mm)": "49.5",
    "flipper length (mm)": "197",
    "body mass (g)": "3800",
    "island": "Dream",
    "sex": "male",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "docs" / "added-model.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelport-screenshot-") as tmp:
        store = Path(tmp) / "models"
        penguins_model(store, MODEL)
        server = start(MODEL, store, ["--workers", "1"])
        url = server.url
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(f"{url}/models/{MODEL}")
                for name, value in ROW.items():
                    field = page.locator(f'#tabular-form [name="{name}"]')
                    if field.evaluate("el => el.tagName") == "SELECT":
                        field.select_option(value)
                    else:
                        field.fill(value)
                page.get_by_role("button", name="Predict").click()
                page.locator("#result:not(.d-none)").wait_for()
                page.locator("#feedback button").first.wait_for()
                page.wait_for_timeout(300)
                page.screenshot(path=args.output, full_page=True)
                browser.close()
        finally:
            server.stop()
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
