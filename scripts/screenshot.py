"""Screenshots for the README: a running server's /draw with a 7 drawn, or any other page.

    .venv/bin/python scripts/screenshot.py http://127.0.0.1:5000/draw docs/draw-page.png

Uses Debian's Chromium through Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright

SEVEN = [(0.28, 0.22), (0.45, 0.22), (0.72, 0.22), (0.62, 0.45), (0.52, 0.65), (0.45, 0.82)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("output")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=760)
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.url)
        if args.url.rstrip("/").endswith("/draw"):
            box = page.locator("#pad").bounding_box()
            x, y, w, h = box["x"], box["y"], box["width"], box["height"]
            page.mouse.move(x + w * SEVEN[0][0], y + h * SEVEN[0][1])
            page.mouse.down()
            for fx, fy in SEVEN[1:]:
                page.mouse.move(x + w * fx, y + h * fy, steps=8)
            page.mouse.up()
            page.locator("#result:not(.d-none)").wait_for()
            page.wait_for_timeout(500)
        page.screenshot(path=args.output)
        browser.close()


if __name__ == "__main__":
    main()
