"""Digits under load: ``POST /api/predict`` with a 280x280 canvas PNG (the classic
contract), every prediction recorded, against ``modelport serve`` as it starts by default.

    .venv/bin/python benchmarks/load_digits.py [--connections 16] [--seconds 20]
        [--store DIR] [--serve-args "--workers 2 --threads 4"]

Target: at least 800 requests/s at 16 connections with p99 under 30 ms, 2 cores.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shlex
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
import serving  # noqa: E402


def canvas_png() -> bytes:
    """A '7' drawn as the page's canvas sends it: black ink on a transparent 280x280."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(70, 60), (210, 60), (120, 230)], fill=(0, 0, 0, 255), width=18, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--model", default="digits")
    parser.add_argument("--store", type=Path, default=None, help="model store [instance's]")
    parser.add_argument("--serve-args", default="", help="extra options for modelport serve")
    options = parser.parse_args()
    body = json.dumps(
        {"image": "data:image/png;base64," + base64.b64encode(canvas_png()).decode()}
    ).encode()
    store = options.store or Path(serving.tempfile.mkdtemp(prefix="modelport-store-"))
    server = serving.start(options.model, store, shlex.split(options.serve_args))
    try:
        url = server.url + "/api/predict"
        result, figures = serving.drive(
            server, url, body, "application/json", options.connections, options.seconds
        )
        serving.report(
            f"digits: POST /api/predict, {len(body)} B JSON, {options.connections} connections,"
            f" {options.seconds} s",
            {"requests/s": round(result.requests_per_s)} | figures,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
