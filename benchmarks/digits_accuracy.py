"""How well the digit models read handwriting they never saw, sent the way clients send it.

Every held-out digit of ``handwriting-train.npz`` (never trained on) is drawn on a canvas
as a client would (200x200 to 560x560 or non-square, anywhere on it, 35-85% of its
height, thin to thick strokes, black/blue/red/grey ink, transparent or white ground; see
``modelport.training.render``), sent as a PNG data URI to ``POST /api/predict`` with
``"model"`` set, and the plain-text answer compared with the true digit.

    .venv/bin/python benchmarks/digits_accuracy.py                 # Flask test client
    .venv/bin/python benchmarks/digits_accuracy.py --renderings 8      # 2,000 drawings
    .venv/bin/python benchmarks/digits_accuracy.py --url http://127.0.0.1:5000

By default the app is built in-process (``create_app`` with a scratch instance folder and
the bundled models) and driven through its test client, so the real route, decoding and
models run; ``--url`` posts over HTTP to a running server instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from modelport.training import digits_data, render

Post = Callable[[dict], tuple[int, str]]


def flask_poster(instance: Path, models: tuple[str, ...]) -> Post:
    from modelport.app import create_app
    from modelport.config import Settings

    app = create_app(Settings.from_env(instance_path=instance, models=models, log_level="WARNING"))
    logging.getLogger("modelport.requests").setLevel(logging.WARNING)  # no line per request
    client = app.test_client()

    def post(body: dict) -> tuple[int, str]:
        response = client.post("/api/predict", json=body)
        return response.status_code, response.get_data(as_text=True)

    return post


def http_poster(url: str) -> Post:
    endpoint = url.rstrip("/") + "/api/predict"

    def post(body: dict) -> tuple[int, str]:
        request = urllib.request.Request(
            endpoint,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as error:
            return 0, str(error)

    return post


def measure(post: Post, renderings: list[render.Rendering], model: str) -> dict:
    """Accuracy of ``model`` over ``renderings``; a request that fails counts as wrong."""
    correct, failures, wrong = 0, [], Counter()
    started = time.perf_counter()
    for r in renderings:
        status, text = post({"image": r.data_uri, "model": model})
        if status != 200 or not text.strip().isdigit():
            failures.append((status, text[:200]))
            continue
        if int(text) == r.label:
            correct += 1
        else:
            wrong[(r.style, r.ink, r.background, f"{r.canvas[0]}x{r.canvas[1]}")] += 1
    seconds = time.perf_counter() - started
    return {
        "model": model,
        "digits": len(renderings),
        "correct": correct,
        "accuracy": correct / len(renderings),
        "failed_requests": len(failures),
        "failures": failures[:5],
        "misread_by_kind": wrong,
        "ms_per_request": 1000 * seconds / len(renderings),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="post to a running server instead of the test client")
    parser.add_argument("--models", default="digits,digits-knn", help="comma-separated")
    parser.add_argument("--seed", type=int, default=render.RENDER_SEED, help="rendering seed")
    parser.add_argument("--limit", type=int, help="only the first N held-out digits")
    parser.add_argument(
        "--renderings", type=int, default=1, help="draw each digit N times (seeds S, S+1, ...)"
    )
    parser.add_argument("--details", action="store_true", help="list misreads by kind")
    args = parser.parse_args(argv)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())

    held_out = digits_data.held_out_split()
    renderings = [
        drawn
        for seed in range(args.seed, args.seed + args.renderings)
        for drawn in render.render_set(held_out.images, held_out.labels, seed, args.limit)
    ]
    print(
        f"{len(renderings)} renderings of {len(held_out)} held-out digits as canvas PNGs "
        f"(seeds {args.seed}..{args.seed + args.renderings - 1}); "
        f"posting to {args.url or 'the Flask test client'}"
    )
    with tempfile.TemporaryDirectory(prefix="modelport-bench-") as scratch:
        post = http_poster(args.url) if args.url else flask_poster(Path(scratch), models)
        results = [measure(post, renderings, model) for model in models]
    failed = 0
    for result in results:
        failed += result["failed_requests"]
        print(
            f"{result['model']:<12} {result['accuracy']:7.2%}  "
            f"({result['correct']}/{result['digits']} correct, "
            f"{result['failed_requests']} failed requests, "
            f"{result['ms_per_request']:.1f} ms per request)"
        )
        for status, text in result["failures"]:
            print(f"    failed: HTTP {status}: {text}")
        if args.details:
            for kind, count in result["misread_by_kind"].most_common():
                print(f"    misread {count}x: {' / '.join(kind)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
