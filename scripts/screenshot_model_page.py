"""Screenshot for the README: an added tabular model's page, a row filled in and answered.

    .venv/bin/python scripts/screenshot_model_page.py docs/added-model.png

Builds the penguins test model (a scikit-learn pipeline, tests/model_factories.py) into a
throwaway model store, serves it with ``modelport serve`` as a user would, fills in the
form in Debian's Chromium (through Playwright, as the browser tests do) and saves the page.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from model_factories import penguins_model  # noqa: E402

MODEL = "penguins"
ROW = {
    "bill length (mm)": "49.5",
    "flipper length (mm)": "197",
    "body mass (g)": "3800",
    "island": "Dream",
    "sex": "male",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(instance: Path, store: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {
        "MODELPORT_INSTANCE_PATH": str(instance),
        "MODELPORT_MODEL_STORE": str(store),
        "MODELPORT_MODELS": MODEL,
    }
    command = [sys.executable, "-m", "modelport", "serve", "--port", str(port), "--workers", "1"]
    log = open(instance / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit((instance / "server.log").read_text())
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start: " + (instance / "server.log").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "docs" / "added-model.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelport-screenshot-") as tmp:
        instance = Path(tmp)
        penguins_model(instance / "models", MODEL)
        process, url = serve(instance, instance / "models")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
                )
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
            process.terminate()
            process.wait(timeout=30)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
