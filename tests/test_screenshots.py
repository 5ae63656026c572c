"""The README's pictures: each one it shows is in the repository, a real PNG of the size its
name says; and the script that makes the screenshots at least starts. (Making them takes a
server and a browser: that is run by hand, not here.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SCRIPT = REPO / "scripts" / "screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# CSS pixels wide, at a device scale of 1 or 2.
WIDTHS = {"desktop": {1280, 2560}, "phone": {390, 780}}
MAX_SCREENSHOT_BYTES = 200 * 1024


def readme_images() -> list[str]:
    """Local paths of the README's images, Markdown ``![...](path)`` and HTML ``<img src>``."""
    text = README.read_text()
    markdown = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    html = re.findall(r"<img\s[^>]*src=\"([^\"]+)\"", text)
    return [path for path in markdown + html if "://" not in path]


def size_class(path: str) -> str | None:
    found = re.search(r"-(desktop|phone)\.png$", path)
    return found.group(1) if found else None


def test_the_readme_shows_each_page_at_both_sizes():
    screenshots = [path for path in readme_images() if path.startswith("docs/screenshots/")]
    for page in ("home", "draw", "photo", "history", "model-card"):
        for size in WIDTHS:
            assert f"docs/screenshots/{page}-{size}.png" in screenshots
    assert "scripts/screenshots.py" in README.read_text()


@pytest.mark.parametrize("path", readme_images())
def test_each_readme_image_is_a_png_in_the_repository(path):
    file = REPO / path
    assert file.is_file(), f"README.md shows {path}, which is not in the repository"
    assert file.read_bytes().startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    with Image.open(file) as image:
        image.verify()


@pytest.mark.parametrize("path", [p for p in readme_images() if size_class(p)])
def test_each_screenshot_has_its_size_and_stays_small(path):
    file = REPO / path
    with Image.open(file) as image:
        width = image.width
    assert width in WIDTHS[size_class(path)], f"{path} is {width} px wide"
    assert file.stat().st_size <= MAX_SCREENSHOT_BYTES


def test_the_screenshot_script_explains_itself():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "--output" in done.stdout
    assert "docs/screenshots" in done.stdout
